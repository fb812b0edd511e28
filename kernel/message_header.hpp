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

    /// The same header as JSON text, written directly: the kernel's own messages never need the header as an
    /// object, and building then serialising one cost ~13k instructions a message (a fifth of a `pass` round
    /// trip's, four messages per trip).
    struct header_text
    {
        std::string json;
        std::string msg_id;
    };
    header_text make_message_header_text(const std::string& msg_type, const std::string& username,
                                         const std::string& session);
}
