// SPDX-License-Identifier: MIT
#include "kernel/zmq_server.hpp"

#include "kernel/frame_send.hpp"
#include "kernel/iopub_publisher.hpp"
#include "kernel/message_header.hpp"
#include "kernel/outgoing_message.hpp"
#include "kernel/request_check.hpp"
#include "kernel/wake_signal.hpp"
#include "kernel/wire_codec.hpp"
#include "common/zmq_retry.hpp"
#include "common/signal_free_thread.hpp"

#include <xeus/xguid.hpp>
#include <xeus/xkernel.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <atomic>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

namespace atrium
{
    namespace
    {
        enum class destination
        {
            shell,
            control,
            stdin_
        };

        struct queued_request
        {
            std::uint64_t sequence; ///< arrival order on the shell socket
            xeus::xmessage message;
        };

        /// A message to a client, and the place in iopub's order of the newest output published before it was
        /// sent: it leaves only once that one has (iopub_publisher::wait_written).
        struct outgoing
        {
            destination to;
            outgoing_message message;
            std::uint64_t published_before = 0;
        };

        struct shell_reply
        {
            outgoing_message message;
            zmq_server::reply_written on_written;
            std::uint64_t published_before = 0;
        };

        class null_control_messenger final : public xeus::xcontrol_messenger
        {
            nl::json send_to_shell_impl(const nl::json&) override
            {
                // Only xeus's debugger uses this path, and Atrium does not ship one.
                return {{"status", "error"}, {"evalue", "no debugger"}};
            }
        };

        std::string bind_endpoint(zmq::socket_t& socket, const xeus::xconfiguration& config,
                                  const std::string& port)
        {
            std::string address = config.m_transport + "://" + config.m_ip + ":";
            bool ephemeral = port.empty() || port == "0";
            socket.bind(address + (ephemeral ? std::string("*") : port));
            std::string endpoint = socket.get(zmq::sockopt::last_endpoint);
            return endpoint.substr(endpoint.rfind(':') + 1);
        }

        /// Messages queued for one iopub subscriber at most (see impl's constructor).
        constexpr int iopub_backlog_limit = 100000;
    }

    struct zmq_server::impl
    {
        impl(zmq_server& owner, zmq::context_t& context, const xeus::xconfiguration& config)
            : owner(owner)
            , context(context)
            , config(config)
            , signer(config.m_signature_scheme, config.m_key)
            , shell(context, zmq::socket_type::router)
            , control(context, zmq::socket_type::router)
            , stdin_socket(context, zmq::socket_type::router)
            , iopub(context, zmq::socket_type::xpub)
            , heartbeat(context, zmq::socket_type::rep)
            , session_id(xeus::new_xguid())
            , user_name(xeus::get_user_name())
            , publisher(iopub, signer, user_name, session_id)
        {
            for (zmq::socket_t* socket : {&shell, &control, &stdin_socket, &iopub, &heartbeat})
            {
                socket->set(zmq::sockopt::linger, 1000);
                // Never drop for a slow client: it must get every stream chunk and status, in order.
                socket->set(zmq::sockopt::sndhwm, 0);
            }
            // But a subscriber that stops reading (a frozen client whose connection stays open) would make the
            // kernel queue every message for it, for good: measured, ~3 KiB per cell anyone runs. A client this
            // many messages behind is stuck, not slow; messages beyond it are dropped for that subscriber alone.
            iopub.set(zmq::sockopt::sndhwm, iopub_backlog_limit);
            // Subscriptions are applied by hand (manual) and every one is reported (verbose): the publisher
            // applies a client's subscription and sends iopub_welcome in one step, so the welcome is always the
            // first message that client sees, and it knows its subscription is live before sending requests.
            iopub.set(zmq::sockopt::xpub_verbose, 1);
            iopub.set(zmq::sockopt::xpub_manual, 1);
            this->config.m_shell_port = bind_endpoint(shell, config, config.m_shell_port);
            this->config.m_control_port = bind_endpoint(control, config, config.m_control_port);
            this->config.m_stdin_port = bind_endpoint(stdin_socket, config, config.m_stdin_port);
            this->config.m_iopub_port = bind_endpoint(iopub, config, config.m_iopub_port);
            this->config.m_hb_port = bind_endpoint(heartbeat, config, config.m_hb_port);
        }

