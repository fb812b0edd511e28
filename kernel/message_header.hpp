// SPDX-License-Identifier: MIT
#pragma once

#include "common/utc_time.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace atrium
{
    /// A message header as the protocol defines it. Ids are a random per-process prefix plus a counter (as
    /// jupyter_client makes them): unique, and far cheaper than xeus's make_header, which reseeds libuuid's
    /// generator for every message and costs several microseconds four times per request.
    nlohmann::json make_message_header(const std::string& msg_type, const std::string& username,
                                       const std::string& session);
}
