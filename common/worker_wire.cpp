// SPDX-License-Identifier: MIT
#include "common/worker_wire.hpp"

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
    }

    worker_wire::worker_wire(const std::string& key, std::string channel)
        : m_signer("hmac-sha256", key)
        , m_channel(std::move(channel))
    {
        if (key.empty())
            throw std::invalid_argument("[worker.no_key] a worker channel needs a key");
    }

    void worker_wire::send(zmq::socket_t& socket, nlohmann::json header, std::string blob, const std::string* peer)
    {
        header["n"] = ++m_sent;
        std::string text = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        std::string signature = m_signer.sign(m_channel, text, blob, {});
        // A worker's main thread owns a socket and receives SIGINT: an interrupted frame is sent again.
        auto send_frame = [&socket](zmq::message_t frame, zmq::send_flags flags)
        { retry_on_eintr([&] { return socket.send(frame, flags); }); };
        if (peer)
            send_frame(zmq::message_t(peer->data(), peer->size()), zmq::send_flags::sndmore);
        send_frame(adopt(std::move(signature)), zmq::send_flags::sndmore);
        send_frame(adopt(std::move(text)), zmq::send_flags::sndmore);
        send_frame(adopt(std::move(blob)), zmq::send_flags::none);
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

    std::optional<worker_message> worker_wire::receive(zmq::socket_t& socket, std::string* peer)
    {
        std::vector<zmq::message_t> frames;
        if (!read_frames(socket, frames))
            return std::nullopt;
        if (peer)
        {
            *peer = std::string(view(frames.front()));
            frames.erase(frames.begin());
        }
        return verify(frames);
    }

    worker_message worker_wire::verify(std::vector<zmq::message_t>& frames)
    {
        if (frames.size() != 3)
            throw worker_wire_error("[worker.bad_message] expected 3 frames, got " + std::to_string(frames.size()));
        if (!m_signer.verify(view(frames[0]), m_channel, view(frames[1]), view(frames[2]), {}))
            throw worker_wire_error("[worker.bad_message] missing or wrong signature");
        worker_message message;
        message.header = nlohmann::json::parse(view(frames[1]), nullptr, false);
        // `type` must be a string: worker_message::type() reads it with json::value, which throws otherwise.
        if (!message.header.is_object() || !message.header["type"].is_string() || !message.header["n"].is_number_unsigned())
            throw worker_wire_error("[worker.bad_message] the header is not an object with a `type` string and `n`");
        std::uint64_t number = message.header["n"].get<std::uint64_t>();
        if (number <= m_received)
            throw worker_wire_error("[worker.bad_message] replayed or reordered message " + std::to_string(number));
        m_received = number;
        message.blob.assign(view(frames[2]));
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
