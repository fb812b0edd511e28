// SPDX-License-Identifier: MIT
#include "kernel/outgoing_message.hpp"

#include "kernel/json_writer.hpp"

namespace atrium
{
    namespace
    {
        /// Equal and of the same types throughout: nlohmann's == holds 1 and 1.0 equal, which serialise apart.
        bool identical(const nlohmann::json& a, const nlohmann::json& b)
        {
            if (a.type() != b.type())
                return false;
            if (a.is_object())
            {
                if (a.size() != b.size())
                    return false;
                for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j)
                    if (i.key() != j.key() || !identical(i.value(), j.value()))
                        return false;
                return true;
            }
            if (a.is_array())
            {
                if (a.size() != b.size())
                    return false;
                for (std::size_t i = 0; i < a.size(); ++i)
                    if (!identical(a[i], b[i]))
                        return false;
                return true;
            }
            return a == b;
        }
    }

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
        if (!m_text || !identical(m_parent, parent))
        {
            m_text = std::make_shared<const std::string>(to_json(parent));
            m_parent = parent;
        }
        return m_text;
    }
}
