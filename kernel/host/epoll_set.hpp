// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <vector>

namespace atrium
{
    /// A level-triggered epoll set of file descriptors (the fronts' sockets' ZMQ_FDs), itself one descriptor to
    /// poll: finding the few ready ones among fifty fronts' costs what it costs with one front, where zmq_poll
    /// over all of them cost two system calls a socket, twice a call.
    class epoll_set
    {
    public:
        epoll_set();
        ~epoll_set();
        epoll_set(const epoll_set&) = delete;
        epoll_set& operator=(const epoll_set&) = delete;

        /// Readable when one of the set is.
        int fd() const;
        /// Watches `fd` for input; `ready` then reports it by `tag`.
        void add(int fd, std::uint64_t tag);
        /// Stops watching `fd` (before the socket that owns it closes).
        void remove(int fd);
        /// Appends the tags of the descriptors readable now (up to 256: the rest stay ready); never waits.
        void ready(std::vector<std::uint64_t>& tags);

    private:
        int m_fd;
    };
}
