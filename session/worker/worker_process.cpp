// SPDX-License-Identifier: MIT
#include "session/worker/worker_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

extern char** environ;

namespace atrium
{
    namespace
    {
        constexpr int ring_child_fd = 4; // after stdio and fd 3 (the template's control channel)

        [[noreturn]] void spawn_failed(const std::string& what)
        {
            throw std::runtime_error("[worker.spawn] cannot start a worker process: " + what + ": " +
                                     std::strerror(errno));
        }

        void set_limit(int resource, std::uint64_t value)
        {
            if (value == 0)
                return;
            rlimit limit{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
            if (resource == RLIMIT_CPU)
                limit.rlim_max = static_cast<rlim_t>(value + 5); // SIGXCPU first, so the kernel can say why
            setrlimit(resource, &limit);
        }
    }

    worker_process::worker_process(const worker_launch& launch)
    {
        // Everything the child needs is prepared before fork: between fork and exec only async-signal-safe
        // calls are allowed (other kernel threads may hold malloc's locks).
        std::vector<std::string> arguments = {launch.executable, "--connect", launch.endpoint,
                                              "--cells",         launch.cells_endpoint,
                                              "--lane",          launch.lane_id,
                                              "--kernel-pid",    std::to_string(getpid())};
        if (launch.ring_fd >= 0)
            arguments.insert(arguments.end(), {"--ring-fd", std::to_string(ring_child_fd)});
        if (!launch.arguments.empty())
        {
            // Other arguments could not tell the child about the ring it would hold.
            if (launch.ring_fd >= 0)
                throw std::invalid_argument("[worker.spawn] an output ring is only for a worker's own arguments");
            arguments = launch.arguments;
            arguments.insert(arguments.begin(), launch.executable);
        }
        std::vector<char*> argv;
        for (auto& argument : arguments)
            argv.push_back(argument.data());
        argv.push_back(nullptr);

        int key_pipe[2];
        if (pipe2(key_pipe, O_CLOEXEC) != 0)
            spawn_failed("pipe");
        pid_t parent = getpid();
        pid_t child = fork();
        if (child < 0)
        {
            close(key_pipe[0]);
            close(key_pipe[1]);
            spawn_failed("fork");
        }
        if (child == 0)
        {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(111); // the kernel died before the line above took effect
            dup2(key_pipe[0], 0);
            dup2(launch.log_fd, 1);
            dup2(launch.log_fd, 2);
            unsigned first_closed = 3;
            // Out of the way first: the control channel's move to fd 3 must not close the ring's descriptor.
            const int ring = launch.ring_fd >= 0 ? fcntl(launch.ring_fd, F_DUPFD_CLOEXEC, ring_child_fd + 1) : -1;
            if (launch.ring_fd >= 0 && ring < 0)
                _exit(126); // told `--ring-fd 4`, the worker would take whatever fd 4 is for its ring
            if (launch.inherited_fd >= 0)
            {
                if (launch.inherited_fd == 3)
                    fcntl(3, F_SETFD, 0); // dup2 onto itself would leave close-on-exec set
                else
                    dup2(launch.inherited_fd, 3); // the copy is not close-on-exec
                first_closed = 4;
            }
            if (ring >= 0)
            {
                if (launch.inherited_fd < 0)
                    close(3); // below the range closed next: nothing of the kernel's may stay there
                dup2(ring, ring_child_fd); // the copy is not close-on-exec; the worker sets it again
                first_closed = ring_child_fd + 1;
            }
            syscall(SYS_close_range, first_closed, ~0U, 0U); // nothing of the kernel's: sockets, pipes, files
            set_limit(RLIMIT_AS, launch.limits.memory_bytes);
            set_limit(RLIMIT_CPU, launch.limits.cpu_seconds);
            // The kernel ignores SIGINT in some modes; a worker must start with the default disposition.
            ::signal(SIGINT, SIG_DFL);
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, nullptr);
            execve(argv[0], argv.data(), environ);
            _exit(127);
        }
        close(key_pipe[0]);
        std::string key_line = launch.key + "\n";
        // A child gone before it reads (exec failed) makes this write raise SIGPIPE, whose default ends the
        // kernel (or the unit tests, seen under load): block it here and swallow the one this write raised.
        sigset_t pipe_signal, previous;
        sigemptyset(&pipe_signal);
        sigaddset(&pipe_signal, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_signal, &previous);
        ssize_t written = write(key_pipe[1], key_line.data(), key_line.size());
        const int write_error = errno;
        if (written < 0 && write_error == EPIPE && !sigismember(&previous, SIGPIPE))
        {
            const timespec now{0, 0};
            while (sigtimedwait(&pipe_signal, nullptr, &now) < 0 && errno == EINTR)
            {
            }
        }
        pthread_sigmask(SIG_SETMASK, &previous, nullptr);
        errno = write_error;
        close(key_pipe[1]);
        m_pid = child;
        m_exit_fd = static_cast<int>(syscall(SYS_pidfd_open, child, 0));
        if (written != static_cast<ssize_t>(key_line.size()) || m_exit_fd < 0)
        {
            const int error = errno;
            if (written < 0 && error == EPIPE && m_exit_fd >= 0)
            {
                // Nobody reads the key: the child is gone already (an executable that cannot run exits 127 at
                // once). Say how it ended rather than "Broken pipe".
                pollfd ended{m_exit_fd, POLLIN, 0};
                poll(&ended, 1, 1000);
                if (reap_if_ended())
                    throw std::runtime_error("[worker.spawn] cannot start a worker process: " + launch.executable +
                                             " " + *m_ending + " before it read its key");
            }
            kill_and_reap();
            errno = error;
            spawn_failed("handing over the key");
        }
    }

