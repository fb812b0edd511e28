// SPDX-License-Identifier: MIT
#pragma once

#include <xeus/xeus_context.hpp>
#include <xeus/xkernel_configuration.hpp>
#include <xeus/xserver.hpp>

#include <functional>
#include <memory>

namespace zmq
{
    class context_t;
}

namespace atrium
{
    /// Atrium's own implementation of xeus's server interface.
    ///
    /// Threads and their jobs:
    /// - the thread that calls `start()` (the process's main thread) executes shell requests one at a time,
    ///   so Python runs on the main thread and SIGINT reaches running cells;
    /// - one I/O thread owns every ROUTER/PUB socket: it reads, authenticates and validates incoming frames,
    ///   answers control requests at once (even while a cell runs), and writes everything queued for sending;
    /// - one heartbeat thread echoes pings.
    /// Any thread may send or publish: messages go through one outbox to the I/O thread, which serialises and
    /// signs them, so the order of calls is the order on the wire.
    class zmq_server final : public xeus::xserver
    {
    public:
        zmq_server(zmq::context_t& context, const xeus::xconfiguration& config);
        ~zmq_server() override;

        /// Publishes an iopub message on behalf of the request `parent_header` came with. Safe from any thread.
        void publish_output(const std::string& msg_type, const nl::json& parent_header, nl::json content);

        /// Called on the I/O thread when an interrupt_request arrives, before xeus replies to it.
        void on_interrupt(std::function<void()> handler);

    private:
        xeus::xcontrol_messenger& get_control_messenger_impl() override;
        void send_shell_impl(xeus::xmessage message) override;
        void send_control_impl(xeus::xmessage message) override;
        void send_stdin_impl(xeus::xmessage message) override;
        void publish_impl(xeus::xpub_message message, xeus::channel c) override;
        void start_impl(xeus::xpub_message message) override;
        void abort_queue_impl(const listener& l, long polling_interval) override;
        void stop_impl() override;
        void update_config_impl(xeus::xconfiguration& config) const override;

        struct impl;
        std::unique_ptr<impl> p_impl;
    };

    /// Matches `xeus::xkernel::server_builder`.
    std::unique_ptr<xeus::xserver> make_zmq_server(xeus::xcontext& context, const xeus::xconfiguration& config,
                                                   nl::json::error_handler_t eh);
}
