// SPDX-License-Identifier: MIT
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace atrium
{
    /// A message header as the protocol defines it. Ids are a random per-process prefix plus a counter (as
    /// jupyter_client makes them): unique, and far cheaper than xeus's make_header, which reseeds libuuid's
    /// generator for every message and costs several microseconds four times per request.
    nlohmann::json make_message_header(const std::string& msg_type, const std::string& username,
                                       const std::string& session);

    /// ISO 8601 UTC with microseconds, e.g. `2026-11-22T04:50:01.123456Z`.
    std::string iso8601_utc_now();
}