        ~impl()
        {
            stop_threads();
            close_all();
        }

        // ---- sending, from any thread ----

        /// Sends a message on shell (through the main thread), control or stdin (through the I/O thread, which
        /// serialises and signs it). Callers only move it.
        void enqueue(destination to, outgoing_message message)
        {
            if (to == destination::shell)
            {
                send_shell({std::move(message), {}});
                return;
            }
            bool was_empty;
            {
                std::lock_guard<std::mutex> lock(outbox_mutex);
                was_empty = outbox.empty();
                outbox.push_back({to, std::move(message), publisher.latest_output()});
            }
            if (was_empty)
                io_wake.raise();
        }

        /// Callers (the main thread holding the GIL, the flush timer) only move the message: a megabyte stream
        /// chunk is encoded and signed on the publisher's thread while Python goes on producing the next one.
        void publish(const std::string& msg_type, const nl::json& parent, nl::json content,
                     nl::json metadata = nl::json::object())
        {
            const bool output = msg_type != "status" && msg_type != "execute_input";
            publisher.publish({{"atrium." + msg_type},
                               make_message_header_text(msg_type, user_name, session_id).json,
                               parents.of(parent),
                               std::move(metadata),
                               std::move(content),
                               {}},
                              output);
        }

        std::string send_to(destination to, const xeus::xmessage& request, const std::string& msg_type,
                            nl::json content, nl::json metadata = nl::json::object(),
                            zmq_server::reply_written on_written = {})
        {
            header_text header = make_message_header_text(msg_type, user_name, session_id);
            outgoing_message message{{request.identities().begin(), request.identities().end()},
                                     std::move(header.json),
                                     parents.of(request.header()),
                                     std::move(metadata),
                                     std::move(content),
                                     {}};
            if (to == destination::shell)
                send_shell({std::move(message), std::move(on_written)});
            else
                enqueue(to, std::move(message));
            return std::move(header.msg_id);
        }

        /// Answers a request without involving xeus's core: busy, the reply, idle.
        void reply_directly(const xeus::xmessage& request, destination to, nl::json content)
        {
            std::string reply_type = reply_type_for(request.header().value("msg_type", ""));
            publish("status", request.header(), {{"execution_state", "busy"}});
            send_to(to, request, reply_type, std::move(content));
            publish("status", request.header(), {{"execution_state", "idle"}});
        }

        void abort(const xeus::xmessage& request)
        {
            nl::json content = {{"status", "aborted"}};
            if (request.header().value("msg_type", "") == "execute_request")
            {
                content["execution_count"] = nullptr;
                content["user_expressions"] = nl::json::object();
            }
            reply_directly(request, destination::shell, std::move(content));
        }

        // ---- the I/O thread ----

        void run_io()
        {
            zmq::pollitem_t items[] = {{control.handle(), 0, ZMQ_POLLIN, 0},
                                       {stdin_socket.handle(), 0, ZMQ_POLLIN, 0},
                                       {nullptr, io_wake.fd(), ZMQ_POLLIN, 0}};
            try
            {
                while (true)
                {
                    retry_on_eintr([&] { return zmq::poll(items, 3, std::chrono::milliseconds(-1)); });
                    if (items[2].revents & ZMQ_POLLIN)
                    {
                        io_wake.clear();
                        flush_outbox();
                        if (io_stop.load())
                        {
                            return;
                        }
                    }
                    if (items[0].revents & ZMQ_POLLIN)
                        drain(control, destination::control);
                    if (items[1].revents & ZMQ_POLLIN)
                        drain(stdin_socket, destination::stdin_);
                }
            }
            catch (const zmq::error_t& e)
            {
                if (e.num() != ETERM)
                    std::cerr << "[atrium] I/O thread stopped: " << e.what() << std::endl;
            }
        }

