// SPDX-License-Identifier: MIT
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace atrium
{
    /// Resource limits applied to each worker process before it runs any code. Zero means no limit.
    struct worker_limits
    {
        std::uint64_t memory_bytes = 0; ///< address space (RLIMIT_AS)
        std::uint64_t cpu_seconds = 0;  ///< CPU time (RLIMIT_CPU): the worker gets SIGXCPU when it is used up
    };

    /// What to start: the worker executable and how it reaches the kernel.
    struct worker_launch
    {
        std::string executable;
        std::string endpoint; ///< the kernel's channel for this worker
        std::string key;      ///< written to the worker's stdin, never on its command line or environment
        int log_fd = 2;       ///< where the worker's own fds 1 and 2 lead (the kernel's log)
        worker_limits limits;
        std::string cells_endpoint; ///< the kernel's cell_lane
        std::string lane_id;        ///< the worker's name there
        /// When set, the program's arguments instead of the worker's (`--template ...`: the worker template).
        std::vector<std::string> arguments;
        int inherited_fd = -1; ///< when set, given to the child as its fd 3 (the template's control channel)
        int ring_fd = -1;      ///< when set, the worker's output ring (common/output_ring.hpp), given as its fd 4
    };

    /// One worker child process. The kernel reaps it (no zombies) and it dies with the thread that started
    /// it (PR_SET_PDEATHSIG): start workers from a thread that lives as long as the kernel.
    class worker_process
    {
    public:
        /// Forks and execs; throws `[worker.spawn]` when that fails.
        explicit worker_process(const worker_launch& launch);
        /// Takes charge of `pid`, a child of this process that someone else started: a worker the template forked
        /// with CLONE_PARENT. Throws `[worker.spawn]` when it is not one of our children.
        static std::unique_ptr<worker_process> adopt(pid_t pid);
        /// Kills (SIGKILL) and reaps the process if it is still running.
        ~worker_process();
        worker_process(const worker_process&) = delete;
        worker_process& operator=(const worker_process&) = delete;

        pid_t pid() const noexcept;
        /// Readable (poll) once the process has ended.
        int exit_fd() const noexcept;
        /// Sends a signal; false when the process has already been reaped.
        bool signal(int signal_number);
        /// Reaps the process if it has ended; its description is kept. True once it has ended.
        bool reap_if_ended();
        /// Kills with SIGKILL and reaps (waits for it).
        void kill_and_reap();
        /// How the process ended ("killed by SIGSEGV", "exited with code 1"), once reaped.
        const std::optional<std::string>& ending() const noexcept;
        /// Resident memory in bytes (from /proc), 0 once the process is gone.
        std::uint64_t resident_bytes() const;

    private:
        worker_process() = default;

        pid_t m_pid = -1;
        int m_exit_fd = -1;
        std::optional<std::string> m_ending;
    };

    /// Resident memory of a process in bytes (from /proc), 0 when it is gone.
    std::uint64_t resident_bytes_of(pid_t pid);
    /// Address space of a process in bytes (VmSize, what RLIMIT_AS counts), 0 when it is gone.
    std::uint64_t address_space_bytes_of(pid_t pid);

    /// "killed by SIGSEGV (segmentation fault)", "exited with code 3", from a waitpid status.
    std::string describe_exit_status(int status);
}
