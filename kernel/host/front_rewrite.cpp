// SPDX-License-Identifier: MIT
#include "kernel/host/front_rewrite.hpp"

#include "kernel/json_writer.hpp"
#include "kernel/wire_codec.hpp"

namespace atrium
{
    namespace
    {
        const std::string msg_id_prefix = "atrium-host.";
    }

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

    std::string make_host_msg_id(std::uint64_t front, std::uint64_t sequence, std::uint64_t tag)
    {
        static const char hex[] = "0123456789abcdef";
        std::string id = msg_id_prefix + std::to_string(front) + "." + std::to_string(sequence) + "-";
        for (int shift = 60; shift >= 0; shift -= 4)
            id += hex[(tag >> shift) & 15];
        return id;
    }

    std::uint64_t front_of_host_msg_id(const std::string& host_msg_id)
    {
        if (host_msg_id.compare(0, msg_id_prefix.size(), msg_id_prefix) != 0)
            return 0;
        const std::size_t start = msg_id_prefix.size();
        const std::size_t dot = host_msg_id.find('.', start);
        if (dot == std::string::npos || dot == start || dot - start > 19)
            return 0;
        std::uint64_t value = 0;
        for (std::size_t i = start; i < dot; ++i)
        {
            if (host_msg_id[i] < '0' || host_msg_id[i] > '9')
                return 0;
            value = value * 10 + static_cast<std::uint64_t>(host_msg_id[i] - '0');
        }
        return value;
    }
}