    std::unique_ptr<worker_process> worker_process::adopt(pid_t pid)
    {
        std::unique_ptr<worker_process> process(new worker_process());
        // Only our own child can be waited for; anything else (a pid that ended and was reused) is refused
        // before a pidfd or a kill could reach it.
        siginfo_t state{};
        if (pid <= 0 || waitid(P_PID, static_cast<id_t>(pid), &state, WEXITED | WNOHANG | WNOWAIT) != 0)
            spawn_failed("adopting process " + std::to_string(pid));
        process->m_pid = pid;
        process->m_exit_fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
        if (process->m_exit_fd < 0)
            spawn_failed("pidfd_open");
        return process;
    }

    worker_process::~worker_process()
    {
        kill_and_reap();
        if (m_exit_fd >= 0)
            close(m_exit_fd);
    }

    pid_t worker_process::pid() const noexcept
    {
        return m_pid;
    }

    int worker_process::exit_fd() const noexcept
    {
        return m_exit_fd;
    }

    bool worker_process::signal(int signal_number)
    {
        if (m_ending || m_pid <= 0)
            return false;
        return ::kill(m_pid, signal_number) == 0;
    }

    bool worker_process::reap_if_ended()
    {
        if (m_ending)
            return true;
        if (m_pid <= 0)
            return false;
        int status = 0;
        pid_t done = waitpid(m_pid, &status, WNOHANG);
        if (done == m_pid)
        {
            m_ending = describe_exit_status(status);
            return true;
        }
        return false;
    }

    void worker_process::kill_and_reap()
    {
        if (m_ending || m_pid <= 0)
            return;
        ::kill(m_pid, SIGKILL);
        int status = 0;
        while (waitpid(m_pid, &status, 0) < 0 && errno == EINTR)
        {
        }
        m_ending = describe_exit_status(status);
    }

    const std::optional<std::string>& worker_process::ending() const noexcept
    {
        return m_ending;
    }

    std::uint64_t worker_process::resident_bytes() const
    {
        return m_ending ? 0 : resident_bytes_of(m_pid);
    }

    namespace
    {
        std::uint64_t status_field_bytes(pid_t pid, const std::string& field)
        {
            std::ifstream status("/proc/" + std::to_string(pid) + "/status");
            std::string line;
            while (std::getline(status, line))
            {
                if (line.rfind(field, 0) == 0)
                    return std::stoull(line.substr(field.size())) * 1024;
            }
            return 0;
        }
    }

    std::uint64_t resident_bytes_of(pid_t pid)
    {
        return status_field_bytes(pid, "VmRSS:");
    }

    std::uint64_t address_space_bytes_of(pid_t pid)
    {
        return status_field_bytes(pid, "VmSize:");
    }

    std::string describe_exit_status(int status)
    {
        if (WIFEXITED(status))
            return "exited with code " + std::to_string(WEXITSTATUS(status));
        if (WIFSIGNALED(status))
        {
            int number = WTERMSIG(status);
            const char* name = sigabbrev_np(number);
            std::string text = "killed by " + (name ? "SIG" + std::string(name) : "signal " + std::to_string(number));
            const char* description = sigdescr_np(number);
            if (description)
                text += std::string(" (") + description + ")";
            return text;
        }
        return "ended with status " + std::to_string(status);
    }
}