        void flush_outbox()
        {
            std::deque<outgoing> batch;
            {
                std::lock_guard<std::mutex> lock(outbox_mutex);
                batch.swap(outbox);
            }
            for (auto& message : batch)
            {
                // An input_request leaves after the output printed before the prompt.
                publisher.wait_written(message.published_before);
                send_frames(message.to == destination::control ? control : stdin_socket,
                            encode_outgoing(std::move(message.message), signer));
            }
        }

        /// Reads what is waiting on `socket`; `limit` bounds a burst (0: until none is left) so one busy
        /// socket cannot starve the others.
        void drain(zmq::socket_t& socket, destination from, int limit = 64)
        {
            for (int i = 0; limit == 0 || i < limit; ++i)
            {
                std::vector<zmq::message_t> parts;
                auto received_parts = retry_on_eintr(
                    [&] { return zmq::recv_multipart(socket, std::back_inserter(parts), zmq::recv_flags::dontwait); });
                if (!received_parts)
                {
                    return;
                }
                frame_list frames;
                frames.reserve(parts.size());
                for (auto& part : parts)
                {
                    frames.emplace_back(part.data<char>(), part.size());
                }
                handle(std::move(frames), from);
            }
        }

        void handle(frame_list frames, destination from)
        {
            decode_result decoded = decode_message(std::move(frames), signer, replays);
            if (!decoded.message)
            {
                std::cerr << "[atrium] refused a message: " << decoded.error << std::endl;
                return;
            }
            xeus::xmessage& message = *decoded.message;
            const std::string msg_type = message.header()["msg_type"].get<std::string>();
            // Every field that reaches xeus, the sessions or Python is bounded here first (request_check.hpp).
            std::string problem =
                request_problem(message.header(), message.parent_header(), message.metadata(), message.content());
            if (problem.empty())
            {
                problem = channel_problem(from == destination::control ? "control"
                                          : from == destination::stdin_ ? "stdin"
                                                                        : "shell",
                                          msg_type);
            }
            if (!problem.empty() && has_no_reply(msg_type))
            {
                // comm messages have no reply to carry the error: log it, and show the request was handled.
                std::cerr << "[atrium] refused a " << msg_type << ": " << problem << std::endl;
                publish("status", message.header(), {{"execution_state", "busy"}});
                publish("status", message.header(), {{"execution_state", "idle"}});
                return;
            }
            if (!problem.empty())
            {
                reply_directly(message, from,
                               {{"status", "error"},
                                {"ename", "ProtocolError"},
                                {"evalue", problem},
                                {"traceback", nl::json::array({"ProtocolError: " + problem})}});
                return;
            }
            try
            {
                if (msg_type == "shutdown_request" && from != destination::stdin_)
                {
                    shut_down(message, from);
                    return;
                }
                switch (from)
                {
                case destination::shell:
                    push_shell(std::move(message));
                    break;
                case destination::control:
                    if (msg_type == "interrupt_request" && interrupt_handler)
                        interrupt_handler(message);
                    if (!(control_handler && control_handler(message)))
                    {
                        std::lock_guard<std::mutex> lock(xeus_core_mutex);
                        owner.notify_control_listener(std::move(message));
                    }
                    break;
                case destination::stdin_:
                    if (!(stdin_handler && stdin_handler(message)))
                    {
                        std::lock_guard<std::mutex> lock(xeus_core_mutex);
                        owner.notify_stdin_listener(std::move(message));
                    }
                    break;
                }
            }
            catch (const std::exception& e)
            {
                std::cerr << "[atrium] error while handling " << msg_type << ": " << e.what() << std::endl;
            }
        }

        /// Replies (with the status xeus's core leaves out), tells iopub listeners, and stops the server loop.
        void shut_down(const xeus::xmessage& request, destination from)
        {
            // `restart` may be absent or null (request_check lets null through as absent): both mean false.
            auto restart = request.content().find("restart");
            nl::json content = {{"status", "ok"},
                                {"restart", restart != request.content().end() && restart->is_boolean() && restart->get<bool>()}};
            publish("status", request.header(), {{"execution_state", "busy"}});
            send_to(from, request, "shutdown_reply", content);
            publish("shutdown_reply", request.header(), content);
            publish("status", request.header(), {{"execution_state", "idle"}});
            if (interrupt_handler)
                interrupt_handler(request); // a running cell ends now rather than delaying the exit
            owner.stop();
        }

