// SPDX-License-Identifier: MIT
#include "session/worker/cell_lane.hpp"

#include "common/cell_socket.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <vector>

namespace atrium
{
    namespace
    {
        /// Connections that have not said hello yet, at most: workers say it first thing, so more than this
        /// many waiting means a process of ours is misbehaving, and its connections are turned away.
        constexpr std::size_t max_unproven_connections = 256;
        /// How long a connection may stay without its hello before it is closed.
        constexpr auto hello_deadline = std::chrono::seconds(30);
        /// Datagrams read from one connection, and connections accepted, per call: the main thread also serves
        /// every client's shell requests, so no peer may hold it for long (level-triggered: the rest come next).
        constexpr int burst = 64;
        constexpr int accepts_per_call = 16;

        std::string lane_endpoint()
        {
            // A kernel process may hold more than one lane (tests do): each gets a name of its own.
            static std::atomic<unsigned> lanes{0};
            return "@atrium-" + std::to_string(getpid()) + "-cells-" + std::to_string(++lanes);
        }
    }

    cell_lane::peer::peer(const std::string& key)
        : wire(key, "cells")
    {
    }

    cell_lane::cell_lane()
        : m_endpoint(lane_endpoint())
        , m_listener(cell_socket::listen_on(m_endpoint))
        , m_epoll(epoll_create1(EPOLL_CLOEXEC))
    {
        if (m_epoll < 0)
        {
            close(m_listener);
            throw std::runtime_error(std::string("[worker.spawn] cannot create an epoll set: ") + std::strerror(errno));
        }
        if (!watch(m_listener))
        {
            const int error = errno;
            close(m_listener);
            close(m_epoll);
            throw std::runtime_error(std::string("[worker.spawn] cannot watch the cells channel: ") +
                                     std::strerror(error));
        }
    }

    cell_lane::~cell_lane()
    {
        for (const auto& [fd, open] : m_connections)
            close(fd);
        close(m_listener);
        close(m_epoll);
    }

    const std::string& cell_lane::endpoint() const noexcept
    {
        return m_endpoint;
    }

    int cell_lane::fd() const noexcept
    {
        return m_epoll;
    }

