// SPDX-License-Identifier: MIT
#include "session/worker/worker_template.hpp"

#include "common/error_ids.hpp"
#include "common/template_channel.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <stdexcept>

namespace atrium
{
    namespace
    {
        [[noreturn]] void fail(std::string_view id, const std::string& why)
        {
            // A reason the template gave carries its own id already.
            throw std::runtime_error(why.rfind('[', 0) == 0 ? why : std::string(id) + " " + why);
        }
    }

    worker_template::worker_template(const std::string& executable, const std::string& preload, bool skip_missing,
                                     int log_fd, std::chrono::milliseconds timeout)
        : m_log_fd(log_fd)
        , m_timeout(timeout)
    {
        int ends[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0)
            fail(error_id::worker_preload, std::string("cannot create the template's channel: ") + std::strerror(errno));
        m_control = ends[0];
        worker_launch launch;
        launch.executable = executable;
        launch.log_fd = log_fd;
        launch.arguments = {"--template", "--kernel-pid", std::to_string(getpid()),
                            skip_missing ? "--preload-if-installed" : "--preload", preload};
        launch.inherited_fd = ends[1];
        try
        {
            m_process = std::make_unique<worker_process>(launch);
        }
        catch (const std::exception& e)
        {
            close(ends[1]);
            close(m_control);
            throw std::runtime_error(std::string(error_id::worker_preload) + " " + e.what());
        }
        close(ends[1]); // from now on, the channel ends when the template does
        try
        {
            std::string first = answer("the template did not start");
            if (first != "ready")
                fail(error_id::worker_preload, first.rfind("failed ", 0) == 0 ? first.substr(7) : first);
        }
        catch (...)
        {
            close(m_control);
            throw;
        }
    }

    worker_template::~worker_template()
    {
        close(m_control);
        m_process.reset();
    }

    pid_t worker_template::pid() const noexcept
    {
        return m_process->pid();
    }

    bool worker_template::ended()
    {
        return m_process->reap_if_ended();
    }

    std::string worker_template::ending() const
    {
        return std::string(error_id::worker_template) + " the template process (pid " + std::to_string(pid()) + ") " +
               m_process->ending().value_or("ended");
    }

    std::string worker_template::answer(const std::string& what)
    {
        const auto deadline = std::chrono::steady_clock::now() + m_timeout;
        while (true)
        {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                fail(error_id::worker_template, what + ": no answer within " + std::to_string(m_timeout.count()) + " ms");
            pollfd items[] = {{m_control, POLLIN, 0}, {m_process->exit_fd(), POLLIN, 0}};
            int ready = poll(items, 2, static_cast<int>(left.count()));
            if (ready < 0 && errno != EINTR)
                fail(error_id::worker_template, what + ": poll: " + std::strerror(errno));
            if (items[0].revents & POLLIN)
            {
                // An answer the template sent just before it ended is still read.
                if (auto text = receive_datagram(m_control))
                    return *text;
            }
            if ((items[0].revents & (POLLIN | POLLHUP | POLLERR)) || (items[1].revents & POLLIN))
            {
                // The channel closes as the process exits, a moment before it can be reaped: wait for that, to
                // say how it ended.
                pollfd ended{m_process->exit_fd(), POLLIN, 0};
                poll(&ended, 1, 1000);
                m_process->reap_if_ended();
                fail(error_id::worker_template,
                     what + ": the template process " + m_process->ending().value_or("closed its channel"));
            }
        }
    }

    std::unique_ptr<worker_process> worker_template::fork_worker(const worker_launch& launch)
    {
        // The key goes into a pipe whose read end only the new worker keeps: the template passes it on unread.
        int key_pipe[2];
        if (pipe2(key_pipe, O_CLOEXEC) != 0)
            fail(error_id::worker_template, std::string("pipe: ") + std::strerror(errno));
        const std::string key_line = launch.key + "\n";
        ssize_t written = write(key_pipe[1], key_line.data(), key_line.size());
        close(key_pipe[1]);
        if (written != static_cast<ssize_t>(key_line.size()))
        {
            close(key_pipe[0]);
            fail(error_id::worker_template, "cannot write the key into its pipe");
        }
        // Each child sends its own pid into this socket first thing, so a child the kernel never adopts (the
        // template died or hung between clone and its "forked" reply) is still found, killed and reaped.
        int birth[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, birth) != 0)
        {
            close(key_pipe[0]);
            fail(error_id::worker_template, std::string("socketpair: ") + std::strerror(errno));
        }
        template_request request{launch.endpoint, launch.cells_endpoint, launch.lane_id, launch.limits.memory_bytes,
                                 launch.limits.cpu_seconds};
        std::vector<int> handed = {key_pipe[0], m_log_fd, birth[1]};
        if (launch.ring_fd >= 0)
            handed.push_back(launch.ring_fd); // the worker's output ring; the kernel keeps its own descriptor
        const bool sent = send_datagram(m_control, request.encode(), handed);
        const int send_error = errno;
        close(key_pipe[0]);
        close(birth[1]); // from now on only the template and the child hold it: end of stream once both let go
        if (!sent)
        {
            close(birth[0]);
            m_process->reap_if_ended();
            fail(error_id::worker_template, std::string("cannot reach the template: ") + std::strerror(send_error) +
                                                (m_process->ending() ? " (it " + *m_process->ending() + ")" : ""));
        }
        pid_t adopting = -1;
        try
        {
            std::string reply = answer("forking a worker");
            if (reply.rfind("forked ", 0) != 0)
                fail(error_id::worker_template, reply.rfind("failed ", 0) == 0 ? reply.substr(7) : reply);
            adopting = static_cast<pid_t>(std::atoi(reply.c_str() + 7));
            // When adopt throws after the pid proved to be our child (pidfd_open: EMFILE), its half-built
            // worker_process has killed and reaped it already.
            auto child = worker_process::adopt(adopting);
            close(birth[0]);
            return child;
        }
        catch (...)
        {
            // The template is dead, hung or in doubt: it goes (the pool starts a new one), which also lets go of
            // its end of `birth`; then every child it made for this request has said who it is or never will.
            m_process->kill_and_reap();
            kill_unadopted(birth[0], adopting);
            close(birth[0]);
            throw;
        }
    }

    void worker_template::kill_unadopted(int birth, pid_t already_reaped)
    {
        const auto deadline = std::chrono::steady_clock::now() + m_timeout;
        while (true)
        {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            pollfd item{birth, POLLIN, 0};
            if (left.count() <= 0 || (poll(&item, 1, static_cast<int>(left.count())) < 0 && errno != EINTR))
            {
                std::cerr << "[atrium] " << error_id::worker_template
                          << " a forked worker did not say its pid in time; it may be left running" << std::endl;
                return;
            }
            if (!(item.revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            pid_t pid = 0;
            ssize_t got = recv(birth, &pid, sizeof pid, MSG_DONTWAIT);
            if (got < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (got != static_cast<ssize_t>(sizeof pid))
                return; // end of stream: no other child holds it
            // Our own unreaped child (checked without reaping), so the pid cannot have been reused.
            siginfo_t state{};
            if (pid <= 0 || pid == already_reaped ||
                waitid(P_PID, static_cast<id_t>(pid), &state, WEXITED | WNOHANG | WNOWAIT) != 0)
                continue;
            ::kill(pid, SIGKILL);
            while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR)
            {
            }
            std::cerr << "[atrium] " << error_id::worker_template << " killed worker process " << pid
                      << ", which the template forked but the kernel never adopted" << std::endl;
        }
    }
}
