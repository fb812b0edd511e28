// SPDX-License-Identifier: MIT
#include "kernel/frame_send.hpp"

#include "common/zmq_retry.hpp"

#include <string>

namespace atrium
{
    namespace
    {
        zmq::message_t frame_message(std::string&& frame)
        {
            if (frame.size() < 256)
            {
                return zmq::message_t(frame.data(), frame.size());
            }
            auto* owned = new std::string(std::move(frame));
            return zmq::message_t(
                owned->data(), owned->size(), [](void*, void* hint) { delete static_cast<std::string*>(hint); },
                owned);
        }
    }

    void send_frames(zmq::socket_t& socket, frame_list frames)
    {
        for (std::size_t i = 0; i < frames.size(); ++i)
        {
            auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
            zmq::message_t part = frame_message(std::move(frames[i]));
            retry_on_eintr([&] { return socket.send(part, flags); });
        }
    }
}
