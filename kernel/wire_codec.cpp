// SPDX-License-Identifier: MIT
#include "kernel/wire_codec.hpp"

#include "kernel/json_fast_parse.hpp"
#include "kernel/json_writer.hpp"
#include "kernel/request_check.hpp"

#include <algorithm>

namespace atrium
{
    namespace
    {
        std::string dump(const nl::json& value)
        {
            // Invalid UTF-8 costs one U+FFFD per bad byte, never the whole message.
            return to_json(value);
        }

        void append_signed_body(frame_list& frames, const xeus::xmessage_base& message, const message_signer& signer)
        {
            std::string header = dump(message.header());
            std::string parent = dump(message.parent_header());
            std::string metadata = dump(message.metadata());
            std::string content = dump(message.content());
            frames.emplace_back(delimiter);
            frames.push_back(signer.sign(header, parent, metadata, content));
            frames.push_back(std::move(header));
            frames.push_back(std::move(parent));
            frames.push_back(std::move(metadata));
            frames.push_back(std::move(content));
            for (const auto& buffer : message.buffers())
            {
                frames.emplace_back(buffer.begin(), buffer.end());
            }
        }
    }

    bool nesting_exceeds(std::string_view json, int max_depth)
    {
        int depth = 0;
        bool in_string = false;
        bool escaped = false;
        for (char c : json)
        {
            if (in_string)
            {
                if (escaped)
                    escaped = false;
                else if (c == '\\')
                    escaped = true;
                else if (c == '"')
                    in_string = false;
                continue;
            }
            if (c == '"')
                in_string = true;
            else if ((c == '[' || c == '{') && ++depth > max_depth)
                return true;
            else if (c == ']' || c == '}')
                --depth;
        }
        return false;
    }

    std::optional<nl::json> parse_json_object(std::string_view text)
    {
        if (text == "{}")
            return nl::json::object(); // a request's parent header and metadata, most of the time
        if (nesting_exceeds(text, max_json_depth))
        {
            return std::nullopt;
        }
        if (auto value = parse_json_fast(text))
        {
            if (!value->is_object())
                return std::nullopt;
            return value;
        }
        nl::json value = nl::json::parse(text, nullptr, /*allow_exceptions=*/false);
        if (!value.is_object())
        {
            return std::nullopt;
        }
        return value;
    }

    decode_result decode_message(frame_list frames, const message_signer& signer, replay_guard& replays)
    {
        auto delim = std::find(frames.begin(), frames.end(), delimiter);
        if (delim == frames.end())
        {
            return {std::nullopt, "[wire.no_delimiter] message has no <IDS|MSG> delimiter"};
        }
        // Each identity becomes a xeus guid, a fixed 55-character buffer that a longer string overflows.
        if (static_cast<std::size_t>(delim - frames.begin()) > limits::identity_count)
        {
            return {std::nullopt, std::string(error_id::wire_bad_identity) + " more than " +
                                      std::to_string(limits::identity_count) + " routing identities"};
        }
        for (auto it = frames.begin(); it != delim; ++it)
        {
            if (it->size() > limits::guid_length)
            {
                return {std::nullopt, std::string(error_id::wire_bad_identity) + " a routing identity is longer than " +
                                          std::to_string(limits::guid_length) + " bytes"};
            }
        }
        auto body = delim + 1;
        if (frames.end() - body < 5)
        {
            return {std::nullopt, "[wire.truncated] expected signature and four JSON frames after the delimiter"};
        }
        const std::string& signature = body[0];
        if (!signer.verify(signature, body[1], body[2], body[3], body[4]))
        {
            return {std::nullopt, "[wire.bad_signature] signature does not match"};
        }
        if (signer.enabled() && !replays.first_sighting(signature))
        {
            return {std::nullopt, "[wire.replayed] signature seen before; message ignored"};
        }
        auto header = parse_json_object(body[1]);
        auto parent = parse_json_object(body[2]);
        auto metadata = parse_json_object(body[3]);
        auto content = parse_json_object(body[4]);
        if (!header || !parent || !metadata || !content)
        {
            return {std::nullopt, "[wire.bad_json] a JSON frame is not a well-formed object"};
        }
        auto msg_type = header->find("msg_type");
        if (msg_type == header->end() || !msg_type->is_string())
        {
            return {std::nullopt, "[wire.bad_header] header has no msg_type string"};
        }
        xeus::xmessage::guid_list identities(frames.begin(), delim);
        xeus::buffer_sequence buffers;
        for (auto it = body + 5; it != frames.end(); ++it)
        {
            buffers.emplace_back(it->begin(), it->end());
        }
        return {xeus::xmessage(identities, std::move(*header), std::move(*parent), std::move(*metadata),
                               std::move(*content), std::move(buffers)),
                {}};
    }

    frame_list encode_message(const xeus::xmessage& message, const message_signer& signer)
    {
        frame_list frames(message.identities().begin(), message.identities().end());
        append_signed_body(frames, message, signer);
        return frames;
    }

    frame_list encode_pub_message(const xeus::xpub_message& message, const message_signer& signer)
    {
        frame_list frames{message.topic()};
        append_signed_body(frames, message, signer);
        return frames;
    }
}
