// SPDX-License-Identifier: MIT
#pragma once

#include <string_view>

namespace atrium::error_id
{
    // Ids of the refusals a client can cause with what it sends. Tests and users quote them, so they are
    // spelled once, here.

    /// A routing identity (the frames before `<IDS|MSG>`) is longer than xeus can store, or too many of them.
    inline constexpr std::string_view wire_bad_identity = "[wire.bad_identity]";
    /// A header (or parent header) field has the wrong type or is longer than allowed.
    inline constexpr std::string_view wire_bad_header = "[wire.bad_header]";
    /// A content field has the wrong type.
    inline constexpr std::string_view bad_content = "[protocol.bad_content]";
    /// A content string or collection is larger than allowed.
    inline constexpr std::string_view too_long = "[protocol.too_long]";
    /// A content number is outside the range the protocol gives it.
    inline constexpr std::string_view out_of_range = "[protocol.out_of_range]";
    /// A message type that does not belong on the channel it came in on (e.g. execute_request on control).
    inline constexpr std::string_view wrong_channel = "[protocol.wrong_channel]";
    /// A comm message's `comm_id` is missing, not a string, empty or longer than a xeus guid holds.
    inline constexpr std::string_view comm_bad_id = "[comm.bad_id]";
    /// A comm message's `target_name` is missing, not a string or too long.
    inline constexpr std::string_view comm_bad_target = "[comm.bad_target]";

    // Ids of what the kernel logs about its worker template (session/worker/worker_template.hpp).

    /// The template could not import ATRIUM_PRELOAD's modules (or started no Python): workers are spawned plainly.
    inline constexpr std::string_view worker_preload = "[worker.preload]";
    /// The template did not fork a worker (it died, hung or refused): that worker is spawned plainly.
    inline constexpr std::string_view worker_template = "[worker.template]";
}
