// SPDX-License-Identifier: MIT
#pragma once

#include "kernel/wire_codec.hpp"

#include <zmq.hpp>

namespace atrium
{
    /// Writes one message's frames to `socket` (retrying sends a signal interrupted). Large frames are handed
    /// to ZeroMQ without a copy: stream chunks are megabytes.
    void send_frames(zmq::socket_t& socket, frame_list frames);
}
