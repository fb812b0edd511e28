// SPDX-License-Identifier: MIT
#include "common/worker_wire.hpp"

#include "common/big_endian.hpp"
#include "common/zmq_retry.hpp"

#include <openssl/rand.h>

#include <cstdio>

namespace atrium
{
    namespace
    {
        /// Hands a string's buffer to ZeroMQ without copying (pickled pool entries can be hundreds of MB).
        zmq::message_t adopt(std::string text)
        {
            auto* owned = new std::string(std::move(text));
            return zmq::message_t(owned->data(), owned->size(),
                                  [](void*, void* hint) { delete static_cast<std::string*>(hint); }, owned);
        }

        std::string_view view(const zmq::message_t& frame)
        {
            return {static_cast<const char*>(frame.data()), frame.size()};
        }

        const std::string& check_key(const std::string& key)
        {
            if (key.empty())
                throw std::invalid_argument("[worker.no_key] a worker channel needs a key");
            return key;
        }

        constexpr std::size_t signature_length_bytes = 4;
        constexpr std::size_t part_length_bytes = 8;
        constexpr std::size_t prefix_bytes = signature_length_bytes + 2 * part_length_bytes;

        /// The blob length's top bit marks a blob that lies in the sender's output_ring: the frame's blob is
        /// then a reference of two u64, its position and length there.
        constexpr std::uint64_t in_ring_flag = std::uint64_t{1} << 63;
        constexpr std::size_t ring_reference_bytes = 16;

        /// The packed frame; `blob_flags` are or-ed into the blob's length (in_ring_flag).
        std::string pack_frame(std::string_view signature, std::string_view header, std::string_view blob,
                               std::uint64_t blob_flags = 0)
        {
            std::string frame;
            frame.reserve(prefix_bytes + signature.size() + header.size() + blob.size());
            append_big_endian(frame, signature.size(), signature_length_bytes);
            frame.append(signature);
            append_big_endian(frame, header.size(), part_length_bytes);
            frame.append(header);
            append_big_endian(frame, blob.size() | blob_flags, part_length_bytes);
            frame.append(blob);
            return frame;
        }

        struct packed_parts
        {
            std::string_view signature, header, blob;
            bool in_ring = false; ///< `blob` is a ring reference
        };

        /// Splits a packed frame; every length is bounded before it is compared with what is left, so neither
        /// a huge length nor a short frame can make it read outside the frame.
        packed_parts unpack(std::string_view frame)
        {
            if (frame.size() < prefix_bytes)
                throw worker_wire_error("[worker.bad_message] truncated: a frame of " + std::to_string(frame.size()) +
                                        " bytes is shorter than its length prefixes (" +
                                        std::to_string(prefix_bytes) + " bytes)");
            std::size_t at = 0;
            packed_parts parts;
            auto part = [&](const char* name, std::size_t width, std::uint64_t bound)
            {
                if (frame.size() - at < width)
                    throw worker_wire_error(std::string("[worker.bad_message] truncated: the frame ends inside the "
                                                        "length of its ") + name);
                std::uint64_t length = read_big_endian(frame.substr(at, width));
                at += width;
                if (bound == worker_wire::max_blob_bytes && (length & in_ring_flag))
                {
                    length &= ~in_ring_flag;
                    parts.in_ring = true;
                    if (length != ring_reference_bytes)
                        throw worker_wire_error("[worker.bad_message] a ring reference of " + std::to_string(length) +
                                                " bytes, not " + std::to_string(ring_reference_bytes));
                }
                if (length > bound)
                    throw worker_wire_error(std::string("[worker.bad_message] oversize ") + name + ": " +
                                            std::to_string(length) + " bytes, at most " + std::to_string(bound));
                if (length > frame.size() - at)
                    throw worker_wire_error(std::string("[worker.bad_message] truncated: the ") + name + " of " +
                                            std::to_string(length) + " bytes runs past the end of the frame (" +
                                            std::to_string(frame.size() - at) + " bytes left)");
                std::string_view value = frame.substr(at, static_cast<std::size_t>(length));
                at += value.size();
                return value;
            };
            parts.signature = part("signature", signature_length_bytes, worker_wire::max_signature_bytes);
            parts.header = part("header", part_length_bytes, worker_wire::max_header_bytes);
            parts.blob = part("blob", part_length_bytes, worker_wire::max_blob_bytes);
            if (at != frame.size())
                throw worker_wire_error("[worker.bad_message] " + std::to_string(frame.size() - at) +
                                        " stray bytes after the blob");
            return parts;
        }
    }

