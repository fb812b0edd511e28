// SPDX-License-Identifier: MIT
#pragma once

#include "kernel/host/front.hpp"

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <atomic>
#include <chrono>
#include <memory>

namespace atrium
{
    /// The host's fronts and the thread that relays them (docs/host.md): every front's client sockets, and its
    /// sockets to the kernel, are polled by one thread that never blocks, so one slow client stalls nobody.
    /// Requests go to the kernel with the front's identity; every reply and output goes back to the front whose
    /// request it answers, signed with that front's key. Ends when the ZeroMQ context is closed (the kernel's
    /// shutdown), closing every socket it owns.
    class front_hub
    {
    public:
        /// `about` is added to every `ping` answer (the host's mode and scope).
        front_hub(zmq::context_t& context, kernel_endpoints kernel, nlohmann::json about);
        ~front_hub();
        front_hub(const front_hub&) = delete;
        front_hub& operator=(const front_hub&) = delete;

        /// Serves one request of the control protocol (docs/host.md) on the hub's thread and returns its
        /// answer; `[host.timeout]` when none came within `wait`. Any thread.
        nlohmann::json command(nlohmann::json request, std::chrono::milliseconds wait = std::chrono::seconds(30));
        /// Fronts open now. Any thread.
        std::size_t fronts() const;
        /// True once the hub's thread has ended (the kernel shut down). Any thread.
        bool ended() const;

    private:
        struct impl;
        std::unique_ptr<impl> p_impl;
    };
}
