// SPDX-License-Identifier: MIT
#include "kernel/message_header.hpp"

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