    worker_wire::worker_wire(const std::string& key, std::string channel)
        : m_mac(check_key(key), channel)
    {
    }

    std::string worker_wire::pack(std::string_view signature, std::string_view header, std::string_view blob)
    {
        return pack_frame(signature, header, blob);
    }

    std::string worker_wire::header_text(const nlohmann::json& header, std::size_t blob_bytes)
    {
        std::string text = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        if (text.size() > max_header_bytes || blob_bytes > max_blob_bytes)
            throw worker_wire_error("[worker.too_large] a " + header.value("type", std::string("?")) +
                                    " message of " + std::to_string(text.size()) + " + " +
                                    std::to_string(blob_bytes) + " bytes is over the channel's bounds");
        return text;
    }

    std::string worker_wire::seal(const nlohmann::json& header, std::string_view blob)
    {
        return seal_text(header_text(header, blob.size()), blob);
    }

    std::string worker_wire::seal_text(std::string_view header, std::string_view blob)
    {
        return seal_packed(header, blob, 0, {});
    }

    std::optional<std::string> worker_wire::seal_in_ring(const nlohmann::json& header, std::string_view blob,
                                                         output_ring& ring)
    {
        const std::string text = header_text(header, blob.size());
        std::optional<std::uint64_t> position = ring.put(blob);
        if (!position)
            return std::nullopt;
        std::string reference;
        append_big_endian(reference, *position, 8);
        append_big_endian(reference, blob.size(), 8);
        // Signed over the blob's bytes as well (its own copy, not the ring's): the kernel checks its copy.
        return seal_packed(text, reference, in_ring_flag, blob);
    }

    std::string worker_wire::seal_packed(std::string_view header, std::string_view blob, std::uint64_t blob_flags,
                                         std::string_view tail)
    {
        // The frame is written with room for the signature, which is then computed over the bytes after it:
        // the blob is copied once, and the signed bytes carry their own lengths.
        std::string frame = pack_frame(std::string(channel_mac::signature_bytes, '\0'), header, blob, blob_flags);
        const std::size_t body_at = signature_length_bytes + channel_mac::signature_bytes;
        std::string signature = m_mac.sign(++m_sent, std::string_view(frame).substr(body_at), tail);
        if (signature.empty())
            throw worker_wire_error("[worker.no_key] libcrypto failed to sign a worker channel's message");
        frame.replace(signature_length_bytes, signature.size(), signature);
        return frame;
    }

    void worker_wire::send(zmq::socket_t& socket, const nlohmann::json& header, std::string_view blob,
                           const std::string* peer)
    {
        // One copy of the blob into the frame: the price of never having half a message in a pipe.
        send_sealed(socket, seal(header, blob), peer);
    }

    void worker_wire::send_sealed(zmq::socket_t& socket, std::string sealed, const std::string* peer)
    {
        zmq::message_t frame = adopt(std::move(sealed));
        // A worker's main thread owns a socket and receives SIGINT: an interrupted frame is sent again.
        if (peer)
        {
            zmq::message_t route(peer->data(), peer->size());
            (void)retry_on_eintr([&] { return socket.send(route, zmq::send_flags::sndmore); });
        }
        (void)retry_on_eintr([&] { return socket.send(frame, zmq::send_flags::none); });
    }

