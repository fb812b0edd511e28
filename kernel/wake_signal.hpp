// SPDX-License-Identifier: MIT
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>

namespace atrium
{
    /// An eventfd that one thread polls (next to its ZeroMQ sockets) and any thread raises to wake it.
    class wake_signal
    {
    public:
        wake_signal()
            : m_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC))
        {
            if (m_fd < 0)
                throw std::runtime_error("[kernel.eventfd] cannot create an eventfd");
        }

        ~wake_signal()
        {
            ::close(m_fd);
        }

        wake_signal(const wake_signal&) = delete;
        wake_signal& operator=(const wake_signal&) = delete;

        /// For a `zmq::pollitem_t`.
        int fd() const
        {
            return m_fd;
        }

        /// Any thread.
        void raise()
        {
            std::uint64_t one = 1;
            // A full counter still leaves the fd readable, so a failed write loses no wake-up.
            [[maybe_unused]] auto n = ::write(m_fd, &one, sizeof(one));
        }

        /// The polling thread, once the fd was readable.
        void clear()
        {
            std::uint64_t count;
            [[maybe_unused]] auto n = ::read(m_fd, &count, sizeof(count));
        }

    private:
        int m_fd;
    };
}
