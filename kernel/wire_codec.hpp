// SPDX-License-Identifier: MIT
#pragma once

#include "common/message_signer.hpp"

#include <xeus/xmessage.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atrium
{
    using frame_list = std::vector<std::string>;

    /// Either a message that passed every check, or the reason it was refused.
    struct decode_result
    {
        std::optional<xeus::xmessage> message;
        std::string error;
    };

    /// Turns raw ZeroMQ frames into a message. Frames are checked before anything is parsed: the
    /// delimiter and all four JSON frames must be present, the signature must verify (in constant time)
    /// and must not be a replay, and JSON nesting is bounded so a hostile frame cannot exhaust the stack.
    decode_result decode_message(frame_list frames, const message_signer& signer, replay_guard& replays);

    frame_list encode_message(const xeus::xmessage& message, const message_signer& signer);
    frame_list encode_pub_message(const xeus::xpub_message& message, const message_signer& signer);

    /// A JSON object frame, nesting bounded (max_json_depth); nullopt for anything else.
    std::optional<nl::json> parse_json_object(std::string_view text);

    /// True when brackets outside JSON strings nest deeper than `max_depth`.
    bool nesting_exceeds(std::string_view json, int max_depth);

    inline constexpr std::string_view delimiter = "<IDS|MSG>";
    inline constexpr int max_json_depth = 256;
}