    bool worker_wire::read_frames(zmq::socket_t& socket, std::vector<zmq::message_t>& frames)
    {
        frames.clear();
        zmq::message_t frame;
        if (!retry_on_eintr([&] { return socket.recv(frame, zmq::recv_flags::dontwait); }))
            return false;
        frames.push_back(std::move(frame));
        while (frames.back().more())
        {
            zmq::message_t next;
            // The rest of a multipart message is already here.
            (void)retry_on_eintr([&] { return socket.recv(next, zmq::recv_flags::none); });
            frames.push_back(std::move(next));
        }
        return true;
    }

    std::optional<worker_message> worker_wire::receive(zmq::socket_t& socket, std::string* peer, output_ring* ring)
    {
        std::vector<zmq::message_t> frames;
        if (!read_frames(socket, frames))
            return std::nullopt;
        if (peer)
        {
            *peer = std::string(view(frames.front()));
            frames.erase(frames.begin());
        }
        return verify(frames, ring);
    }

    std::optional<nlohmann::json> worker_wire::unverified_header(const std::vector<zmq::message_t>& frames)
    {
        if (frames.size() != 1)
            return std::nullopt;
        return unverified_header(view(frames.front()));
    }

    std::optional<nlohmann::json> worker_wire::unverified_header(std::string_view frame)
    {
        try
        {
            auto header = nlohmann::json::parse(unpack(frame).header, nullptr, false);
            if (header.is_discarded())
                return std::nullopt;
            return header;
        }
        catch (const worker_wire_error&)
        {
            return std::nullopt;
        }
    }

    worker_message worker_wire::verify(std::vector<zmq::message_t>& frames, output_ring* ring)
    {
        if (frames.size() != 1)
            throw worker_wire_error("[worker.bad_message] expected 1 frame, got " + std::to_string(frames.size()));
        return open(view(frames.front()), ring);
    }

    worker_message worker_wire::open(std::string_view frame, output_ring* ring)
    {
        packed_parts parts = unpack(frame);
        std::string blob;
        const std::uint64_t ring_position = parts.in_ring ? read_big_endian(parts.blob.substr(0, 8)) : 0;
        const std::uint64_t ring_bytes = parts.in_ring ? read_big_endian(parts.blob.substr(8)) : 0;
        if (parts.in_ring)
        {
            // Copied out first, then checked: the signature covers this copy, whatever the ring holds later.
            if (!ring)
                throw worker_wire_error("[worker.bad_message] a blob in an output ring this channel does not have");
            // Refused before the copy (up to 4 MiB) when the signature cannot be the peer's.
            if (!m_mac.may_be_from_peer(parts.signature))
                throw worker_wire_error("[worker.bad_message] missing or wrong signature");
            if (!ring->copy_out(ring_position, ring_bytes, blob))
                throw worker_wire_error("[worker.bad_message] a ring reference outside the output ring");
        }
        std::uint64_t number = 0;
        if (!m_mac.verify(parts.signature, frame.substr(signature_length_bytes + parts.signature.size()), blob,
                          number))
            throw worker_wire_error("[worker.bad_message] missing or wrong signature");
        if (number <= m_received)
            throw worker_wire_error("[worker.bad_message] replayed or reordered message " + std::to_string(number));
        worker_message message;
        message.header = nlohmann::json::parse(parts.header, nullptr, false);
        // `type` must be a string: worker_message::type() reads it with json::value, which throws otherwise.
        if (!message.header.is_object() || !message.header["type"].is_string())
            throw worker_wire_error("[worker.bad_message] the header is not an object with a `type` string");
        m_received = number;
        if (parts.in_ring)
        {
            ring->release(ring_position + ring_bytes); // only a genuine message frees the worker's space
            message.blob = std::move(blob);
        }
        else
            message.blob.assign(parts.blob);
        return message;
    }

    std::string make_worker_key()
    {
        unsigned char bytes[32];
        if (RAND_bytes(bytes, sizeof bytes) != 1)
            throw std::runtime_error("[worker.no_key] the system's random source failed");
        std::string hex;
        char digit[3];
        for (unsigned char byte : bytes)
        {
            std::snprintf(digit, sizeof digit, "%02x", byte);
            hex += digit;
        }
        return hex;
    }
}
