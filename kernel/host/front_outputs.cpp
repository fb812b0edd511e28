// SPDX-License-Identifier: MIT
#include "kernel/host/front_outputs.hpp"

#include "kernel/frame_send.hpp"
#include "kernel/host/front_rewrite.hpp"
#include "kernel/host/relay_frames.hpp"
#include "kernel/json_writer.hpp"
#include "kernel/wire_codec.hpp"
#include "common/zmq_retry.hpp"

#include <algorithm>

namespace atrium
{
    namespace
    {
        constexpr int burst = 64; ///< subscription events read from one front before the others get their turn
    }

    front_outputs::route::route(std::shared_ptr<zmq::socket_t> iopub, const std::string& key, std::string session_id,
                                std::shared_ptr<const request_memory> requests)
        : iopub(std::move(iopub))
        , signer("hmac-sha256", key)
        , session_id(std::move(session_id))
        , requests(std::move(requests))
    {
    }

    front_outputs::front_outputs(std::function<void(std::uint64_t front)> first_subscriber)
        : m_first_subscriber(std::move(first_subscriber))
    {
    }

    front_outputs::~front_outputs()
    {
        close();
    }

    void front_outputs::add(std::uint64_t front, std::shared_ptr<zmq::socket_t> iopub, const std::string& key,
                            std::string session_id, std::shared_ptr<const request_memory> requests)
    {
        remove(front);
        const int fd = iopub->get(zmq::sockopt::fd);
        m_routes.try_emplace(front, std::move(iopub), key, std::move(session_id), std::move(requests));
        m_watched.add(fd, front);
    }

    void front_outputs::remove(std::uint64_t front)
    {
        auto it = m_routes.find(front);
        if (it == m_routes.end())
            return;
        m_pending.erase(front);
        m_watched.remove(it->second.iopub->get(zmq::sockopt::fd));
        it->second.iopub->close();
        m_routes.erase(it);
    }

    void front_outputs::send(std::uint64_t front, std::vector<std::string> frames)
    {
        auto it = m_routes.find(front);
        if (it == m_routes.end())
            return;
        send_frames(*it->second.iopub, std::move(frames));
        m_sent_to.insert(front);
    }

    int front_outputs::fd() const
    {
        // Not each socket: zmq_poll would ask every front's socket for its events at every wake-up of the thread.
        return m_watched.fd();
    }

    bool front_outputs::has_pending() const
    {
        return !m_pending.empty();
    }

    void front_outputs::serve()
    {
        m_ready.clear();
        m_watched.ready(m_ready);
        m_ready.insert(m_ready.end(), m_pending.begin(), m_pending.end());
        m_pending.clear();
        for (std::uint64_t number : m_ready)
            if (auto it = m_routes.find(number); it != m_routes.end())
                take_subscriptions(number, it->second);
    }

    void front_outputs::flushed()
    {
        for (std::uint64_t number : m_sent_to)
            if (auto it = m_routes.find(number); it != m_routes.end())
                take_subscriptions(number, it->second);
        m_sent_to.clear();
    }

    void front_outputs::take_subscriptions(std::uint64_t number, route& r)
    {
        welcome_subscribers(number, r);
        if (r.iopub->get(zmq::sockopt::events) & ZMQ_POLLIN)
            m_pending.insert(number);
    }

    /// Applies each subscription and greets it with iopub_welcome, as the kernel's own iopub does.
    void front_outputs::welcome_subscribers(std::uint64_t number, route& r)
    {
        for (int n = 0; n < burst; ++n)
        {
            zmq::message_t event;
            if (!retry_on_eintr([&] { return r.iopub->recv(event, zmq::recv_flags::dontwait); }))
                return;
            if (event.size() < 1)
                continue;
            const std::string topic(event.data<char>() + 1, event.size() - 1);
            if (event.data<char>()[0] == 0)
            {
                r.iopub->set(zmq::sockopt::unsubscribe, topic);
                continue;
            }
            r.iopub->set(zmq::sockopt::subscribe, topic);
            std::vector<std::string> welcome{"atrium.iopub_welcome"};
            append_front_message(welcome, r.signer, r.session_id, "iopub_welcome", "{}",
                                 to_json(nlohmann::json{{"subscription", topic}}));
            send_frames(*r.iopub, std::move(welcome));
            if (!r.subscribed)
            {
                r.subscribed = true;
                m_first_subscriber(number);
            }
        }
    }

    void front_outputs::relay(std::vector<std::string> frames)
    {
        auto delim = std::find(frames.begin(), frames.end(), delimiter);
        if (frames.end() - delim < 6)
            return;
        const std::string host_msg_id = parent_msg_id(delim[3]);
        auto it = m_routes.find(front_of_host_msg_id(host_msg_id));
        if (it == m_routes.end())
            return; // the kernel's own (its iopub_welcome), the hub's requests, or a closed front's
        std::optional<std::string> client_header = it->second.requests->client_header(host_msg_id);
        if (!client_header)
            return; // belongs to a request forgotten long ago
        delim[1] = it->second.signer.sign(delim[2], *client_header, delim[4], delim[5]);
        delim[3] = std::move(*client_header);
        send_frames(*it->second.iopub, std::move(frames));
        m_sent_to.insert(it->first);
    }

    void front_outputs::close()
    {
        for (auto& [number, r] : m_routes)
        {
            m_watched.remove(r.iopub->get(zmq::sockopt::fd));
            r.iopub->close();
        }
        m_routes.clear();
        m_pending.clear();
    }
}
