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
    /// - the thread that calls `start()` (the process's main thread) owns the shell socket: it reads,
    ///   authenticates and validates requests and serves them one at a time (`execute_request` through
    ///   Atrium's execute handler, the rest through xeus's kernel core), writing replies itself. Python runs
    ///   on this thread, so SIGINT reaches running cells;
    /// - one I/O thread owns the control, stdin and iopub sockets: it answers control requests at once (even
    ///   while a cell runs) and serialises, signs and writes everything published;
    /// - one heartbeat thread echoes pings.
    /// Any thread may send or publish: iopub messages go through one outbox to the I/O thread, so the order
    /// of calls is the order on the wire; shell replies from other threads are handed to the main thread.
    class zmq_server final : public xeus::xserver
    {
    public:
        using request_handler = std::function<void(xeus::xmessage)>;

        zmq_server(zmq::context_t& context, const xeus::xconfiguration& config);
        ~zmq_server() override;

        /// Serves `execute_request` on the main thread instead of xeus's core (which cannot number
        /// unstored cells like ipykernel, nor send the reply before deciding what to abort).
        void on_execute(request_handler handler);
        /// Called on the I/O thread when an interrupt_request arrives, before it is answered.
        void on_interrupt(std::function<void()> handler);

        /// Publishes an iopub message on behalf of the request `parent_header` came with. Any thread.
        void publish_output(const std::string& msg_type, const nl::json& parent_header, nl::json content,
                            nl::json metadata = nl::json::object());
        /// Sends `<request>_reply` to the client that sent `request`. Any thread.
        void send_reply(const xeus::xmessage& request, const std::string& reply_type, nl::json content,
                        nl::json metadata = nl::json::object());
        /// Sends a message on the stdin channel to the client that sent `request` (input_request).
        void send_to_stdin(const xeus::xmessage& request, const std::string& msg_type, nl::json content);
        /// After a failed execution with stop_on_error: answers `aborted` to every shell request that had
        /// arrived before the failure's reply left the kernel. Requests sent after the client saw the error
        /// run normally. Main thread.
        void abort_requests_before_last_reply();

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