        /// jupyter console sends its first cell as soon as kernel_info is answered, without waiting for its iopub
        /// subscription. When it has just started the kernel, that subscription may still be on its way (its
        /// socket connected before the kernel was listening and retries every 100 ms), and the cell's output
        /// would be lost. So until the first subscriber arrives, requests wait for it: at most a second after
        /// the kernel started listening, after which nobody waits again.
        void wait_for_first_subscriber()
        {
            if (first_subscriber_awaited)
                return; // the common case: no lock on a request's way
            publisher.wait_for_subscriber(listening_since + std::chrono::seconds(1));
            first_subscriber_awaited = true;
        }

        void run_heartbeat()
        {
            zmq::pollitem_t items[] = {{heartbeat.handle(), 0, ZMQ_POLLIN, 0}};
            try
            {
                while (!io_stop.load())
                {
                    retry_on_eintr([&] { return zmq::poll(items, 1, std::chrono::milliseconds(100)); });
                    if (items[0].revents & ZMQ_POLLIN)
                    {
                        zmq::message_t ping;
                        if (retry_on_eintr([&] { return heartbeat.recv(ping, zmq::recv_flags::dontwait); }))
                            retry_on_eintr([&] { return heartbeat.send(ping, zmq::send_flags::none); });
                    }
                }
            }
            catch (const zmq::error_t& e)
            {
                if (e.num() != ETERM)
                    std::cerr << "[atrium] heartbeat stopped: " << e.what() << std::endl;
            }
        }

        // ---- the shell socket, owned by the main thread ----
        // The main thread reads requests and writes replies itself: a round trip then costs no thread hand-off,
        // as it would if the I/O thread relayed them. Replies from other threads come through `shell_outbox`.

        void push_shell(xeus::xmessage message)
        {
            shell_queue.push_back({++received, std::move(message)});
        }

        /// The next shell request, waiting for one; nullopt once the server is stopping.
        std::optional<queued_request> pop_shell()
        {
            while (!stopping.load())
            {
                if (!shell_queue.empty())
                {
                    wait_for_first_subscriber();
                    queued_request next = std::move(shell_queue.front());
                    shell_queue.pop_front();
                    return next;
                }
                auto wait = std::chrono::milliseconds(-1);
                if (stop_at)
                {
                    auto left = std::chrono::ceil<std::chrono::milliseconds>(*stop_at - std::chrono::steady_clock::now());
                    if (left.count() <= 0)
                        break;
                    wait = left;
                }
                if (service)
                {
                    const auto limit = service->poll_timeout();
                    if (limit.count() >= 0 && (wait.count() < 0 || limit < wait))
                        wait = limit;
                }
                std::vector<zmq::pollitem_t>& items = main_items();
                // SIGINT lands on this thread; an idle kernel just polls again.
                retry_on_eintr([&] { return zmq::poll(items.data(), items.size(), wait); });
                if (items[1].revents & ZMQ_POLLIN)
                {
                    main_wake.clear();
                    send_pending_shell();
                }
                if (main_extra >= 0 && (items[2].revents & ZMQ_POLLIN))
                    main_extra_readable();
                if (items[0].revents & ZMQ_POLLIN)
                    drain(shell, destination::shell, /*limit=*/0);
                if (service)
                    serve_service(items.data() + service_items_from);
            }
            return std::nullopt;
        }

        void serve_service(const zmq::pollitem_t* items)
        {
            guarded_service([&] { service->serve(items); });
        }

        /// One front's trouble must not end the kernel every other front and note shares, nor stop its replies.
        template <class F>
        void guarded_service(F&& call)
        {
            try
            {
                call();
            }
            catch (const std::exception& e)
            {
                std::cerr << "[atrium] [host.relay_error] " << e.what() << std::endl;
            }
        }

