// SPDX-License-Identifier: MIT
#pragma once

#include "kernel/host/front.hpp"
#include "kernel/zmq_server.hpp"

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <atomic>
#include <chrono>
#include <memory>

namespace atrium
{
    /// The host's fronts (docs/host.md): every front's client sockets but iopub, and its sockets to the kernel,
    /// are served by the kernel's main thread beside its own shell socket (a main_service of zmq_server), never
    /// blocking, so a front's round trip costs no thread hand-off and one slow client stalls nobody. Requests go to
    /// the kernel with the front's identity; every reply goes back to the front whose request it answers, signed
    /// with that front's key. Outputs go from the kernel's iopub thread (front_outputs). (The kernel's main thread
    /// runs no cells in the scoped and isolated modes a host serves.)
    class front_hub final : public main_service
    {
    public:
        /// `about` is added to every `ping` answer (the host's mode and scope).
        front_hub(zmq::context_t& context, kernel_endpoints kernel, nlohmann::json about);
        ~front_hub() override;
        front_hub(const front_hub&) = delete;
        front_hub& operator=(const front_hub&) = delete;

        void poll_items(std::vector<zmq::pollitem_t>& items) override;
        std::uint64_t generation() const override;
        std::chrono::milliseconds poll_timeout() const override;
        void serve(const zmq::pollitem_t* items) override;
        void close() override;
        void attached(zmq_server& server) override;
        void before_shell_reply() override;
        bool take_shell_reply(std::vector<std::string>& frames) override;

        /// Serves one request of the control protocol (docs/host.md) on the hub's thread and returns its
        /// answer; `[host.timeout]` when none came within `wait`. Any thread.
        nlohmann::json command(nlohmann::json request, std::chrono::milliseconds wait = std::chrono::seconds(30));
        /// Fronts open now. Any thread.
        std::size_t fronts() const;
        /// True once closed (the kernel shut down). Any thread.
        bool ended() const;

    private:
        struct impl;
        std::unique_ptr<impl> p_impl;
    };
}
