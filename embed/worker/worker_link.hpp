// SPDX-License-Identifier: MIT
#pragma once

#include "common/worker_wire.hpp"

#include <sys/types.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace atrium
{
    /// The worker's end of its channel to the kernel. One link thread owns the socket: it sends what any
    /// thread queued, answers heartbeats without the GIL (a busy cell never looks dead), refuses messages not
    /// signed with the worker's key, and hands the rest to `handler`. The worker exits when the kernel is gone.
    class worker_link
    {
    public:
        using handler = std::function<void(worker_message message)>;

        /// `context` is the worker's one ZeroMQ context (one I/O thread for both of its channels).
        /// `ring_fd`: the output ring the kernel handed over (-1: none; everything goes on the link).
        worker_link(zmq::context_t& context, std::string endpoint, const std::string& key, pid_t kernel_pid,
                    int ring_fd = -1);
        worker_link(const worker_link&) = delete;
        worker_link& operator=(const worker_link&) = delete;

        /// Connects and says hello; from then on every message the kernel sends goes to `on_message` (on the
        /// link thread: it must not block). Call once the worker is ready to run cells.
        void start(handler on_message);

        /// Queues a message for the kernel, numbered in `q` in the order of queueing. Any thread.
        void send(nlohmann::json header, std::string blob = {});
        /// The number of the last message queued: a cell's reply, sent on the cells channel, names it so that
        /// the kernel publishes the cell's output before its idle status.
        std::uint64_t last_queued();

        /// Asks the kernel for a service (pool, compute) and waits for its answer; throws `interrupted` when
        /// the running cell is interrupted meanwhile. Any thread but the link thread.
        worker_message call(const std::string& op, const nlohmann::json& args, std::string blob);

    private:
        void run();
        void flush_outbox(zmq::socket_t& socket);
        void receive_all(zmq::socket_t& socket);

        zmq::context_t& m_context;
        const std::string m_endpoint;
        const pid_t m_kernel_pid;
        worker_wire m_wire; ///< used by the link thread only
        /// Big output goes through it (link thread only); see output_ring.
        std::optional<output_ring> m_ring;
        handler m_on_message;
        int m_wake_fd = -1;

        std::mutex m_mutex;
        std::deque<worker_message> m_outbox;
        std::uint64_t m_queued = 0;
        std::condition_variable m_answered;
        std::uint64_t m_next_call = 0;
        std::map<std::uint64_t, std::optional<worker_message>> m_calls;

        std::thread m_thread; ///< runs for the process's life (the worker ends with _exit)
    };
}