        /// What the main thread polls: shell, its wake-up, the extra socket, then the service's (remade when
        /// the service's sockets changed).
        std::vector<zmq::pollitem_t>& main_items()
        {
            if (main_poll.empty() || (service && service->generation() != service_generation))
            {
                main_poll.assign({{shell.handle(), 0, ZMQ_POLLIN, 0}, {nullptr, main_wake.fd(), ZMQ_POLLIN, 0}});
                if (main_extra >= 0)
                    main_poll.push_back({nullptr, main_extra, ZMQ_POLLIN, 0});
                service_items_from = main_poll.size();
                if (service)
                {
                    service_generation = service->generation();
                    service->poll_items(main_poll);
                }
            }
            return main_poll;
        }

        void send_shell(shell_reply reply)
        {
            reply.published_before = publisher.latest_output();
            {
                std::lock_guard<std::mutex> lock(shell_outbox_mutex);
                shell_outbox.push_back(std::move(reply));
            }
            // One queue for every thread, written by the main thread alone: an isolated note's cell reply is made
            // on the main thread while its previous cell's reply may still wait here, and one client's replies
            // must keep the order its requests ran in.
            if (std::this_thread::get_id() == main_thread)
                send_pending_shell();
            else
                main_wake.raise();
        }

        /// Main thread. Not re-entered: a reply made while one is written (an error reply to a request read by
        /// that write's drain) is queued behind the batch and written by the same loop.
        void send_pending_shell()
        {
            if (writing_shell)
                return;
            writing_shell = true;
            while (true)
            {
                std::vector<shell_reply>& batch = shell_batch;
                {
                    std::lock_guard<std::mutex> lock(shell_outbox_mutex);
                    batch.swap(shell_outbox);
                }
                if (batch.empty())
                    break;
                for (auto& reply : batch)
                    write_shell(reply);
                batch.clear(); // kept for its capacity: the outbox takes it at the next swap
            }
            writing_shell = false;
        }

        /// Main thread.
        void write_shell(shell_reply& reply)
        {
            // The cell's output leaves before its reply: a client that reads the reply first finds it waiting.
            publisher.wait_written(reply.published_before);
            // Everything that reached the socket before this reply is queued and numbered first, so
            // `replied_after` separates requests sent before the client saw this reply from later ones.
            drain(shell, destination::shell, /*limit=*/0);
            if (service)
                guarded_service([&] { service->before_shell_reply(); });
            replied_after = received;
            frame_list frames = encode_outgoing(std::move(reply.message), signer);
            bool taken = false;
            if (service)
                guarded_service([&] { taken = service->take_shell_reply(frames); });
            if (!taken)
                send_frames(shell, std::move(frames));
            if (reply.on_written)
                reply.on_written(replied_after);
        }

        std::deque<xeus::xmessage> take_queued_up_to(std::uint64_t sequence)
        {
            std::deque<xeus::xmessage> taken;
            while (!shell_queue.empty() && shell_queue.front().sequence <= sequence)
            {
                taken.push_back(std::move(shell_queue.front().message));
                shell_queue.pop_front();
            }
            return taken;
        }

        void start_threads()
        {
            publisher.start();
            io_thread = start_signal_free_thread([this] { run_io(); });
            heartbeat_thread = start_signal_free_thread([this] { run_heartbeat(); });
        }

        void stop_threads()
        {
            io_stop.store(true);
            io_wake.raise(); // the I/O thread sends what is queued (the shutdown reply) before it returns
            if (io_thread.joinable())
                io_thread.join();
            if (heartbeat_thread.joinable())
                heartbeat_thread.join();
            publisher.stop(); // last: the I/O thread publishes until it stops
        }

        void close_all()
        {
            for (zmq::socket_t* socket : {&shell, &control, &stdin_socket, &iopub, &heartbeat})
                socket->close();
        }

        zmq_server& owner;
        zmq::context_t& context;
        xeus::xconfiguration config;
        message_signer signer;
        replay_guard replays; // I/O thread only
        parent_text parents;

        zmq::socket_t shell;
        zmq::socket_t control;
        zmq::socket_t stdin_socket;
        zmq::socket_t iopub;
        zmq::socket_t heartbeat;

