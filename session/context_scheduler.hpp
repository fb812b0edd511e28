// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace atrium
{
    /// Work the scheduler refuses; `what()` starts with a stable id such as `[scheduler.stopped]`.
    struct scheduler_error : std::runtime_error
    {
        using std::runtime_error::runtime_error;
    };

    /// Runs jobs in submission order per context key, and different keys side by side.
    ///
    /// Threads: the scheduler owns and joins every worker. A worker serves one key at a time and is started
    /// only when a key has work and no idle worker can take it; a worker with nothing to do for `idle_exit`
    /// ends, so 1000 quiet notes cost no threads. A key's jobs never overlap, but successive jobs of one
    /// key may run on different threads: callers must not keep per-thread state for a key. Workers start
    /// with SIGINT blocked, because SIGINT is meant for the process's main thread.
    class context_scheduler
    {
    public:
        using job = std::function<void()>;
        using clock = std::chrono::steady_clock;

        struct key_stats
        {
            bool running = false;
            std::size_t queued = 0;
            std::uint64_t completed = 0; ///< jobs finished, including those that threw
            std::uint64_t failed = 0;    ///< jobs that threw
            clock::time_point last_activity{};
        };

        struct keyed_job
        {
            std::string key;
            job work;
        };

        /// `max_workers` 0 means one worker per busy key. With a bound, keys beyond it wait in arrival order,
        /// and while any key waits each worker hands its key to the back of the line after every job.
        explicit context_scheduler(std::size_t max_workers = 0,
                                   std::chrono::milliseconds idle_exit = std::chrono::seconds(1));
        /// Calls `shutdown()`, dropping queued jobs.
        ~context_scheduler();

        context_scheduler(const context_scheduler&) = delete;
        context_scheduler& operator=(const context_scheduler&) = delete;

        /// Queues `work` behind the key's earlier jobs. A job that throws is counted in `failed` and the
        /// key's next job runs as usual. Throws `[scheduler.stopped]` once shutdown has begun,
        /// `[scheduler.empty_job]` for an empty function, `[scheduler.no_thread]` if no worker can be
        /// started.
        void submit(const std::string& key, job work);

        /// Removes and returns the key's jobs that have not started, oldest first (to abort a context's
        /// queue after an error); a running job and other keys are not affected.
        std::vector<job> take_queued(const std::string& key);

        /// All zero for a key never seen.
        key_stats stats(const std::string& key) const;
        /// Every key submitted to and not forgotten, sorted.
        std::vector<std::string> keys() const;
        /// Drops a key's statistics (true). While it has queued or running work it returns false and the key is
        /// dropped once that work is done, unless more is submitted for it meanwhile.
        bool forget(const std::string& key);

        /// Worker threads alive, including those waiting out `idle_exit`.
        std::size_t worker_count() const;
        /// False once shutdown has begun.
        bool accepting() const noexcept;

        /// Stops accepting work, lets running jobs finish, and joins every worker. Queued jobs are not run:
        /// they are returned, in submission order, so the caller can answer the requests they stood for.
        /// Blocks as long as a running job does; throws std::logic_error when called from a job.
        std::vector<keyed_job> shutdown();

    private:
        struct queued_job
        {
            std::uint64_t sequence;
            job work;
        };

        struct key_state
        {
            std::deque<queued_job> queue;
            bool claimed = false; ///< a worker is serving this key
            bool waiting = false; ///< in m_waiting_keys
            bool running = false; ///< a job of this key is executing
            bool forget_when_done = false; ///< forget() came while busy: dropped when its queue runs dry
            std::uint64_t completed = 0;
            std::uint64_t failed = 0;
            clock::time_point last_activity{};
        };

        void worker_main();
        void serve_key(std::unique_lock<std::mutex>& lock, const std::string& key);
        bool must_yield_locked() const;
        void start_worker_locked();
        void join_exited();

        const std::size_t m_max_workers;
        const std::chrono::milliseconds m_idle_exit;

        mutable std::mutex m_mutex;
        std::condition_variable m_work_waiting; ///< idle workers wait here for a waiting key
        std::condition_variable m_worker_ended; ///< shutdown waits here for the last worker
        std::atomic<bool> m_stopping{false};
        std::uint64_t m_next_sequence = 0;
        std::map<std::string, key_state> m_keys;
        /// Keys with queued jobs and no worker, in the order they became ready.
        std::deque<std::string> m_waiting_keys;
        std::size_t m_idle_workers = 0;
        std::map<std::thread::id, std::thread> m_workers;
        /// Workers that have ended but are not joined yet.
        std::vector<std::thread> m_ended;
    };
}
