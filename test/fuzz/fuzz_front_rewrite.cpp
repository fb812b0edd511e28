// SPDX-License-Identifier: MIT
// What a host's front does to a client's frames before the host's kernel sees them (kernel/host/front_rewrite):
// whatever the client sends, the rewrite either refuses it or yields a header and metadata that parse back with
// the front's msg_id, user and note and the client's msg_type; the parent msg_id read from a kernel's message is
// the top-level one nlohmann finds; a host msg_id always names the front that made it.
// Input: parts separated by NUL: header, metadata, parent header; a 4th part's first 8 bytes give a front number.
#include "fuzz_input.hpp"
#include "kernel/host/front_rewrite.hpp"
#include "kernel/wire_codec.hpp"

#include <nlohmann/json.hpp>

using namespace atrium;
using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    auto parts = fuzz::split_parts(data, size);
    parts.resize(std::max<std::size_t>(parts.size(), 4));
    const front_identity front{"k-1", "alice"};
    auto rewritten = rewrite_request(parts[0], parts[1], front, "atrium-host.1.1");
    auto header = parse_json_object(parts[0]);
    auto metadata = parse_json_object(parts[1]);
    const bool acceptable = header && metadata && header->contains("msg_type") && (*header)["msg_type"].is_string();
    fuzz::require(bool(rewritten) == acceptable, "refused exactly when the header or metadata is unusable");
    if (rewritten)
    {
        json h = json::parse(rewritten->header, nullptr, false);
        json m = json::parse(rewritten->metadata, nullptr, false);
        fuzz::require(h.is_object() && m.is_object(), "the rewrite is JSON objects");
        fuzz::require(h["msg_id"] == "atrium-host.1.1" && h["username"] == "alice", "the front's msg_id and user");
        fuzz::require(h["msg_type"] == (*header)["msg_type"] && rewritten->msg_type == h["msg_type"], "msg_type kept");
        fuzz::require(m["atrium_note"] == "k-1", "the front's note");
    }
    const std::string parent = parent_msg_id(parts[2]);
    auto parsed_parent = parse_json_object(parts[2]);
    const bool has_id = parsed_parent && parsed_parent->contains("msg_id") && (*parsed_parent)["msg_id"].is_string();
    fuzz::require(parent == (has_id ? (*parsed_parent)["msg_id"].get<std::string>() : std::string()),
                  "the parent's top-level msg_id");
    std::uint64_t number = 0;
    for (std::size_t i = 0; i < 8 && i < parts[3].size(); ++i)
        number = number << 8 | static_cast<unsigned char>(parts[3][i]);
    number %= 10000000000000000000ULL; // 19 digits at most, as the hub's counter never reaches
    fuzz::require(front_of_host_msg_id(make_host_msg_id(number, number + 1, number * 7)) == number, "a msg_id names its front");
    front_of_host_msg_id(parts[3]);
    return 0;
}