        int main_extra = -1; ///< a descriptor the main thread serves besides shell
        std::function<void()> main_extra_readable;
        main_service* service = nullptr;      ///< sockets the main thread serves besides shell (a host's fronts)
        std::vector<zmq::pollitem_t> main_poll; ///< main thread: what pop_shell polls
        std::size_t service_items_from = 0;     ///< where the service's items start in main_poll
        std::uint64_t service_generation = 0;
        wake_signal io_wake;   ///< wakes the I/O thread: the outbox has messages
        wake_signal main_wake; ///< wakes the main thread: shell replies from other threads, or stop
        std::mutex outbox_mutex;
        std::deque<outgoing> outbox; ///< for control and stdin
        std::mutex shell_outbox_mutex;
        std::vector<shell_reply> shell_outbox;
        std::vector<shell_reply> shell_batch; ///< main thread: send_pending_shell's (vectors swap without allocating)

        // Main thread only:
        std::thread::id main_thread;
        std::deque<queued_request> shell_queue;
        std::atomic<std::uint64_t> received{0}; ///< shell requests queued so far (written by main only)
        std::uint64_t replied_after = 0; ///< `received` when the latest shell reply was written
        bool writing_shell = false;      ///< send_pending_shell is running

        std::atomic<bool> stopping{false};
        std::optional<std::chrono::steady_clock::time_point> stop_at; ///< main thread: stop_soon's deadline
        std::chrono::steady_clock::time_point listening_since = std::chrono::steady_clock::now();
        bool first_subscriber_awaited = false; ///< main thread: requests no longer wait for one
        std::atomic<bool> io_stop{false};
        std::thread io_thread;
        std::thread heartbeat_thread;

        std::string session_id;
        std::string user_name;
        iopub_publisher publisher; ///< owns `iopub` from start() on
        std::function<void(const xeus::xmessage&)> interrupt_handler;
        request_router router;
        /// xeus's kernel core keeps one parent header and one comm table, unguarded: the main thread (shell) and
        /// the I/O thread (control) must not be inside it at once. Held only while xeus serves a message, never
        /// for a cell (cells are routed around xeus). Found by test/fuzz/live_fuzz.py as heap corruption when
        /// kernel_info arrived on control and shell at the same time.
        std::mutex xeus_core_mutex;
        stdin_router stdin_handler;
        stdin_router control_handler;
        null_control_messenger messenger;
    };

    zmq_server::zmq_server(zmq::context_t& context, const xeus::xconfiguration& config)
        : p_impl(std::make_unique<impl>(*this, context, config))
    {
    }

    zmq_server::~zmq_server() = default;

    void zmq_server::on_request(request_router router)
    {
        p_impl->router = std::move(router);
    }

    void zmq_server::on_stdin(stdin_router router)
    {
        p_impl->stdin_handler = std::move(router);
    }

    void zmq_server::on_control(stdin_router router)
    {
        p_impl->control_handler = std::move(router);
    }

    void zmq_server::on_main_readable(int fd, std::function<void()> on_readable)
    {
        p_impl->main_extra = fd;
        p_impl->main_extra_readable = std::move(on_readable);
    }

    void zmq_server::add_main_service(main_service& service)
    {
        p_impl->service = &service;
        service.attached(*this);
    }

    void zmq_server::inject_shell(std::vector<std::string> frames)
    {
        p_impl->handle(std::move(frames), destination::shell);
    }

    void zmq_server::on_interrupt(std::function<void(const xeus::xmessage&)> handler)
    {
        p_impl->interrupt_handler = std::move(handler);
    }

    void zmq_server::serve_with_core(xeus::xmessage request)
    {
        std::lock_guard<std::mutex> lock(p_impl->xeus_core_mutex);
        notify_shell_listener(std::move(request));
    }

    std::uint64_t zmq_server::latest_sequence() const
    {
        return p_impl->received.load();
    }

    iopub_publisher& zmq_server::publisher()
    {
        return p_impl->publisher;
    }

