// SPDX-License-Identifier: MIT
#pragma once

#include "session/worker/worker_wire.hpp"

#include <zmq.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace atrium
{
    /// The kernel's fast path to its workers' main threads: one ROUTER, owned by the kernel's main thread (the
    /// one that owns the shell socket), which every worker's main thread connects to. An idle note's cell goes
    /// from the shell request straight to its worker and its reply straight back to the shell, with no thread
    /// hand-off on either side; everything else (output, input, heartbeats, queued cells, quick requests)
    /// travels on each worker's own channel, served by the note's relay thread.
    ///
    /// Messages are signed with the worker's key for the `cells` channel. A worker's routing id is given to it
    /// by the kernel, and nothing is sent to that id before a hello signed with the worker's key has come from
    /// it. A message that is not signed by the worker named by its routing id is refused and logged.
    class cell_lane
    {
    public:
        using handler = std::function<void(worker_message message)>;

        /// Binds `ipc://@atrium-<kernel pid>-cells` (an abstract unix socket). Main thread.
        cell_lane();
        cell_lane(const cell_lane&) = delete;
        cell_lane& operator=(const cell_lane&) = delete;

        const std::string& endpoint() const noexcept;

        /// Registers a worker about to start with `key`; returns the routing id to give it. Any thread.
        std::string announce(const std::string& key);
        /// From now on the worker's replies go to `on_message` (on the main thread). Any thread.
        void attach(const std::string& id, handler on_message);
        /// The worker is gone: once this returns its handler is not running and is never called again. Any
        /// thread but the main thread's handler itself.
        void forget(const std::string& id);

        /// True once the worker has proven its key here (its hello came), until it is forgotten. Any thread.
        bool proven(const std::string& id);
        /// Sends to a proven worker; false when it is gone. Main thread.
        bool send(const std::string& id, nlohmann::json header);
        /// Reads everything waiting; handlers run here. Main thread, when `socket()` is readable.
        void receive_all();
        zmq::socket_t& socket() noexcept;

    private:
        struct peer
        {
            explicit peer(const std::string& key);
            worker_wire wire;
            bool proven = false;
            handler on_message;
        };

        zmq::context_t m_context;
        zmq::socket_t m_socket;
        std::string m_endpoint;
        std::mutex m_mutex; ///< guards m_peers and every handler call
        std::map<std::string, std::unique_ptr<peer>> m_peers;
        std::uint64_t m_next = 0;
    };
}
