// SPDX-License-Identifier: MIT
#pragma once

#include "common/worker_wire.hpp"

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
    /// Messages are signed with the worker's key for the `cells` channel. The kernel names each worker (`w<n>`);
    /// a worker's signed hello carries that name, and only the connection it came on (its routing id, chosen
    /// by ZeroMQ, so no other local process can claim it in advance) is sent cells or heard from afterwards.
    /// A message from any other connection, or not signed by the worker it claims to be, is refused and logged.
    class cell_lane
    {
    public:
        using handler = std::function<void(worker_message message)>;

        /// Binds `ipc://@atrium-<kernel pid>-cells` (an abstract unix socket). Main thread.
        cell_lane();
        cell_lane(const cell_lane&) = delete;
        cell_lane& operator=(const cell_lane&) = delete;

        const std::string& endpoint() const noexcept;

        /// Registers a worker about to start with `key`; returns the name to give it. Any thread.
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
            std::string route; ///< the routing id its signed hello came from; empty until then
            handler on_message;
        };

        /// The worker a message claims to come from: by its connection, or for a hello by the name inside.
        peer* sender_of(const std::string& route, const std::vector<zmq::message_t>& frames, std::string& id);

        zmq::context_t m_context;
        zmq::socket_t m_socket;
        std::string m_endpoint;
        std::mutex m_mutex; ///< guards m_peers and every handler call
        std::map<std::string, std::unique_ptr<peer>> m_peers; ///< by name
        std::map<std::string, std::string> m_names;          ///< routing id -> name, once proven
        std::uint64_t m_next = 0;
    };
}
