// SPDX-License-Identifier: MIT
#pragma once

#include "session/worker/worker_process.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace atrium
{
    /// The kernel's worker template ("zygote"): an `atrium-worker --template` process that has started Python
    /// and imported the preload modules once, and forks a new worker for each request, so workers start in
    /// milliseconds and share those pages copy-on-write. Each forked worker is the kernel's own child
    /// (CLONE_PARENT), holds its own key (handed over in a pipe the template never reads) and is a
    /// worker_process like a spawned one: reaped here, killed with the kernel, limited by setrlimit.
    ///
    /// Start it, like workers, from the pool's spawner thread: the template dies with that thread
    /// (PR_SET_PDEATHSIG), and its workers with the thread that forked the template. Not thread-safe.
    class worker_template
    {
    public:
        /// Starts the template and waits until it has imported `preload` (comma-separated module names; with
        /// `skip_missing` those not installed are left out). Throws `[worker.preload] <why>` when it cannot (import
        /// error, Python did not start) or `[worker.template] <why>` (the template died or hung).
        worker_template(const std::string& executable, const std::string& preload, bool skip_missing, int log_fd,
                        std::chrono::milliseconds timeout);
        /// Closing the channel ends the template; it is then killed and reaped. Forked workers live on.
        ~worker_template();
        worker_template(const worker_template&) = delete;
        worker_template& operator=(const worker_template&) = delete;

        /// A new worker for `launch` (its endpoint, key, lane, limits; log_fd and executable are the template's).
        /// Throws `[worker.template] <why>` when the template cannot fork one (it died, hung or refused): the
        /// caller spawns that worker plainly (with a new key) and starts a new template. Before it throws, this
        /// template is killed, and so is any child it made for this request that the kernel did not adopt.
        std::unique_ptr<worker_process> fork_worker(const worker_launch& launch);

        pid_t pid() const noexcept;
        /// True once the template process has ended (it is then reaped); `ending()` says how.
        bool ended();
        std::string ending() const;

    private:
        /// The template's next answer; throws `[worker.template]`/`[worker.preload]`-prefixed `what` on failure.
        std::string answer(const std::string& what);
        /// After a failed fork request: reads the pids the request's children sent into `birth` until end of
        /// stream (or the timeout) and kills and reaps each (but `already_reaped`), so no stray worker of ours
        /// lives on to connect with the key it was handed.
        void kill_unadopted(int birth, pid_t already_reaped);

        std::unique_ptr<worker_process> m_process;
        int m_control = -1;
        int m_log_fd = 2;
        std::chrono::milliseconds m_timeout;
    };
}
