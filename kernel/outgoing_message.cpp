// SPDX-License-Identifier: MIT
#include "kernel/outgoing_message.hpp"

#include "kernel/json_writer.hpp"

namespace atrium
{
    outgoing_message outgoing_from(const xeus::xmessage_base& message, frame_list routing)
    {
        return {std::move(routing),
                to_json(message.header()),
                std::make_shared<const std::string>(to_json(message.parent_header())),
                message.metadata(),
                message.content(),
                message.buffers()};
    }

    frame_list encode_outgoing(outgoing_message&& message, const message_signer& signer)
    {
        // Invalid UTF-8 costs one U+FFFD per ill-formed sequence, never the whole message (json_writer.hpp).
        std::string metadata = to_json(message.metadata);
        std::string content = to_json(message.content);
        frame_list frames = std::move(message.routing);
        frames.reserve(frames.size() + 6 + message.buffers.size());
        frames.emplace_back(delimiter);
        frames.push_back(signer.sign(message.header, *message.parent, metadata, content));
        frames.push_back(std::move(message.header));
        frames.push_back(*message.parent);
        frames.push_back(std::move(metadata));
        frames.push_back(std::move(content));
        for (const auto& buffer : message.buffers)
            frames.emplace_back(buffer.begin(), buffer.end());
        return frames;
    }

    std::shared_ptr<const std::string> parent_text::of(const nlohmann::json& parent)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (!m_text || !json_identical(m_parent, parent))
        {
            m_text = std::make_shared<const std::string>(to_json(parent));
            m_parent = parent;
        }
        return m_text;
    }
}
