// SPDX-License-Identifier: MIT
#pragma once

#include "common/message_signer.hpp"
#include "kernel/wire_codec.hpp"

#include <nlohmann/json.hpp>
#include <xeus/xmessage.hpp>

#include <memory>
#include <mutex>
#include <string>

namespace atrium
{
    /// A message the kernel sends, with its header and parent header already JSON text. Every message a request
    /// causes (busy, execute_input, output, the reply, idle) shares one parent text: it is written once, not
    /// copied as an object into each message and serialised again for each (kernel/parent_text.hpp).
    struct outgoing_message
    {
        frame_list routing; ///< the client's routing identities, or the one iopub topic
        std::string header;
        std::shared_ptr<const std::string> parent;
        nlohmann::json metadata;
        nlohmann::json content;
        xeus::buffer_sequence buffers;
    };

    /// A message made by xeus's core (kernel_info, comm replies...), as the kernel's own messages are.
    outgoing_message outgoing_from(const xeus::xmessage_base& message, frame_list routing);

    /// The frames of `message`, signed: routing, delimiter, signature, header, parent, metadata, content, buffers.
    frame_list encode_outgoing(outgoing_message&& message, const message_signer& signer);

    /// The JSON text of parent headers, remembered for the latest one: the messages of one request all pass the
    /// same parent, so comparing with the one before is all most of them cost. Any thread.
    class parent_text
    {
    public:
        std::shared_ptr<const std::string> of(const nlohmann::json& parent);

    private:
        std::mutex m_mutex;
        nlohmann::json m_parent;
        std::shared_ptr<const std::string> m_text;
    };
}
