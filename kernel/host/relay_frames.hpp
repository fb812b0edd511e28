// SPDX-License-Identifier: MIT
#pragma once

#include "common/message_signer.hpp"

#include <zmq.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace atrium
{
    /// One multipart message waiting on `socket`; empty when none is.
    std::vector<zmq::message_t> receive_parts(zmq::socket_t& socket);
    /// Sends `parts` as one message. Frames relayed unchanged (content, buffers: megabytes of output) are the very
    /// messages received, never copied.
    void send_parts(zmq::socket_t& socket, std::vector<zmq::message_t>& parts);

    std::string text_of(const zmq::message_t& part);
    std::string_view view_of(const zmq::message_t& part);
    zmq::message_t message_of(std::string_view text);
    /// 64 random bits (getrandom): unpredictable to the code cells run.
    std::uint64_t random_tag();
    /// `<IDS|MSG>`
    bool is_delimiter(const zmq::message_t& part);
    /// Appends a message a front writes itself (iopub_welcome, a shutdown's answer): its own header under the
    /// front's `session_id`, metadata `{}`, signed with the front's key.
    void append_front_message(std::vector<std::string>& frames, const message_signer& signer,
                              const std::string& session_id, const std::string& msg_type, const std::string& parent,
                              const std::string& content);
}
