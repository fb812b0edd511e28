// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <string_view>

namespace atrium
{
    /// The transport of the `cells` channel (session/worker/cell_lane on the kernel's main thread, the worker's
    /// main thread at the other end): a unix SOCK_SEQPACKET socket in the abstract namespace, one worker_wire
    /// frame per datagram. The two main threads read and write it themselves: a ZeroMQ socket would carry
    /// every message through an I/O thread on each side (four thread wake-ups a direction, ~30 % of an idle
    /// note's round trip). A datagram is sent whole or not at all, never blocking: what does not fit now (a
    /// big cell, a full queue) goes the slow way, on the worker's own ZeroMQ channel, and arrives in order all
    /// the same (cells are numbered, replies matched to their cells).
    namespace cell_socket
    {
        /// The largest datagram sent or read: `send` says too_large beyond it, a longer one received is
        /// refused whole. (The sender's socket buffer may bound it lower: ~200 KiB by default.)
        constexpr std::size_t max_datagram_bytes = std::size_t{1} << 20;

        /// An abstract socket's endpoint is `@` and its name. Listens (close-on-exec, non-blocking); throws
        /// std::runtime_error `[worker.spawn]` when it cannot.
        int listen_on(const std::string& endpoint);
        /// Connects (the listener must exist; it queues the connection until accepted), then makes the socket
        /// non-blocking and close-on-exec; throws std::runtime_error `[worker.spawn]` when it cannot.
        int connect_to(const std::string& endpoint);

        enum class send_result
        {
            sent,
            would_block, ///< the peer's queue is full now
            too_large,   ///< longer than the socket buffer allows for one datagram
            gone,        ///< the peer has closed its end, or another error
        };
        /// Sends one datagram without blocking and without SIGPIPE; EINTR is retried.
        send_result send(int socket, std::string_view datagram);

        enum class receive_result
        {
            message,
            nothing,   ///< nothing waiting
            oversize,  ///< a datagram over max_datagram_bytes was read and dropped
            closed,    ///< the peer has closed its end (or the socket failed): stop reading it
        };
        /// Reads one datagram into `into` without blocking; EINTR is retried.
        receive_result receive(int socket, std::string& into);

        /// The uid of the process at the other end of a connected unix socket; -1 when unknown.
        long peer_uid(int socket);
    }
}
