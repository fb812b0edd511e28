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

namespace atrium
{
    namespace
    {
        /// Connections that have not said hello yet, at most: workers say it first thing, so more than this
        /// many waiting means a process of ours is misbehaving, and its connections are turned away.
        constexpr std::size_t max_unproven_connections = 256;
        /// Datagrams read from one connection per call, so that one chatty worker cannot hold the main thread.
        constexpr int burst = 64;

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
        for (const auto& [connection, name] : m_connections)
            close(connection);
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
        // A skipped number (not sent after all) is fine: the worker accepts any higher one.
        const std::string datagram = it->second->wire.seal(std::move(header));
        return cell_socket::send(it->second->connection, datagram) == cell_socket::send_result::sent;
        // Gone: its relay sees the exit and answers for it; the hang-up is read by receive_all.
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
                accept_all();
            else if (m_connections.count(fd) && !read_connection(fd)) // forgotten meanwhile: closed already
                close_connection(fd);
        }
    }

    void cell_lane::accept_all()
    {
        while (true)
        {
            int connection = accept4(m_listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (connection < 0)
            {
                if (errno == EINTR || errno == ECONNABORTED)
                    continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                    std::cerr << "[atrium] [worker.lane] cannot accept a worker's connection: " << std::strerror(errno)
                              << std::endl;
                return;
            }
            std::size_t unproven = 0;
            for (const auto& [fd, name] : m_connections)
                unproven += name.empty() ? 1 : 0;
            if (cell_socket::peer_uid(connection) != static_cast<long>(geteuid()) ||
                unproven >= max_unproven_connections)
            {
                std::cerr << "[atrium] [worker.bad_message] refused a connection to the cells channel: "
                          << (unproven >= max_unproven_connections ? "too many connections without a hello"
                                                                   : "another OS user's process")
                          << std::endl;
                close(connection);
                continue;
            }
            if (!watch(connection))
            {
                std::cerr << "[atrium] [worker.lane] cannot watch a worker's connection: " << std::strerror(errno)
                          << std::endl;
                close(connection);
                continue;
            }
            m_connections[connection] = "";
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
                std::cerr << "[atrium] [worker.bad_message] refused a datagram over "
                          << cell_socket::max_datagram_bytes << " bytes on the cells channel" << std::endl;
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

    bool cell_lane::take(int connection, std::string_view datagram)
    {
        const std::string name = m_connections[connection];
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
            m_connections[connection] = it->first;
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
        if (!it->second.empty())
        {
            auto named = m_peers.find(it->second);
            if (named != m_peers.end())
                named->second->connection = -1;
        }
        epoll_ctl(m_epoll, EPOLL_CTL_DEL, connection, nullptr);
        close(connection);
        m_connections.erase(it);
    }
}
