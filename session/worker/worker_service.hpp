// SPDX-License-Identifier: MIT
#pragma once

#include "embed/execution_context.hpp"
#include "session/history_store.hpp"
#include "session/worker/blocking_queue.hpp"
#include "session/worker/worker_sink.hpp"

#include <memory>
#include <thread>

namespace atrium
{
    /// What an isolated worker does with the kernel's requests: one namespace (the process's `__main__`), its
    /// count and history. Cells run on the main thread, so the kernel's SIGINT interrupts them; complete,
    /// inspect, is_complete, history and comm messages are served on a second thread, answered while a cell runs.
    class worker_service
    {
    public:
        /// Needs a started python_runtime with the GIL released.
        explicit worker_service(worker_link& link);

        /// Serves cells forever (the worker ends by _exit when the kernel says stop or goes away).
        [[noreturn]] void run();

    private:
        void dispatch(worker_message message);
        void execute(const nlohmann::json& message);
        void serve_quick_forever();
        void serve_quick(const nlohmann::json& message);
        void deliver_comm(const nlohmann::json& message);

        worker_link& m_link;
        worker_sink m_sink;
        worker_comms m_comms;
        execution_context m_context;
        history_store m_history;
        std::mutex m_history_mutex;
        blocking_queue<nlohmann::json> m_cells;
        blocking_queue<nlohmann::json> m_quick;
        std::thread m_quick_thread;
    };
}
