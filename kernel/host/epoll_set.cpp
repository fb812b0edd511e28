// SPDX-License-Identifier: MIT
#include "kernel/host/epoll_set.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace atrium
{
    epoll_set::epoll_set()
        : m_fd(epoll_create1(EPOLL_CLOEXEC))
    {
        if (m_fd < 0)
            throw std::runtime_error(std::string("[host.epoll] epoll_create1: ") + std::strerror(errno));
    }

    epoll_set::~epoll_set()
    {
        ::close(m_fd);
    }

    int epoll_set::fd() const
    {
        return m_fd;
    }

    void epoll_set::add(int fd, std::uint64_t tag)
    {
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.u64 = tag;
        if (epoll_ctl(m_fd, EPOLL_CTL_ADD, fd, &event) != 0 && errno != EEXIST)
            throw std::runtime_error(std::string("[host.epoll] cannot watch a socket: ") + std::strerror(errno));
    }

    void epoll_set::remove(int fd)
    {
        epoll_ctl(m_fd, EPOLL_CTL_DEL, fd, nullptr); // ENOENT: never added (a shell still awaiting its subscriber)
    }

    void epoll_set::ready(std::vector<std::uint64_t>& tags)
    {
        // One call: descriptors beyond these stay ready (level-triggered), so the set's own fd does too.
        std::array<epoll_event, 256> events;
        int count;
        do
            count = epoll_wait(m_fd, events.data(), static_cast<int>(events.size()), 0);
        while (count < 0 && errno == EINTR);
        for (int i = 0; i < count; ++i)
            tags.push_back(events[static_cast<std::size_t>(i)].data.u64);
    }
}