    void zmq_server::publish_output(const std::string& msg_type, const nl::json& parent_header, nl::json content,
                                    nl::json metadata)
    {
        p_impl->publish(msg_type, parent_header, std::move(content), std::move(metadata));
    }

    void zmq_server::send_reply(const xeus::xmessage& request, const std::string& reply_type, nl::json content,
                                nl::json metadata, reply_written on_written)
    {
        p_impl->send_to(destination::shell, request, reply_type, std::move(content), std::move(metadata),
                        std::move(on_written));
    }

    void zmq_server::send_control_reply(const xeus::xmessage& request, const std::string& reply_type,
                                        nl::json content)
    {
        p_impl->publish("status", request.header(), {{"execution_state", "busy"}});
        p_impl->send_to(destination::control, request, reply_type, std::move(content));
        p_impl->publish("status", request.header(), {{"execution_state", "idle"}});
    }

    std::string zmq_server::send_to_stdin(const xeus::xmessage& request, const std::string& msg_type,
                                          nl::json content)
    {
        return p_impl->send_to(destination::stdin_, request, msg_type, std::move(content));
    }

    void zmq_server::abort_requests_before_last_reply()
    {
        for (auto& request : p_impl->take_queued_up_to(p_impl->replied_after))
        {
            p_impl->abort(request);
        }
    }

    xeus::xcontrol_messenger& zmq_server::get_control_messenger_impl()
    {
        return p_impl->messenger;
    }

    void zmq_server::send_shell_impl(xeus::xmessage message)
    {
        p_impl->enqueue(destination::shell, outgoing_from(message, {message.identities().begin(), message.identities().end()}));
    }

    void zmq_server::send_control_impl(xeus::xmessage message)
    {
        p_impl->enqueue(destination::control, outgoing_from(message, {message.identities().begin(), message.identities().end()}));
    }

    void zmq_server::send_stdin_impl(xeus::xmessage message)
    {
        p_impl->enqueue(destination::stdin_, outgoing_from(message, {message.identities().begin(), message.identities().end()}));
    }

    void zmq_server::publish_impl(xeus::xpub_message message, xeus::channel)
    {
        p_impl->publisher.publish(std::move(message));
    }

    void zmq_server::start_impl(xeus::xpub_message message)
    {
        p_impl->main_thread = std::this_thread::get_id();
        p_impl->listening_since = std::chrono::steady_clock::now();
        p_impl->start_threads();
        publish_impl(std::move(message), xeus::channel::SHELL);
        while (auto request = p_impl->pop_shell())
        {
            try
            {
                if (!(p_impl->router && p_impl->router(request->message, request->sequence)))
                {
                    std::lock_guard<std::mutex> lock(p_impl->xeus_core_mutex);
                    notify_shell_listener(std::move(request->message));
                }
            }
            catch (const std::exception& e)
            {
                std::cerr << "[atrium] shell request failed: " << e.what() << std::endl;
            }
        }
        p_impl->send_pending_shell();
        p_impl->stop_threads();
        if (p_impl->service)
            p_impl->service->close();
        p_impl->close_all();
        // Waits (up to the sockets' linger) until the last replies have left the process.
        p_impl->context.close();
    }

    void zmq_server::abort_queue_impl(const listener&, long)
    {
        // xeus's own abort listener replies "error"; clients expect "aborted", as ipykernel sends.
        abort_requests_before_last_reply();
    }

    void zmq_server::stop_soon(std::chrono::milliseconds delay)
    {
        p_impl->stop_at = std::chrono::steady_clock::now() + delay;
    }

    void zmq_server::stop_impl()
    {
        p_impl->stopping.store(true);
        p_impl->main_wake.raise();
    }

    void zmq_server::update_config_impl(xeus::xconfiguration& config) const
    {
        config = p_impl->config;
    }

    std::unique_ptr<xeus::xserver> make_zmq_server(xeus::xcontext& context, const xeus::xconfiguration& config,
                                                   nl::json::error_handler_t)
    {
        return std::make_unique<zmq_server>(context.get_wrapped_context<zmq::context_t>(), config);
    }
}
