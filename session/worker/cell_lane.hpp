// SPDX-License-Identifier: MIT
#pragma once

#include "common/worker_wire.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace atrium
{
    /// The kernel's fast path to its workers' main threads: one listening unix socket (common/cell_socket: a
    /// datagram a message, no ZeroMQ I/O thread on either side), served by the kernel's main thread (the one
    /// that owns the shell socket), which every worker's main thread connects to. An idle note's cell goes
    /// from the shell request straight to its worker and its reply straight back to the shell, with no thread
    /// hand-off on either side; everything else (output, input, heartbeats, queued cells, quick requests, and
    /// whatever does not fit in a datagram now) travels on each worker's own channel, served by the note's
    /// relay thread.
    ///
    /// Messages are signed with the worker's key for the `cells` channel. The kernel names each worker (`w<n>`);
    /// a worker's signed hello carries that name, and only the connection it came on is sent cells or heard from
    /// afterwards. A connection from another OS user is closed at once; one whose first message is not a valid
    /// hello, or that speaks for a name already proven, is refused, logged and closed.
    class cell_lane
    {
    public:
        using handler = std::function<void(worker_message message)>;

        /// Listens on `@atrium-<kernel pid>-cells-<n>` (an abstract unix socket). Main thread.
        cell_lane();
        ~cell_lane();
        cell_lane(const cell_lane&) = delete;
        cell_lane& operator=(const cell_lane&) = delete;

        const std::string& endpoint() const noexcept;

        /// Registers a worker about to start with `key`; returns the name to give it. Any thread.
        std::string announce(const std::string& key);
        /// From now on the worker's replies go to `on_message` (on the main thread), and a `lane_broken` message
        /// (`why`) when its connection failed in a way that may have lost one. Any thread.
        void attach(const std::string& id, handler on_message);
        /// The worker is gone: once this returns its handler is not running and is never called again, and its
        /// connection is closed. Any thread but the main thread's handler itself.
        void forget(const std::string& id);

        /// True once the worker has proven its key here (its hello came), until it is forgotten or its
        /// connection closes. Any thread.
        bool proven(const std::string& id);
        /// Sends to a proven worker now; false when it is gone, or the message does not fit in its connection
        /// now (the caller sends it the slow way). Main thread.
        bool send(const std::string& id, nlohmann::json header);
        /// Accepts connections and reads everything waiting; handlers run here. Main thread, when `fd()` is
        /// readable.
        void receive_all();
        /// Readable when there is something for receive_all (an epoll set of the listener and connections).
        int fd() const noexcept;

    private:
        struct peer
        {
            explicit peer(const std::string& key);
            worker_wire wire;
            int connection = -1; ///< the connection its signed hello came on; -1 until then
            handler on_message;
        };

        struct connection
        {
            std::string name; ///< the worker it proved to be; "" until its hello
            std::chrono::steady_clock::time_point opened;
        };

        void accept_some();
        /// Closes connections that have not said hello for long (a worker says it first thing).
        void close_silent_connections();
        /// Reads what one connection sent; false when it is to be closed.
        bool read_connection(int connection);
        /// Handles one datagram; false when its connection is to be closed.
        bool take(int connection, std::string_view datagram);
        /// Tells a proven worker's handler that its connection failed (a reply may be lost with it).
        void report_broken(int connection, const std::string& why);
        bool watch(int fd);
        /// Watches the listener again after it was set aside for want of descriptors.
        void resume_listening();
        void close_connection(int connection);

        std::string m_endpoint;
        int m_listener = -1;
        int m_epoll = -1;
        std::mutex m_mutex; ///< guards everything below and every handler call
        std::map<std::string, std::unique_ptr<peer>> m_peers; ///< by name
        std::map<int, connection> m_connections;             ///< every open connection
        bool m_listening = true; ///< false while the listener is out of the epoll set (no descriptors left)
        std::string m_buffer;    ///< the datagram being read (main thread)
        std::uint64_t m_next = 0;
    };
}
