// SPDX-License-Identifier: MIT
#include "kernel/host/front_rewrite.hpp"

#include "kernel/json_writer.hpp"
#include "kernel/wire_codec.hpp"

namespace atrium
{
    std::optional<rewritten_request> rewrite_request(std::string_view header, std::string_view metadata,
                                                     const front_identity& front, const std::string& host_msg_id)
    {
        auto parsed_header = parse_json_object(header);
        auto parsed_metadata = parse_json_object(metadata);
        if (!parsed_header || !parsed_metadata)
            return std::nullopt;
        auto msg_type = parsed_header->find("msg_type");
        if (msg_type == parsed_header->end() || !msg_type->is_string())
            return std::nullopt;
        rewritten_request rewritten;
        rewritten.msg_type = msg_type->get<std::string>();
        (*parsed_header)["msg_id"] = host_msg_id;
        (*parsed_header)["username"] = front.user;
        (*parsed_metadata)["atrium_note"] = front.kernel_id;
        rewritten.header = to_json(*parsed_header);
        rewritten.metadata = to_json(*parsed_metadata);
        return rewritten;
    }

    std::string parent_msg_id(std::string_view parent_header)
    {
        auto parsed = parse_json_object(parent_header);
        if (!parsed)
            return {};
        auto id = parsed->find("msg_id");
        return id != parsed->end() && id->is_string() ? id->get<std::string>() : std::string();
    }
}