    std::string cell_lane::announce(const std::string& key)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        close_silent_connections(); // (also what may have used the descriptors up)
        resume_listening();        // the worker about to start connects
        std::string id = "w" + std::to_string(++m_next);
        m_peers[id] = std::make_unique<peer>(key);
        return id;
    }

    void cell_lane::attach(const std::string& id, handler on_message)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto it = m_peers.find(id);
        if (it != m_peers.end())
            it->second->on_message = std::move(on_message);
    }

    void cell_lane::forget(const std::string& id)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto it = m_peers.find(id);
        if (it == m_peers.end())
            return;
        if (it->second->connection >= 0)
            close_connection(it->second->connection);
        m_peers.erase(it);
    }

    bool cell_lane::proven(const std::string& id)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto it = m_peers.find(id);
        return it != m_peers.end() && it->second->connection >= 0;
    }

    bool cell_lane::send(const std::string& id, nlohmann::json header)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto it = m_peers.find(id);
        if (it == m_peers.end() || it->second->connection < 0)
            return false;
        // A skipped number (not sent after all) is fine: the worker accepts any higher one. Not sent (too large, a
        // full queue, gone): the caller sends it the slow way; a hang-up is read by receive_all.
        try
        {
            return cell_socket::send(it->second->connection, it->second->wire.seal(std::move(header))) ==
                   cell_socket::send_result::sent;
        }
        catch (const worker_wire_error&)
        {
            return false; // over the channel's bounds: the slow way says why
        }
    }

    void cell_lane::receive_all()
    {
        epoll_event ready[32];
        int count = epoll_wait(m_epoll, ready, 32, 0);
        std::lock_guard<std::mutex> lock(m_mutex);
        for (int i = 0; i < count; ++i)
        {
            const int fd = ready[i].data.fd;
            if (fd == m_listener)
                accept_some();
            else if (m_connections.count(fd) && !read_connection(fd)) // forgotten meanwhile: closed already
                close_connection(fd);
        }
    }

    void cell_lane::accept_some()
    {
        close_silent_connections();
        for (int accepted = 0; accepted < accepts_per_call; ++accepted)
        {
            int fd = accept4(m_listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0)
            {
                if (errno == EINTR || errno == ECONNABORTED)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    return;
                // Out of descriptors (or memory): the connection stays pending and the listener readable, so it is
                // set aside until a connection closes or a worker is announced, not retried in a loop.
                std::cerr << "[atrium] [worker.lane] cannot accept a worker's connection now ("
                          << std::strerror(errno) << "): new workers use their link alone until descriptors free up"
                          << std::endl;
                epoll_ctl(m_epoll, EPOLL_CTL_DEL, m_listener, nullptr);
                m_listening = false;
                close_silent_connections(); // they may be what used the descriptors up
                return;
            }
            std::size_t unproven = 0;
            for (const auto& [other, open] : m_connections)
                unproven += open.name.empty() ? 1 : 0;
            if (cell_socket::peer_uid(fd) != static_cast<long>(geteuid()) || unproven >= max_unproven_connections)
            {
                std::cerr << "[atrium] [worker.bad_message] refused a connection to the cells channel: "
                          << (unproven >= max_unproven_connections ? "too many connections without a hello"
                                                                   : "another OS user's process")
                          << std::endl;
                close(fd);
                continue;
            }
            if (!watch(fd))
            {
                std::cerr << "[atrium] [worker.lane] cannot watch a worker's connection: " << std::strerror(errno)
                          << std::endl;
                close(fd);
                continue;
            }
            m_connections[fd] = {"", std::chrono::steady_clock::now()};
        }
    }

    void cell_lane::close_silent_connections()
    {
        const auto now = std::chrono::steady_clock::now();
        std::vector<int> silent;
        for (const auto& [fd, open] : m_connections)
            if (open.name.empty() && now - open.opened > hello_deadline)
                silent.push_back(fd);
        for (int fd : silent)
        {
            std::cerr << "[atrium] [worker.bad_message] closed a connection to the cells channel that sent no hello"
                      << std::endl;
            close_connection(fd);
        }
    }

    bool cell_lane::read_connection(int connection)
    {
        for (int i = 0; i < burst; ++i)
        {
            switch (cell_socket::receive(connection, m_buffer))
            {
            case cell_socket::receive_result::nothing:
                return true;
            case cell_socket::receive_result::closed:
                return false;
            case cell_socket::receive_result::oversize:
                report_broken(connection, "[worker.bad_message] a datagram over " +
                                              std::to_string(cell_socket::max_datagram_bytes) +
                                              " bytes on the cells channel");
                return false;
            case cell_socket::receive_result::message:
                if (!take(connection, m_buffer))
                    return false;
                if (!m_connections.count(connection))
                    return true; // a handler forgot its own worker (closed already)
                break;
            }
        }
        return true; // the rest on the next call: level-triggered, it is readable still
    }

    void cell_lane::report_broken(int connection, const std::string& why)
    {
        std::cerr << "[atrium] " << why << ": the connection is closed" << std::endl;
        const std::string& name = m_connections.at(connection).name;
        auto it = name.empty() ? m_peers.end() : m_peers.find(name);
        // Its handler stops the worker and answers its cells with `why`: a reply may be lost with the connection,
        // and its cell would wait for it forever.
        if (it != m_peers.end() && it->second->on_message)
            it->second->on_message(worker_message{{{"type", "lane_broken"}, {"why", why}}, {}});
    }

    bool cell_lane::take(int connection, std::string_view datagram)
    {
        const std::string name = m_connections.at(connection).name;
        if (name.empty())
        {
            // An unproven connection: its first message must be a hello, signed by the worker it names.
            auto claim = worker_wire::unverified_header(datagram);
            auto it = claim && claim->is_object() && (*claim)["type"] == "hello" && (*claim)["lane"].is_string()
                          ? m_peers.find((*claim)["lane"].get<std::string>())
                          : m_peers.end();
            if (it == m_peers.end() || it->second->connection >= 0)
            {
                std::cerr << "[atrium] [worker.bad_message] refused a connection to the cells channel: its first "
                             "message is not a hello from an expected worker"
                          << std::endl;
                return false;
            }
            try
            {
                it->second->wire.open(datagram);
            }
            catch (const worker_wire_error& error)
            {
                std::cerr << "[atrium] refused a hello on the cells channel for worker " << it->first << ": "
                          << error.what() << std::endl;
                return false;
            }
            it->second->connection = connection;
            m_connections.at(connection).name = it->first;
            return true;
        }
        peer& from = *m_peers.at(name); // a proven connection's peer: forget closes the two together
        worker_message message;
        try
        {
            message = from.wire.open(datagram);
        }
        catch (const worker_wire_error& error)
        {
            std::cerr << "[atrium] refused a message on the cells channel of worker " << name << ": " << error.what()
                      << std::endl;
            return true;
        }
        if (from.on_message)
            from.on_message(std::move(message)); // must not throw
        else
            std::cerr << "[atrium] a " << message.type() << " from worker " << name
                      << " on the cells channel before it serves a note: dropped" << std::endl;
        return true;
    }

    void cell_lane::resume_listening()
    {
        if (!m_listening && watch(m_listener))
            m_listening = true;
    }

    bool cell_lane::watch(int fd)
    {
        epoll_event interest{};
        interest.events = EPOLLIN;
        interest.data.fd = fd;
        return epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &interest) == 0;
    }

    void cell_lane::close_connection(int connection)
    {
        auto it = m_connections.find(connection);
        if (it == m_connections.end())
            return;
        if (!it->second.name.empty())
        {
            auto named = m_peers.find(it->second.name);
            if (named != m_peers.end())
                named->second->connection = -1;
        }
        epoll_ctl(m_epoll, EPOLL_CTL_DEL, connection, nullptr);
        close(connection);
        m_connections.erase(it);
        resume_listening(); // a descriptor is free
    }
}
