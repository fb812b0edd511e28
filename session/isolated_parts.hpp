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

    /// `cell` numbers the cells sent to one worker, 1, 2, 3 ...: the worker runs them in that order. (The wire
    /// numbers every message on one channel in its signature, common/channel_mac.hpp.)
    inline nl::json execute_message(std::uint64_t id, std::uint64_t cell, const client_request& request)
    {
        return {{"type", "execute"},
                {"id", id},
                {"cell", cell},
                {"header", request.header()},
                {"content", request.content()}};
    }

    inline std::string reply_type_of(const client_request& request)
    {
        return reply_type_for(request.header().value("msg_type", ""));
    }
}
