// SPDX-License-Identifier: MIT
#include "kernel/host/relay_frames.hpp"

#include "kernel/message_header.hpp"
#include "kernel/wire_codec.hpp"
#include "common/zmq_retry.hpp"

#include <zmq_addon.hpp>

#include <sys/random.h>

#include <array>
#include <stdexcept>

namespace atrium
{
    std::vector<zmq::message_t> receive_parts(zmq::socket_t& socket)
    {
        std::vector<zmq::message_t> parts;
        retry_on_eintr(
            [&] { return zmq::recv_multipart(socket, std::back_inserter(parts), zmq::recv_flags::dontwait); });
        return parts;
    }

    void send_parts(zmq::socket_t& socket, std::vector<zmq::message_t>& parts)
    {
        for (std::size_t i = 0; i < parts.size(); ++i)
        {
            auto flags = i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
            retry_on_eintr([&] { return socket.send(parts[i], flags); });
        }
    }

    std::string text_of(const zmq::message_t& part)
    {
        return std::string(part.data<char>(), part.size());
    }

    std::string_view view_of(const zmq::message_t& part)
    {
        return {part.data<char>(), part.size()};
    }

    zmq::message_t message_of(std::string_view text)
    {
        return zmq::message_t(text.data(), text.size());
    }

    std::uint64_t random_tag()
    {
        // Drawn 64 at a time: one getrandom call per 64 requests rather than one each.
        thread_local std::array<std::uint64_t, 64> drawn;
        thread_local std::size_t used = drawn.size();
        if (used == drawn.size())
        {
            auto* bytes = reinterpret_cast<unsigned char*>(drawn.data());
            std::size_t got = 0;
            while (got < sizeof(drawn))
            {
                ssize_t n = getrandom(bytes + got, sizeof(drawn) - got, 0);
                if (n <= 0)
                    throw std::runtime_error("[host.no_randomness] getrandom failed");
                got += static_cast<std::size_t>(n);
            }
            used = 0;
        }
        return drawn[used++];
    }

    bool is_delimiter(const zmq::message_t& part)
    {
        return view_of(part) == delimiter;
    }

    void append_front_message(std::vector<std::string>& frames, const message_signer& signer,
                              const std::string& session_id, const std::string& msg_type, const std::string& parent,
                              const std::string& content)
    {
        std::string header = make_message_header_text(msg_type, "atrium", session_id).json;
        frames.emplace_back(delimiter);
        frames.push_back(signer.sign(header, parent, "{}", content));
        frames.push_back(std::move(header));
        frames.push_back(parent);
        frames.emplace_back("{}");
        frames.push_back(content);
    }
}
