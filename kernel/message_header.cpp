// SPDX-License-Identifier: MIT
#include "kernel/message_header.hpp"

#include "kernel/json_writer.hpp"

#include <atomic>
#include <cstdio>
#include <random>

namespace atrium
{
    namespace
    {
        std::string random_prefix()
        {
            std::random_device device;
            char buffer[33];
            for (int i = 0; i < 4; ++i)
            {
                std::snprintf(buffer + 8 * i, 9, "%08x", device());
            }
            return std::string(buffer, 32);
        }

        const std::string& id_prefix()
        {
            static const std::string prefix = random_prefix() + "_";
            return prefix;
        }

        std::atomic<unsigned long long> g_next_id{1};
    }

    header_text make_message_header_text(const std::string& msg_type, const std::string& username,
                                         const std::string& session)
    {
        header_text header;
        header.msg_id = id_prefix() + std::to_string(g_next_id.fetch_add(1));
        std::string& out = header.json;
        out.reserve(160 + msg_type.size() + username.size() + session.size());
        // Keys in nlohmann's (sorted) order, so the text reads as make_message_header's dump does.
        out.append("{\"date\":\"").append(iso8601_utc_now()).append("\",\"msg_id\":\"").append(header.msg_id);
        out.append("\",\"msg_type\":");
        write_json_string(msg_type, out);
        out.append(",\"session\":");
        write_json_string(session, out);
        out.append(",\"username\":");
        write_json_string(username, out);
        out.append(",\"version\":\"5.3\"}");
        return header;
    }

    nlohmann::json make_message_header(const std::string& msg_type, const std::string& username,
                                       const std::string& session)
    {
        return {{"msg_id", id_prefix() + std::to_string(g_next_id.fetch_add(1))},
                {"msg_type", msg_type},
                {"username", username},
                {"session", session},
                {"date", iso8601_utc_now()},
                {"version", "5.3"}};
    }
}
