// SPDX-License-Identifier: MIT
#pragma once

#include "embed/execution_context.hpp"
#include "common/history_store.hpp"
#include "embed/worker/blocking_queue.hpp"
#include "embed/worker/cell_order.hpp"
#include "embed/worker/worker_sink.hpp"

#include <memory>
#include <thread>

namespace atrium
{
    /// Where the worker's main thread meets the kernel's main thread (the kernel's cell_lane).
    struct cell_lane_address
    {
        std::string endpoint;
        std::string id; ///< this worker's name there, given by the kernel
    };

    /// What an isolated worker does with the kernel's requests: one namespace (the process's `__main__`), its
    /// count and history. Cells run on the main thread, interrupted by the link thread when the kernel asks; complete,
    /// inspect, is_complete, history and comm messages are served on a second thread, answered while a cell runs.
    ///
    /// The main thread owns a socket of its own to the kernel's main thread (the `cells` channel,
    /// common/cell_socket): an idle note's cell arrives there and its reply leaves there, so a round trip costs
    /// no thread hand-off in the worker. Cells the kernel had to queue come through the link instead, and so
    /// does a reply that does not fit in a datagram now (as a `cell_reply`). The kernel pipelines a note's cells
    /// (sends the next before the last is answered); `cell_order` runs them in the kernel's order and pauses
    /// the queue after a failure under stop_on_error until the kernel says which cells it aborted.
    class worker_service
    {
    public:
        /// Needs a started python_runtime with the GIL released. Says hello on the cells channel.
        worker_service(worker_link& link, const std::string& key, const cell_lane_address& lane);

        /// Serves cells forever (the worker ends by _exit when the kernel says stop or goes away).
        [[noreturn]] void run();

    private:
        void dispatch(worker_message message);
        /// The kernel interrupted its cells up to `id` (link thread).
        void interrupt_through(std::uint64_t id);
        /// Runs every cell that has arrived (on the link or the cells channel), in the kernel's order.
        void serve_waiting_cells();
        /// Moves what arrived on either channel into m_order without blocking.
        void collect_cells();
        /// Runs one cell and replies; true when its end stops the queue (m_order is paused).
        bool execute(const nlohmann::json& message);
        /// A cell's reply: on the cells channel when it fits there now, else on the link (behind its output).
        void send_reply(nlohmann::json reply);
        /// Closes the cells channel after the kernel's end closed it (the link then notices the kernel is gone).
        void lose_lane(const char* why);
        void serve_quick_forever();
        void serve_quick(const nlohmann::json& message);
        void deliver_comm(const nlohmann::json& message);

        worker_link& m_link;
        worker_sink m_sink;
        worker_comms m_comms;
        execution_context m_context;
        history_store m_history;
        std::mutex m_history_mutex;
        int m_lane = -1;         ///< the cells channel's socket, -1 once lost; main thread only
        std::string m_datagram;  ///< the datagram being read; main thread only
        worker_wire m_lane_wire; ///< main thread only
        std::mutex m_linked_mutex;
        std::deque<nlohmann::json> m_linked_cells; ///< cells (and resumes) that came through the link
        cell_order m_order;                         ///< main thread only
        int m_linked_fd = -1;                        ///< readable while m_linked_cells may hold some
        blocking_queue<nlohmann::json> m_quick;
        /// The kernel's interrupts by cell id: a cell up to this one starts interrupted (a pipelined cell the
        /// kernel showed as started may not run yet when the interrupt comes).
        std::mutex m_interrupt_mutex;
        std::uint64_t m_interrupt_through = 0; ///< under m_interrupt_mutex
        std::uint64_t m_running_cell = 0; ///< the kernel's id of the cell running now, 0 between; under m_interrupt_mutex
        std::thread m_quick_thread;
    };
}
