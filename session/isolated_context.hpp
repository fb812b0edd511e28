// SPDX-License-Identifier: MIT
#pragma once

#include "session/abort_line.hpp"
#include "session/client_request.hpp"
#include "session/context.hpp"
#include "session/pending_prompt.hpp"
#include "session/worker/cell_lane.hpp"
#include "session/worker/worker_pool.hpp"

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
    class client_port;
    class remote_comms;

    /// What every isolated context shares: the server, the warm pool, the cells channel and the comm registry.
    struct isolated_environment
    {
        client_port& server; ///< the way back to clients
        worker_pool& pool;
        cell_lane& lane; ///< polled by the main thread, which owns it
        remote_comms& comms;
        bool per_user;
    };

    /// One note's (or user's) context in a worker process of its own.
    ///
    /// A relay thread owns the worker's channel: it hands the note's queued requests to the worker (cells
    /// pipelined too), publishes the worker's output under each request's header, routes input prompts and
    /// comms, serves the worker's pool and compute calls, and pings it. When the worker dies the running
    /// request is told how (`[worker.died] ... killed by SIGSEGV`), queued and pipelined ones are answered, and
    /// the next request starts a fresh worker, telling the user the state was lost. Repeated deaths back off
    /// and then stop (`[worker.crash_loop]`).
    ///
    /// The fast path: a cell for a note with a ready worker and nothing queued here is sent by the main thread
    /// straight to the worker's main thread over the cell lane, even while earlier cells run (pipelining: the
    /// worker's `cell_order` runs them in order), and every cell's reply comes back there, to the main thread,
    /// which answers the client at once when the relay has already published all the cell's output (else the
    /// relay answers once it has). Cells sent and not yet answered are `m_running`, in order; only the first
    /// one's busy/execute_input is out (`started`), the next one's follows the first's reply and idle, and the
    /// relay holds a later cell's output until then. A failure under stop_on_error pauses the worker; the
    /// kernel answers every cell sent behind it `aborted` (they all reached the kernel before the failure's
    /// reply left it) and then tells the worker to drop them and resume. exit() pauses it too; the cells
    /// behind it go back to the queue for the fresh worker.
    ///
    /// The state both threads touch is under `m_mutex`. Lock order: the lane's lock (held while the main thread
    /// handles a reply) before `m_finish_mutex` before `m_mutex`; `m_mutex` before the lane's lock only where the
    /// main thread sends a cell, never while it handles a reply; the relay never takes the lane's lock while
    /// holding either of ours.
    class isolated_context final : public context
    {
    public:
        isolated_context(std::string key, isolated_environment environment);
        /// Stops the worker (no process is left behind), answering any request still pending.
        ~isolated_context() override;

    private:
        /// Starts or queues a cell (the fast path or the relay); `reset_magic` marks `%reset_context`, which
        /// replaces the worker in the cell's turn. Releases at once: the queue is the context's. Main thread.
        void execute_impl(client_request_ptr request, std::uint64_t sequence, bool reset_magic,
                          release_fn release) override;
        /// Answered by the worker, asynchronously, even while a cell runs: a busy worker never holds up other notes.
        void quick_impl(client_request_ptr request, release_fn release) override;
        void comm_impl(const std::string& msg_type, nl::json forwarded, nl::json parent_header) override;
        /// Asks the worker to interrupt its running cell (KeyboardInterrupt, also inside blocking calls). Any thread.
        void interrupt_impl() override;
        /// Replaces the worker now (control message): the running cell ends, queued cells run in a fresh one.
        void reset_impl() override;
        void tell_next_cell_impl(std::string notice) override;
        /// Ended by exit() and not used since: the worker is gone, so the context holds nothing. Any thread.
        bool ended_impl() const override;
        int input_match_impl(const std::string& parent_msg_id, const std::string& session) override;
        void answer_input_impl(const std::string& value) override;
        /// Not busy (below); the last activity is when the context last finished a cell.
        bool idle_impl(std::int64_t& last_activity) override;
        bool running_impl() override;
        int executions_impl() override;
        /// Reads the worker's memory from /proc.
        snapshot describe_impl(int claims) override;

        /// A cell running or queued, or events not yet handled: an idle culler must leave the context alone. After
        /// exit(), only cells count: its pending reset and requests are answered if it is closed.
        bool busy();

        struct pending_cell
        {
            client_request_ptr request;
            std::uint64_t sequence = 0;
            bool reset_magic = false;
        };
        struct cell_reply
        {
            nl::json content;
            std::uint64_t after = 0; ///< the last output message of the cell
            bool paused = false;     ///< the worker stopped its queue after this cell
        };
        struct running_cell
        {
            pending_cell cell;
            std::uint64_t id = 0;
            std::string started;
            bool started_out = false; ///< busy and execute_input are published
            std::string notice;       ///< a lost-state notice to print first
            std::optional<cell_reply> reply;
        };
        struct event
        {
            std::string kind; ///< cell, requeue (a cell sent to a worker that exit()ed), quick, comm, input, reset, interrupt,
                              ///< resume, bad_worker (its cell reply was malformed), stop
            pending_cell cell;
            nl::json data;
        };

        void post(event e);
        void post_locked(event e);
        void wake_relay();
        /// Main thread: sends the cell over the cell lane when nothing of this note is queued on the relay and
        /// its worker is ready; false to leave it to the relay.
        bool start_on_lane(const client_request_ptr& request, std::uint64_t sequence);
        /// The worker's message on the cell lane (main thread): a cell's reply.
        void lane_message(worker_message message);
        /// Appends `cell` to the cells sent to the worker; returns its id. Under m_mutex.
        std::uint64_t begin_cell_locked(pending_cell cell, std::string notice = {});
        /// The worker's message for the cell it is sent as (`n` orders it there). Under m_mutex.
        nl::json execute_for_locked(std::uint64_t id);
        /// Publishes the first sent cell's start unless it is out or a reply is being sent. Under m_mutex.
        void start_front_locked();
        /// busy and execute_input (and a lost-state notice): before anything the cell prints. Under m_mutex.
        void publish_start(const client_request& request, const std::string& notice);
        /// Ends the first sent cell with its reply (state only, under m_mutex); returns it for send_finished, which
        /// must follow: until it has sent the reply and idle, no other cell of this note starts.
        /// `stops`: the reply stops the note's queue (stop_on_error), read before anything changed.
        running_cell end_current_locked(bool stops);
        void send_finished(const running_cell& cell, nl::json reply, bool stops);
        /// Answers the first sent cell if its reply came and its output is published (or `now`); true if it did.
        /// Any thread; one at a time (m_finish_mutex), so replies leave in order.
        bool finish_front(bool now);
        void finish_ready(bool now);

        void run();
        /// One pass over the worker's channel and exit, the cells ready to answer, the heartbeat and the queue.
        void serve_worker(short channel_events, short exit_events, worker_handle* polled);
        /// Runs `work`; if it throws, the note's worker is stopped and its cells answered (fail_worker).
        template <typename Work>
        void guarded(Work work);
        /// Something this note's worker sent broke the relay: the worker is killed, its cells get `why`.
        void fail_worker(const std::string& why);
        void handle(event& e);
        void start_next_cell();
        void ensure_worker();
        void send(nl::json header, std::string blob = {});
        void receive_from_worker();
        /// Relay: a cell's output (or prompt) waits while that cell's start is not out, and so does everything
        /// after it. Decided under m_mutex.
        bool holds_locked(const worker_message& message);
        bool waits_for_start_locked(const worker_message& message);
        /// Relay: handles held messages whose cell has started.
        void release_held();
        void relay(worker_message& message);
        void handle_worker_message(worker_message& message);
        void serve_call(worker_message& message);
        void heartbeat();
        /// No new cell may go to the worker from now on (it is dying or being replaced).
        void detach_worker();
        /// The worker ended: answers what it owed, remembers the loss for the next cell.
        void worker_ended(const std::string& cause);
        /// The worker is gone (`what` says how): answers what it owed with `ename`, remembers the loss.
        void lose_worker(const std::string& ename, const std::string& what, const std::string& cause);
        /// Kills the worker on purpose (reset, stop): no death is reported.
        void discard_worker();
        /// Before a reset ends the worker: relays what it wrote before the replies already in (at most 1 s).
        void relay_answered_output();
        /// After a reset: the next worker starts at once and no loss is reported.
        void forget_losses();
        void answer_pending(const std::string& ename, const std::string& why_running, const std::string& why_queued);
        std::string describe_ending(const std::string& ending) const;

        const std::string m_key;
        isolated_environment m_environment;
        int m_wake_fd = -1;

        std::mutex m_mutex; ///< guards what several threads touch: events, the running cell, pid, prompt, counts
        std::deque<event> m_events;
        std::size_t m_unhandled = 0; ///< events posted and not yet handled by the relay (a reset among them)
        pid_t m_pid = 0;
        std::string m_lane_id; ///< the worker's id on the cell lane; empty while there is no usable worker
        pending_prompt m_prompt;
        std::mutex m_finish_mutex; ///< held while a cell's reply (and the aborts behind it) is sent
        std::deque<running_cell> m_running; ///< sent to the worker, not answered yet, in order
        std::uint64_t m_sent = 0; ///< the number of the last cell sent to the current worker
        bool m_answering = false; ///< a finished cell's reply and idle are being sent: no cell starts meanwhile
        bool m_holding = false;   ///< the relay holds output of a cell not started yet
        std::size_t m_queued = 0;                 ///< cells posted and not yet started or answered
        int m_executions = 0;
        /// stop_on_error of this note's queue; shared with the settle hook of a failed cell's reply, which the main
        /// thread may run after this context is gone.
        const std::shared_ptr<abort_line> m_aborts = std::make_shared<abort_line>();
        std::string m_lost_state; ///< why the earlier state is gone (the last worker died), told to the next cell
        std::atomic<std::int64_t> m_last_activity{0};
        std::atomic<bool> m_ended{false};
        std::atomic<std::uint64_t> m_next_id{0};
        std::atomic<std::uint64_t> m_relayed{0}; ///< `q` of the last worker message the relay has handled
        std::atomic<int> m_consecutive_deaths{0};

        // Relay thread only.
        std::unique_ptr<worker_handle> m_worker;
        std::deque<pending_cell> m_cells;
        std::map<std::uint64_t, client_request_ptr> m_quick;
        std::map<std::uint64_t, nl::json> m_comm_handling; ///< comm messages the worker handles: their headers
        std::deque<worker_message> m_held; ///< worker messages waiting for their cell's start
        std::string m_last_death;
        std::chrono::steady_clock::time_point m_last_ping{};
        std::chrono::steady_clock::time_point m_last_pong{};
        std::thread m_thread;
    };
}
