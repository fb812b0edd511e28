// SPDX-License-Identifier: MIT
#include "session/worker/cell_lane.hpp"

#include <unistd.h>

#include <iostream>

namespace atrium
{
    cell_lane::peer::peer(const std::string& key)
        : wire(key, "cells")
    {
    }

    cell_lane::cell_lane()
        : m_context(1)
        , m_socket(m_context, zmq::socket_type::router)
    {
        m_socket.set(zmq::sockopt::linger, 0);
        m_socket.set(zmq::sockopt::sndhwm, 0);
        m_socket.set(zmq::sockopt::rcvhwm, 0);
        m_socket.set(zmq::sockopt::router_mandatory, 1); // a gone worker is an error, not a silent drop
        m_socket.bind("ipc://@atrium-" + std::to_string(getpid()) + "-cells");
        m_endpoint = m_socket.get(zmq::sockopt::last_endpoint);
    }

    const std::string& cell_lane::endpoint() const noexcept
    {
        return m_endpoint;
    }

    zmq::socket_t& cell_lane::socket() noexcept
    {
        return m_socket;
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
        m_names.erase(it->second->route);
        m_peers.erase(it);
    }

    bool cell_lane::proven(const std::string& id)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto it = m_peers.find(id);
        return it != m_peers.end() && !it->second->route.empty();
    }

    bool cell_lane::send(const std::string& id, nlohmann::json header)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto it = m_peers.find(id);
        if (it == m_peers.end() || it->second->route.empty())
            return false;
        try
        {
            it->second->wire.send(m_socket, std::move(header), {}, &it->second->route);
            return true;
        }
        catch (const zmq::error_t&)
        {
            return false; // not connected (any more): its relay sees the exit and answers for it
        }
    }

    cell_lane::peer* cell_lane::sender_of(const std::string& route, const std::vector<zmq::message_t>& frames,
                                          std::string& id)
    {
        auto named = m_names.find(route);
        if (named != m_names.end())
        {
            id = named->second;
        }
        else
        {
            // An unproven connection: only a hello is heard, looked up by the name it claims, then verified.
            auto claim = worker_wire::unverified_header(frames);
            if (!claim || !claim->is_object() || !(*claim)["type"].is_string() || (*claim)["type"] != "hello" ||
                !(*claim)["lane"].is_string())
                return nullptr;
            id = (*claim)["lane"].get<std::string>();
        }
        auto it = m_peers.find(id);
        if (it == m_peers.end() || (named == m_names.end() && !it->second->route.empty()))
            return nullptr; // unknown, or proven already on another connection
        return it->second.get();
    }

    void cell_lane::receive_all()
    {
        std::vector<zmq::message_t> frames;
        while (worker_wire::read_frames(m_socket, frames))
        {
            std::string route(static_cast<const char*>(frames.front().data()), frames.front().size());
            frames.erase(frames.begin());
            std::lock_guard<std::mutex> lock(m_mutex);
            std::string id;
            peer* from = sender_of(route, frames, id);
            if (!from)
            {
                std::cerr << "[atrium] [worker.bad_message] refused a message on the cells channel from an unknown "
                             "peer"
                          << std::endl;
                continue;
            }
            worker_message message;
            try
            {
                message = from->wire.verify(frames);
            }
            catch (const worker_wire_error& error)
            {
                std::cerr << "[atrium] refused a message on the cells channel of worker " << id << ": "
                          << error.what() << std::endl;
                continue;
            }
            if (from->route.empty())
            {
                from->route = route; // its signed hello: this connection is that worker's
                m_names[route] = id;
            }
            else if (from->on_message)
                from->on_message(std::move(message)); // must not throw
            else
                std::cerr << "[atrium] a " << message.type() << " from worker " << id
                          << " on the cells channel before it serves a note: dropped" << std::endl;
        }
    }
}
