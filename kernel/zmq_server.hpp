// SPDX-License-Identifier: MIT
#pragma once

#include <xeus/xeus_context.hpp>
#include <xeus/xkernel_configuration.hpp>
#include <xeus/xserver.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <zmq.hpp>

namespace atrium
{
    class zmq_server;
    class iopub_publisher;

    /// Sockets the main thread serves beside its own: a host's fronts (kernel/host/front_hub). They are polled
    /// with the shell socket, so relaying a front's request and its reply costs no thread hand-off. Main thread.
    class main_service
    {
    public:
        virtual ~main_service() = default;
        /// Appends what to poll; asked again whenever `generation()` has changed.
        virtual void poll_items(std::vector<zmq::pollitem_t>& items) = 0;
        virtual std::uint64_t generation() const = 0;
        /// How long the main thread may wait for its sockets at most (negative: no limit).
        virtual std::chrono::milliseconds poll_timeout() const = 0;
        /// After each poll, with the items it appended (their revents set).
        virtual void serve(const zmq::pollitem_t* items) = 0;
        /// When the server stops, before its ZeroMQ context closes (which waits for every socket to close).
        virtual void close() = 0;
        /// Once, when added: requests the service reads go to `server.inject_shell`.
        virtual void attached(zmq_server& server) = 0;
        /// Before a shell reply is written: the service hands over the requests already waiting for it (so they
        /// are numbered before the reply, as the shell socket's are: stop_on_error aborts them).
        virtual void before_shell_reply() = 0;
        /// Offered every shell reply (its frames, routing identities first); true when the service sent it.
        virtual bool take_shell_reply(std::vector<std::string>& frames) = 0;
    };

    /// Atrium's own implementation of xeus's server interface.
    ///
    /// Threads and their jobs:
    /// - the thread that calls `start()` (the process's main thread) owns the shell socket: it reads,
    ///   authenticates and validates requests and serves them one at a time (`execute_request` through
    ///   Atrium's execute handler, the rest through xeus's kernel core), writing replies itself. Python runs
    ///   on this thread, so SIGINT reaches running cells;
    /// - one I/O thread owns the control and stdin sockets: it answers control requests at once (even while a
    ///   cell runs);
    /// - the iopub publisher's thread owns the iopub socket: it serialises, signs and writes everything
    ///   published (iopub_publisher.hpp);
    /// - one heartbeat thread echoes pings.
    /// Any thread may send or publish: iopub messages go through one queue, so the order of calls is the order
    /// on the wire; shell replies from other threads are handed to the main thread. No reply (shell, control)
    /// and no input_request leaves before the output published before it was sent.
    class zmq_server final : public xeus::xserver
    {
    public:
        /// Offered every shell request with its arrival number; returns true when it took the request (and may
        /// then move from it), false to leave it to xeus's kernel core.
        using request_router = std::function<bool(xeus::xmessage& request, std::uint64_t sequence)>;
        /// Offered every stdin message; returns true when it consumed it.
        using stdin_router = std::function<bool(const xeus::xmessage& message)>;

        zmq_server(zmq::context_t& context, const xeus::xconfiguration& config);
        ~zmq_server() override;

        /// Atrium's session manager sees shell requests before xeus's core: it serves the ones that belong
        /// to a context (execute, complete, inspect, ...) on the main thread or hands them to a context's worker.
        void on_request(request_router router);
        void on_stdin(stdin_router router);
        /// Offered every control request before xeus's core (on the I/O thread); true when it answered it.
        void on_control(stdin_router router);
        /// The main thread also serves `fd`: `on_readable` runs there whenever it is readable. Isolated workers'
        /// cell replies arrive this way, answered without a thread hand-off. Main thread, before start(); one
        /// descriptor.
        void on_main_readable(int fd, std::function<void()> on_readable);
        /// The main thread also serves `service` (one; main thread, before start()).
        void add_main_service(main_service& service);
        /// A shell request a main_service read (frames as on the wire, routing identities first), served as if it
        /// came on the shell socket. Main thread.
        void inject_shell(std::vector<std::string> frames);
        /// Called on the I/O thread when an interrupt_request arrives, before it is answered; also on shutdown
        /// (with the shutdown request) so that a running cell ends.
        void on_interrupt(std::function<void(const xeus::xmessage& request)> handler);

        /// The thread that writes iopub (a host relays through it: kernel/host/front_outputs). Any thread.
        iopub_publisher& publisher();
        /// Publishes an iopub message on behalf of the request `parent_header` came with. Any thread.
        void publish_output(const std::string& msg_type, const nl::json& parent_header, nl::json content,
                            nl::json metadata = nl::json::object());
        /// Sends `reply_type` on the control channel to the client that sent `request`. Any thread.
        void send_control_reply(const xeus::xmessage& request, const std::string& reply_type, nl::json content);
        /// Called on the main thread right after a shell reply is written, with the arrival number of the newest
        /// request read before it: requests up to that number were sent before the client could see the reply.
        using reply_written = std::function<void(std::uint64_t arrived_before)>;

        /// Sends `<request>_reply` to the client that sent `request`. Any thread. Shell replies leave in the order
        /// they were sent from any threads: one made on the main thread never overtakes one queued before it.
        void send_reply(const xeus::xmessage& request, const std::string& reply_type, nl::json content,
                        nl::json metadata = nl::json::object(), reply_written on_written = {});
        /// Sends a message on the stdin channel to the client that sent `request` (input_request); returns
        /// the sent message's id, which the client's answer names as its parent.
        std::string send_to_stdin(const xeus::xmessage& request, const std::string& msg_type, nl::json content);
        /// Stops serving `delay` from now, requests meanwhile served as usual: clients read what was just sent
        /// (a console that waits for a reply only while the kernel lives). Main thread.
        void stop_soon(std::chrono::milliseconds delay);
        /// Has xeus's kernel core serve a shell request a router took (the router may first set up what the core
        /// needs, such as holding the GIL). Main thread.
        void serve_with_core(xeus::xmessage request);
        /// The arrival number of the newest shell request read so far. Any thread.
        std::uint64_t latest_sequence() const;
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
