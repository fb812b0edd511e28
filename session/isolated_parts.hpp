// SPDX-License-Identifier: MIT
// Private to isolated_context.cpp and isolated_relay.cpp: what both halves of the class use.
#pragma once

#include "common/reply_type.hpp"
#include "session/client_request.hpp"
#include "session/steady_ms.hpp"

#include <chrono>
#include <cstdint>
#include <string>

namespace atrium::isolated_parts
{
    using clock = std::chrono::steady_clock;
    inline constexpr int crash_loop_limit = 5;
    inline constexpr auto heartbeat_period = std::chrono::seconds(1);
    inline constexpr auto heartbeat_timeout = std::chrono::seconds(10);

    inline nl::json execute_message(std::uint64_t id, const client_request& request)
    {
        return {{"type", "execute"}, {"id", id}, {"header", request.header()}, {"content", request.content()}};
    }

    inline std::string reply_type_of(const client_request& request)
    {
        return reply_type_for(request.header().value("msg_type", ""));
    }
}
