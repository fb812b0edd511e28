// SPDX-License-Identifier: MIT
#pragma once

#include "session/pending_prompt.hpp"
#include "session/worker/worker_pool.hpp"

#include <xeus/xmessage.hpp>

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace atrium
{
    class remote_comms;
    class zmq_server;

    /// What every isolated context shares: the server, the warm pool and the comm registry.
    struct isolated_environment
    {
        zmq_server& server;
        worker_pool& pool;
        remote_comms& comms;
        bool per_user;
    };

    /// One note's (or user's) context in a worker process of its own.
    ///
    /// A relay thread owns the worker's channel: it hands the note's requests to the worker one cell at a time
    /// (the queue stays here, so stop_on_error and a crash can answer what is still queued), publishes the
    /// worker's output under each request's header, routes input prompts and comms, serves the worker's pool
    /// and compute calls, and pings it. When the worker dies the running request is told how (`[worker.died]
    /// ... killed by SIGSEGV`), queued ones are answered, and the next request starts a fresh worker, telling the
    /// user the state was lost. Repeated deaths back off and then stop (`[worker.crash_loop]`).
    class isolated_context
    {
    public:
        isolated_context(std::string key, isolated_environment environment);
        /// Stops the worker (no process is left behind), answering any request still pending.
        ~isolated_context();
        isolated_context(const isolated_context&) = delete;
        isolated_context& operator=(const isolated_context&) = delete;

        /// Queues a cell; `reset_magic` marks `%reset_context`, which replaces the worker in the cell's turn.
        void execute(std::shared_ptr<xeus::xmessage> request, std::uint64_t sequence, bool reset_magic);
        /// complete, inspect, is_complete and history requests: answered by the worker, even while a cell runs.
        void quick(std::shared_ptr<xeus::xmessage> request);
        /// A client's comm_open / comm_msg / comm_close for a comm or target of this context; its idle status
        /// is published once the worker's handler has run (busy was published by the caller).
        void comm(const std::string& msg_type, nl::json forwarded, nl::json parent_header);
        /// SIGINT to the worker: KeyboardInterrupt in its running cell, also inside blocking calls. Any thread.
        void interrupt();
        /// Replaces the worker now (control message): the running cell ends, queued cells run in a fresh one.
        void reset();

        /// How well an input_reply fits this context's pending prompt (pending_prompt::match).
        int input_match(const std::string& parent_msg_id, const std::string& session);
        void answer_input(const std::string& value);

        struct snapshot
        {
            bool running = false;
            std::size_t queued = 0;
            int executions = 0;
            pid_t pid = 0;                 ///< 0 without a worker
            std::uint64_t resident_bytes = 0;
            std::int64_t last_activity_ms = 0; ///< steady clock
        };
        snapshot describe(); ///< reads the worker's memory from /proc
        /// When the context last finished a cell (steady clock, ms): what the idle culler needs, cheaply.
        std::int64_t last_activity_ms() const;
        /// Requests queued or being served: an idle culler must leave the context alone.
        bool busy();

    private:
        struct pending_cell
        {
            std::shared_ptr<xeus::xmessage> request;
            std::uint64_t sequence = 0;
            bool reset_magic = false;
        };
        struct event
        {
            std::string kind; ///< cell, quick, comm, input, reset, stop
            pending_cell cell;
            nl::json data;
        };

        void post(event e);
        void run();
        void handle(event& e);
        void start_next_cell();
        void ensure_worker();
        void send(nl::json header, std::string blob = {});
        void receive_from_worker();
        void handle_worker_message(worker_message& message);
        void finish_cell(nl::json reply);
        void serve_call(worker_message& message);
        void heartbeat();
        /// The worker ended: answers what it owed, remembers the loss for the next cell.
        void worker_ended(const std::string& cause);
        /// Kills the worker on purpose (reset, stop): no death is reported.
        void discard_worker();
        void answer_pending(const std::string& ename, const std::string& why_running, const std::string& why_queued);
        std::string describe_ending(const std::string& ending) const;

        const std::string m_key;
        isolated_environment m_environment;
        int m_wake_fd = -1;

        std::mutex m_mutex; ///< guards what other threads read or post: events, pid, prompt, snapshot fields
        std::deque<event> m_events;
        pid_t m_pid = 0;
        pending_prompt m_prompt;
        bool m_running = false;
        std::size_t m_queued = 0;
        int m_executions = 0;
        std::atomic<std::int64_t> m_last_activity{0};

        // Relay thread only.
        std::unique_ptr<worker_handle> m_worker;
        std::deque<pending_cell> m_cells;
        std::optional<pending_cell> m_current;
        std::string m_current_started;
        std::uint64_t m_next_id = 0;
        std::uint64_t m_current_id = 0;
        std::map<std::uint64_t, std::shared_ptr<xeus::xmessage>> m_quick;
        std::map<std::uint64_t, nl::json> m_comm_handling; ///< comm messages the worker handles: their headers
        std::uint64_t m_abort_through = 0;
        std::string m_lost_state;       ///< how the last worker died, told to the next cell
        int m_consecutive_deaths = 0;
        std::string m_last_death;
        std::chrono::steady_clock::time_point m_last_ping{};
        std::chrono::steady_clock::time_point m_last_pong{};
        std::thread m_thread;
    };
}
