// SPDX-License-Identifier: MIT
// request_problem on arbitrary JSON, and what it promises when it accepts: every bounded field is in bounds,
// so a comm id can be stored in a xeus guid and numbers fit what the kernel converts them to.
// Input: header, parent header, metadata and content JSON separated by NUL; a missing part is `{}`.
#include "fuzz_input.hpp"
#include "kernel/request_check.hpp"

#include <xeus/xguid.hpp>

using namespace atrium;
using nlohmann::json;

namespace
{
    json parse(const std::string& text)
    {
        return json::parse(text.empty() ? std::string("{}") : text, nullptr, /*allow_exceptions=*/false);
    }

    void require_in(const json& content, const char* name, std::int64_t low, std::int64_t high)
    {
        auto it = content.find(name);
        if (it == content.end() || it->is_null())
            return;
        fuzz::require(it->is_number_integer(), "an accepted number is an integer");
        if (it->is_number_unsigned())
            fuzz::require(it->get<std::uint64_t>() <= static_cast<std::uint64_t>(high), "accepted number in range");
        else
            fuzz::require(it->get<std::int64_t>() >= low && it->get<std::int64_t>() <= high, "accepted number in range");
    }
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    auto parts = fuzz::split_parts(data, size);
    parts.resize(4);
    json header = parse(parts[0]);
    json parent = parse(parts[1]);
    json metadata = parse(parts[2]);
    json content = parse(parts[3]);
    if (header.is_discarded() || parent.is_discarded() || metadata.is_discarded() || content.is_discarded())
        return 0;
    std::string problem = request_problem(header, parent, metadata, content);
    if (!problem.empty())
    {
        fuzz::require(problem.front() == '[', "a refusal starts with an error id");
        return 0;
    }
    const std::string msg_type = header.at("msg_type").get<std::string>();
    fuzz::require(!msg_type.empty() && msg_type.size() <= limits::header_field_length, "msg_type bounded");
    for (const auto* h : {&header, &parent})
    {
        for (const char* name : {"msg_id", "session", "username"})
        {
            // What the kernel reads with json::value(name, "") must not throw.
            std::string value = h->value(name, json()).is_null() ? "" : h->value(name, "");
            fuzz::require(value.size() <= limits::header_field_length, "header field bounded");
        }
    }
    if (msg_type == "comm_open" || msg_type == "comm_msg" || msg_type == "comm_close")
    {
        const auto& id = content.at("comm_id").get_ref<const std::string&>();
        fuzz::require(!id.empty() && id.size() <= limits::guid_length, "comm id fits a guid");
        xeus::xguid guid(id); // what xeus does with it
        fuzz::require(std::string(guid) == id, "the guid holds the whole id");
    }
    if (msg_type == "complete_request" || msg_type == "inspect_request")
    {
        std::int64_t code = content.contains("code") && content["code"].is_string()
                                ? static_cast<std::int64_t>(content["code"].get_ref<const std::string&>().size())
                                : 0;
        require_in(content, "cursor_pos", 0, code);
    }
    if (msg_type == "history_request")
    {
        require_in(content, "n", 0, limits::history_count);
        for (const char* name : {"session", "start", "stop"})
            require_in(content, name, -limits::history_index, limits::history_index);
    }
    if (msg_type == "execute_request")
    {
        fuzz::require(content.at("code").get_ref<const std::string&>().size() <= limits::code_length, "code bounded");
        (void)content.value("silent", false);
        (void)content.value("store_history", true);
    }
    return 0;
}
