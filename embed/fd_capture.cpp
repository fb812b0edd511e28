// SPDX-License-Identifier: MIT
#include "embed/fd_capture.hpp"

#include "embed/utf8.hpp"
#include "common/signal_free_thread.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <stdexcept>

namespace atrium
{
    namespace
    {
        /// Bytes at the end of `text` that begin a UTF-8 sequence not yet complete.
        std::size_t incomplete_tail(const std::string& text)
        {
            for (std::size_t back = 1; back <= 3 && back <= text.size(); ++back)
            {
                unsigned char c = static_cast<unsigned char>(text[text.size() - back]);
                if ((c & 0xC0) == 0x80)
                    continue; // a continuation byte: look further back for the lead
                std::size_t needed = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
                return needed > back ? back : 0;
            }
            return 0;
        }
    }

    fd_capture::fd_capture(sink_fn sink)
        : m_sink(std::move(sink))
        , m_pipes{{"stdout", -1, -1, {}}, {"stderr", -1, -1, {}}}
    {
        if (::pipe2(m_wake, O_CLOEXEC) != 0)
            throw std::runtime_error("[embed.fd_capture] cannot create a pipe");
        for (int fd = 1; fd <= 2; ++fd)
        {
            pipe_state& pipe = m_pipes[fd - 1];
            int ends[2];
            if (::pipe2(ends, O_CLOEXEC) != 0)
                throw std::runtime_error("[embed.fd_capture] cannot create a pipe");
            pipe.original_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
            // The write end becomes fd 1 or 2 (without CLOEXEC: subprocesses inherit it, which is the point).
            ::dup2(ends[1], fd);
            ::close(ends[1]);
            pipe.read_fd = ends[0];
            ::fcntl(pipe.read_fd, F_SETFL, O_NONBLOCK);
        }
        m_thread = start_signal_free_thread([this] { run(); });
    }

    fd_capture::~fd_capture()
    {
        m_stop = true;
        [[maybe_unused]] auto n = ::write(m_wake[1], "x", 1);
        m_thread.join();
        for (int fd = 1; fd <= 2; ++fd)
        {
            ::dup2(m_pipes[fd - 1].original_fd, fd);
            ::close(m_pipes[fd - 1].original_fd);
            ::close(m_pipes[fd - 1].read_fd);
        }
        ::close(m_wake[0]);
        ::close(m_wake[1]);
    }

    int fd_capture::log_fd() const noexcept
    {
        return m_pipes[1].original_fd;
    }

    void fd_capture::drain()
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        for (auto& pipe : m_pipes)
            read_available(pipe);
    }

    void fd_capture::read_available(pipe_state& pipe)
    {
        char buffer[65536];
        std::string text = std::move(pipe.partial);
        pipe.partial.clear();
        while (true)
        {
            ssize_t n = ::read(pipe.read_fd, buffer, sizeof(buffer));
            if (n <= 0)
                break;
            text.append(buffer, static_cast<std::size_t>(n));
        }
        std::size_t tail = incomplete_tail(text);
        pipe.partial = text.substr(text.size() - tail);
        text.resize(text.size() - tail);
        if (!text.empty())
            m_sink(pipe.stream, repair_utf8(text));
    }

    void fd_capture::run()
    {
        pollfd fds[3] = {{m_pipes[0].read_fd, POLLIN, 0}, {m_pipes[1].read_fd, POLLIN, 0}, {m_wake[0], POLLIN, 0}};
        while (!m_stop)
        {
            if (::poll(fds, 3, -1) < 0)
                continue; // EINTR
            std::lock_guard<std::mutex> lock(m_mutex);
            for (int i = 0; i < 2; ++i)
            {
                if (fds[i].revents & POLLIN)
                    read_available(m_pipes[i]);
            }
        }
    }
}
