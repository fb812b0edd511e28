// SPDX-License-Identifier: MIT
#pragma once

#include "kernel/host/epoll_set.hpp"
#include "kernel/host/front.hpp"
#include "kernel/iopub_publisher.hpp"
#include "common/message_signer.hpp"

#include <zmq.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace atrium
{
    /// The fronts' iopub sockets, written by the kernel's own publisher thread (an iopub_relay): what the kernel
    /// publishes goes straight to the front whose request it belongs to, with the client's header as its parent
    /// and signed with that front's key, without a hop through another thread; each subscription is welcomed
    /// there too. A front is added and removed through the publisher's queue (iopub_publisher::run_in_order), so
    /// both happen in order with what is published. Every method runs on the publisher's thread.
    class front_outputs final : public iopub_relay
    {
    public:
        /// `first_subscriber(front)` runs when a front's iopub gets its first subscription.
        explicit front_outputs(std::function<void(std::uint64_t front)> first_subscriber);
        ~front_outputs() override;
        front_outputs(const front_outputs&) = delete;
        front_outputs& operator=(const front_outputs&) = delete;

        /// The front's iopub socket (front::iopub) from now on belongs to this thread.
        void add(std::uint64_t front, std::shared_ptr<zmq::socket_t> iopub, const std::string& key,
                 std::string session_id, std::shared_ptr<const request_memory> requests);
        /// Closes the front's iopub; what was sent on it still leaves within its linger time.
        void remove(std::uint64_t front);
        /// A message the hub made for the front itself (signed with its key).
        void send(std::uint64_t front, std::vector<std::string> frames);

        /// Every front's iopub as one descriptor (epoll_set).
        int fd() const override;
        bool has_pending() const override;
        void serve() override;
        void relay(std::vector<std::string> frames) override;
        void flushed() override;
        void close() override;

    private:
        struct route
        {
            route(std::shared_ptr<zmq::socket_t> iopub, const std::string& key, std::string session_id,
                  std::shared_ptr<const request_memory> requests);
            std::shared_ptr<zmq::socket_t> iopub;
            message_signer signer;
            std::string session_id;
            std::shared_ptr<const request_memory> requests;
            bool subscribed = false;
        };
        void welcome_subscribers(std::uint64_t number, route& r);
        /// Welcomes one burst of subscribers, and keeps the front pending while more wait: a socket's fd only
        /// tells that something may have changed, and a send can leave a subscription behind a quiet fd. Bounded,
        /// so a client flooding subscriptions cannot hold this thread (every front's outputs) to itself.
        void take_subscriptions(std::uint64_t number, route& r);

        std::function<void(std::uint64_t)> m_first_subscriber;
        std::map<std::uint64_t, route> m_routes;
        epoll_set m_watched; ///< every front's iopub fd, tagged with the front's number
        std::vector<std::uint64_t> m_ready; ///< kept for its capacity
        std::set<std::uint64_t> m_sent_to;   ///< fronts written to in this batch (flushed)
        std::set<std::uint64_t> m_pending;   ///< fronts with subscriptions still waiting after a burst
    };
}
