// SPDX-License-Identifier: MIT
// Input: the JSON header of a message from an isolated worker (after worker_wire has verified and parsed it).
// Whatever worker_message_check passes, the kernel's relay then reads without further checks; a read that throws
// there would end the kernel (the relay's thread) or lose a reply. So: the checks never throw, and a header
// they pass survives every typed read the kernel makes of a message of its type.
#include "common/queue_rules.hpp"
#include "session/worker_message_check.hpp"
#include "test/fuzz/fuzz_input.hpp"

#include <cstdint>
#include <string>

using namespace atrium;
using json = nlohmann::json;

namespace
{
    /// The reads of session/isolated_relay.cpp and isolated_pipeline.cpp, by message type.
    void read_as_the_relay_does(const json& header)
    {
        const std::string type = header["type"].get<std::string>();
        header.value("q", std::uint64_t{0});
        if (type == "publish")
        {
            header["msg_type"].get<std::string>();
            header["parent"].value("msg_id", std::string());
            header["content"].items();
            header["metadata"].items();
            header.value("cell_id", std::uint64_t{0});
        }
        else if (type == "input_request")
        {
            header.value("prompt", std::string());
            header.value("password", false);
            header.value("cell_id", std::uint64_t{0});
        }
        else if (type == "reply" || type == "call" || type == "comm_handled")
        {
            header["id"].get<std::uint64_t>();
            if (type == "reply")
                header["content"].items();
            if (type == "call")
                header.value("op", std::string()), header.value("args", json::object());
        }
        else if (type == "comm_opened" || type == "comm_closed")
        {
            header["comm_id"].get<std::string>();
            if (type == "comm_opened")
                header["target_name"].get<std::string>();
        }
        else if (type == "comm_target")
        {
            header["target_name"].get<std::string>();
        }
    }

    /// The reads of a cell's reply on the cells channel (isolated_pipeline.cpp).
    void read_as_the_lane_does(const json& header)
    {
        header["id"].get<std::uint64_t>();
        header.value("after", std::uint64_t{0});
        header.value("paused", false);
        const json& content = header["content"];
        content["status"].get<std::string>();
        queue_rules::stops_queue(json::object(), content);
        queue_rules::asks_to_end(content);
    }
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    json header = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
    if (header.is_discarded())
        return 0;
    std::string problem, reply_problem;
    try
    {
        problem = worker_message_check::problem(header);
        reply_problem = worker_message_check::reply_problem(header);
    }
    catch (const std::exception&)
    {
        fuzz::require(false, "a check threw");
    }
    try
    {
        if (problem.empty() && header.is_object() && header.contains("type"))
            read_as_the_relay_does(header);
    }
    catch (const std::exception&)
    {
        fuzz::require(false, "a message the check passed made the relay's reads throw");
    }
    try
    {
        if (reply_problem.empty())
            read_as_the_lane_does(header);
    }
    catch (const std::exception&)
    {
        fuzz::require(false, "a reply the check passed made the lane's reads throw");
    }
    return 0;
}
