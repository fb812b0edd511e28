// SPDX-License-Identifier: MIT
#include "kernel/host/front_hub.hpp"

#include "kernel/frame_send.hpp"
#include "kernel/json_writer.hpp"
#include "kernel/message_header.hpp"
#include "kernel/request_check.hpp"
#include "kernel/wake_signal.hpp"
#include "kernel/wire_codec.hpp"
#include "common/zmq_retry.hpp"

#include <xeus/xguid.hpp>
#include <zmq_addon.hpp>

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <unordered_map>

namespace atrium
{
    namespace
    {
        namespace nl = nlohmann;

        constexpr int burst = 64;
        constexpr std::size_t max_header_bytes = 64 * 1024; ///< messages read from one socket before the others get their turn

        nl::json refusal(const std::string& error)
        {
            return {{"ok", false}, {"error", error}};
        }

        /// 1 to `most` printable ASCII characters without spaces (kernel ids, users, addresses).
        bool plain_token(const std::string& text, std::size_t most)
        {
            return !text.empty() && text.size() <= most &&
                   std::all_of(text.begin(), text.end(), [](char c) { return c > ' ' && c < 0x7f; });
        }

        std::string random_key()
        {
            unsigned char bytes[16];
            std::size_t got = 0;
            while (got < sizeof(bytes))
            {
                ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);
                if (n <= 0)
                    throw std::runtime_error("[host.no_randomness] getrandom failed");
                got += static_cast<std::size_t>(n);
            }
            static const char hex[] = "0123456789abcdef";
            std::string key;
            for (unsigned char b : bytes)
            {
                key += hex[b >> 4];
                key += hex[b & 15];
            }
            return key;
        }

        std::vector<zmq::message_t> receive(zmq::socket_t& socket)
        {
            std::vector<zmq::message_t> parts;
            retry_on_eintr(
                [&] { return zmq::recv_multipart(socket, std::back_inserter(parts), zmq::recv_flags::dontwait); });
            return parts;
        }

        std::string text_of(const zmq::message_t& part)
        {
            return std::string(part.data<char>(), part.size());
        }

        std::string_view view_of(const zmq::message_t& part)
        {
            return {part.data<char>(), part.size()};
        }

        bool is_delimiter(const zmq::message_t& part)
        {
            return view_of(part) == delimiter;
        }

        /// Sends `parts` as one message. Frames relayed unchanged (content, buffers: megabytes of output) are
        /// the very messages received, never copied.
        void send_parts(zmq::socket_t& socket, std::vector<zmq::message_t>& parts)
        {
            for (std::size_t i = 0; i < parts.size(); ++i)
            {
                auto flags = i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
                retry_on_eintr([&] { return socket.send(parts[i], flags); });
            }
        }

        zmq::message_t message_of(std::string_view text)
        {
            return zmq::message_t(text.data(), text.size());
        }

        struct pending_command
        {
            nl::json request;
            std::promise<nl::json> answer;
        };
    }

    struct front_hub::impl
    {
        impl(zmq::context_t& context, kernel_endpoints kernel, nl::json about)
            : context(context)
            , kernel(std::move(kernel))
            , about(std::move(about))
            , iopub_in(context, zmq::socket_type::sub)
            , own_requests(context, zmq::socket_type::dealer)
        {
            iopub_in.set(zmq::sockopt::linger, 0);
            iopub_in.set(zmq::sockopt::rcvhwm, 0);
            iopub_in.set(zmq::sockopt::subscribe, "");
            iopub_in.connect(this->kernel.iopub);
            own_requests.set(zmq::sockopt::linger, 0);
            own_requests.set(zmq::sockopt::routing_id, "atrium-host");
            own_requests.connect(this->kernel.control);
        }

        ~impl()
        {
            close();
        }

        // ---- served by the kernel's main thread (zmq_server's main_service) ----

        void poll_items(std::vector<zmq::pollitem_t>& items)
        {
            items.push_back({nullptr, wake.fd(), ZMQ_POLLIN, 0});
            items.push_back({iopub_in.handle(), 0, ZMQ_POLLIN, 0});
            items.push_back({own_requests.handle(), 0, ZMQ_POLLIN, 0});
            polled.clear();
            for (auto& [number, f] : fronts)
            {
                for (zmq::socket_t* socket : {&f->clients[0], &f->clients[1], &f->clients[2], &f->iopub,
                                              &f->heartbeat, &f->kernel[0], &f->kernel[1], &f->kernel[2]})
                    items.push_back({socket->handle(), 0, ZMQ_POLLIN, 0});
                if (f->awaiting_subscriber)
                    items[items.size() - 8] = {nullptr, -1, 0, 0}; // its shell requests wait (front.hpp)
                polled.push_back(number);
            }
        }

        std::chrono::milliseconds poll_timeout() const
        {
            auto soonest = std::chrono::milliseconds(-1);
            const auto now = std::chrono::steady_clock::now();
            for (auto& [number, f] : fronts)
            {
                if (!f->awaiting_subscriber)
                    continue;
                auto left = std::chrono::ceil<std::chrono::milliseconds>(f->subscriber_deadline - now);
                left = std::max(left, std::chrono::milliseconds(0));
                if (soonest.count() < 0 || left < soonest)
                    soonest = left;
            }
            return soonest;
        }

        /// The front reads its shell requests from now on.
        void stop_awaiting_subscriber(front& f)
        {
            if (!f.awaiting_subscriber)
                return;
            f.awaiting_subscriber = false;
            ++generation;
        }

        void serve(const zmq::pollitem_t* items)
        {
            const auto now = std::chrono::steady_clock::now();
            for (auto& [number, f] : fronts)
                if (f->awaiting_subscriber && now >= f->subscriber_deadline)
                    stop_awaiting_subscriber(*f);
            if (items[0].revents & ZMQ_POLLIN)
            {
                wake.clear();
                run_commands();
            }
            if (items[1].revents & ZMQ_POLLIN)
                relay_outputs();
            if (items[2].revents & ZMQ_POLLIN)
                take_own_replies();
            for (std::size_t i = 0; i < polled.size(); ++i)
            {
                const zmq::pollitem_t* group = &items[3 + 8 * i];
                for (int channel = 0; channel < 3; ++channel)
                {
                    if (front* f = find_front(polled[i]); f && (group[5 + channel].revents & ZMQ_POLLIN))
                        relay_answers(*f, static_cast<front_channel>(channel));
                }
                for (int channel = 0; channel < 3; ++channel)
                {
                    if (front* f = find_front(polled[i]); f && (group[channel].revents & ZMQ_POLLIN))
                        relay_requests(*f, static_cast<front_channel>(channel));
                }
                if (front* f = find_front(polled[i]); f && (group[3].revents & ZMQ_POLLIN))
                    welcome_subscribers(*f);
                if (front* f = find_front(polled[i]); f && (group[4].revents & ZMQ_POLLIN))
                    echo_heartbeats(*f);
            }
        }

        /// The kernel is stopping (its context closes next, which waits for every socket to close).
        void close()
        {
            std::lock_guard<std::mutex> lock(commands_mutex);
            if (hub_ended.exchange(true))
                return;
            fronts.clear();
            front_count.store(0);
            iopub_in.close();
            own_requests.close();
            for (auto& command : commands)
                command.answer.set_value(refusal("[host.stopping] the host is shutting down"));
            commands.clear();
            ++generation;
        }

        front* find_front(std::uint64_t number)
        {
            auto it = fronts.find(number);
            return it == fronts.end() ? nullptr : it->second.get();
        }

        // ---- client -> kernel ----

        void relay_requests(front& f, front_channel channel)
        {
            zmq::socket_t& socket = f.clients[static_cast<int>(channel)];
            for (int n = 0; n < burst; ++n)
            {
                std::vector<zmq::message_t> parts = receive(socket);
                if (parts.empty())
                    return;
                if (!relay_request(f, channel, parts))
                    return; // the front closed (shutdown_request)
            }
        }

        /// False when the request closed the front.
        bool relay_request(front& f, front_channel channel, std::vector<zmq::message_t>& parts)
        {
            auto delim = std::find_if(parts.begin(), parts.end(), is_delimiter);
            const std::size_t identities = static_cast<std::size_t>(delim - parts.begin());
            if (delim == parts.end() || parts.end() - delim < 6 || identities > limits::identity_count ||
                std::any_of(parts.begin(), delim, [](const zmq::message_t& id) { return id.size() > limits::guid_length; }))
            {
                refuse(f, "[wire.truncated] expected routing identities (at most 16, of at most 55 bytes), <IDS|MSG>, "
                          "a signature and four JSON frames");
                return true;
            }
            if (delim[2].size() > max_header_bytes)
            {
                // Kept until the request is answered: a header bigger than any real one is refused outright.
                refuse(f, "[wire.header_too_big] a header of more than 64 KiB");
                return true;
            }
            const std::string_view signature = view_of(delim[1]);
            const std::string_view header = view_of(delim[2]);
            if (!f.signer.verify(signature, header, view_of(delim[3]), view_of(delim[4]), view_of(delim[5])))
            {
                refuse(f, "[wire.bad_signature] signature does not match the front's key");
                return true;
            }
            if (f.signer.enabled() && !f.replays.first_sighting(std::string(signature)))
            {
                refuse(f, "[wire.replayed] signature seen before; message ignored");
                return true;
            }
            const std::string host_msg_id = make_host_msg_id(f.number, ++sequence);
            auto rewritten = rewrite_request(header, view_of(delim[4]), f.identity, host_msg_id);
            if (!rewritten)
            {
                refuse(f, "[wire.bad_json] the header or metadata is not a JSON object with a msg_type");
                return true;
            }
            std::vector<std::string> client_identities;
            for (auto it = parts.begin(); it != delim; ++it)
                client_identities.push_back(text_of(*it));
            if (rewritten->msg_type == "shutdown_request" && channel != front_channel::stdin_)
            {
                // Never relayed: the kernel would end every front's notes. One the kernel would refuse is
                // refused here the same way (live_fuzz sends `restart: "sometimes"`).
                if (std::string problem = shutdown_problem(delim); !problem.empty())
                {
                    answer(f, channel, client_identities, std::string(header), "shutdown_reply",
                           to_json({{"status", "error"}, {"ename", "ProtocolError"}, {"evalue", problem},
                                    {"traceback", nl::json::array({"ProtocolError: " + problem})}}));
                    return true;
                }
                answer_shutdown(f, channel, client_identities, std::string(header), text_of(delim[5]));
                return false;
            }
            f.remember(host_msg_id, {std::string(header), std::move(client_identities)});
            // The kernel reads the same frames a client would send, unsigned (the host's kernel has no key: its
            // endpoints are inproc, reachable from this process alone).
            std::vector<zmq::message_t> relayed;
            relayed.reserve(static_cast<std::size_t>(parts.end() - delim));
            relayed.push_back(message_of(delimiter));
            relayed.emplace_back();
            relayed.push_back(message_of(rewritten->header));
            relayed.push_back(std::move(delim[3]));
            relayed.push_back(message_of(rewritten->metadata));
            for (auto it = delim + 5; it != parts.end(); ++it)
                relayed.push_back(std::move(*it));
            send_parts(f.kernel[static_cast<int>(channel)], relayed);
            return true;
        }

        /// Why the kernel would refuse this shutdown_request (request_check.hpp), or empty.
        static std::string shutdown_problem(std::vector<zmq::message_t>::iterator delim)
        {
            auto header = parse_json_object(view_of(delim[2]));
            auto parent = parse_json_object(view_of(delim[3]));
            auto metadata = parse_json_object(view_of(delim[4]));
            auto content = parse_json_object(view_of(delim[5]));
            if (!header || !parent || !metadata || !content)
                return "[wire.bad_json] a JSON frame is not a well-formed object";
            return request_problem(*header, *parent, *metadata, *content);
        }

        void refuse(const front& f, const std::string& why)
        {
            std::cerr << "[atrium] front " << f.identity.kernel_id << " refused a message: " << why << std::endl;
        }

        /// A client's shutdown_request ends its front, never the host: answered here, as a kernel would answer
        /// it, then the front closes and its context is disposed.
        void answer_shutdown(front& f, front_channel channel, const std::vector<std::string>& client_identities,
                             const std::string& client_header, const std::string& content_text)
        {
            bool restarting = false;
            if (auto content = parse_json_object(content_text))
            {
                auto restart = content->find("restart");
                restarting = restart != content->end() && restart->is_boolean() && restart->get<bool>();
            }
            const std::string content = to_json(nl::json{{"status", "ok"}, {"restart", restarting}});
            // As the kernel: the reply on iopub too, for every client of the front to see.
            answer(f, channel, client_identities, client_header, "shutdown_reply", content, /*on_iopub_too=*/true);
            close_front(f.number, {});
        }

        /// Busy, the reply, idle: a request the front answers itself.
        void answer(front& f, front_channel channel, const std::vector<std::string>& client_identities,
                    const std::string& client_header, const std::string& reply_type, const std::string& content,
                    bool on_iopub_too = false)
        {
            publish(f, "status", client_header, R"({"execution_state":"busy"})");
            frame_list reply(client_identities.begin(), client_identities.end());
            append_signed(f, reply, reply_type, client_header, content);
            send_frames(f.clients[static_cast<int>(channel)], std::move(reply));
            if (on_iopub_too)
                publish(f, reply_type, client_header, content);
            publish(f, "status", client_header, R"({"execution_state":"idle"})");
        }

        void append_signed(const front& f, frame_list& frames, const std::string& msg_type, const std::string& parent,
                           const std::string& content)
        {
            std::string header = make_message_header_text(msg_type, "atrium", f.session_id).json;
            frames.emplace_back(delimiter);
            frames.push_back(f.signer.sign(header, parent, "{}", content));
            frames.push_back(std::move(header));
            frames.push_back(parent);
            frames.emplace_back("{}");
            frames.push_back(content);
        }

        void publish(front& f, const std::string& msg_type, const std::string& parent, const std::string& content)
        {
            frame_list frames{"atrium." + msg_type};
            append_signed(f, frames, msg_type, parent, content);
            send_frames(f.iopub, std::move(frames));
        }

        // ---- kernel -> client ----

        /// Replies and input requests from the kernel, to the client whose request they answer. Outputs
        /// published before them are relayed first: the kernel wrote those before this answer (inproc delivers
        /// at once), and a client reading the reply must find them sent.
        void relay_answers(front& f, front_channel channel)
        {
            relay_outputs(/*limit=*/0);
            zmq::socket_t& socket = f.kernel[static_cast<int>(channel)];
            for (int n = 0; n < burst; ++n)
            {
                std::vector<zmq::message_t> parts = receive(socket);
                if (parts.empty())
                    return;
                // From a DEALER: no routing identities, the delimiter first.
                if (parts.size() < 6)
                    continue;
                const relayed_request* request = f.find(parent_msg_id(view_of(parts[3])));
                if (!request)
                    continue; // answers a request forgotten long ago
                std::vector<zmq::message_t> relayed;
                for (const auto& identity : request->client_identities)
                    relayed.push_back(message_of(identity));
                append_relayed(f, relayed, parts, 0, request->client_header);
                send_parts(f.clients[static_cast<int>(channel)], relayed);
            }
        }

        /// Appends the message that starts at `parts[delim]` with the client's header as its parent, signed.
        void append_relayed(const front& f, std::vector<zmq::message_t>& relayed, std::vector<zmq::message_t>& parts,
                            std::size_t delim, const std::string& client_header)
        {
            relayed.push_back(message_of(delimiter));
            relayed.push_back(message_of(
                f.signer.sign(view_of(parts[delim + 2]), client_header, view_of(parts[delim + 4]), view_of(parts[delim + 5]))));
            relayed.push_back(std::move(parts[delim + 2]));
            relayed.push_back(message_of(client_header));
            for (std::size_t i = delim + 4; i < parts.size(); ++i)
                relayed.push_back(std::move(parts[i]));
        }

        /// Everything the kernel published, each to the front of the request it belongs to.
        /// `limit` bounds a burst (0: until none is left).
        void relay_outputs(int limit = 4 * burst)
        {
            for (int n = 0; limit == 0 || n < limit; ++n)
            {
                std::vector<zmq::message_t> parts = receive(iopub_in);
                if (parts.empty())
                    return;
                auto delim = std::find_if(parts.begin(), parts.end(), is_delimiter);
                if (delim == parts.end() || parts.end() - delim < 6)
                    continue;
                const std::string host_msg_id = parent_msg_id(view_of(delim[3]));
                front* f = find_front(front_of_host_msg_id(host_msg_id));
                const relayed_request* request = f ? f->find(host_msg_id) : nullptr;
                if (!request)
                    continue; // the kernel's own (its iopub_welcome), the hub's requests, or a closed front's
                std::vector<zmq::message_t> relayed;
                for (auto it = parts.begin(); it != delim; ++it)
                    relayed.push_back(std::move(*it)); // the topic
                append_relayed(*f, relayed, parts, static_cast<std::size_t>(delim - parts.begin()), request->client_header);
                send_parts(f->iopub, relayed);
            }
        }

        /// Applies each subscription and greets it with iopub_welcome, as the kernel's own iopub does.
        void welcome_subscribers(front& f)
        {
            for (int n = 0; n < burst; ++n)
            {
                zmq::message_t event;
                if (!retry_on_eintr([&] { return f.iopub.recv(event, zmq::recv_flags::dontwait); }))
                    return;
                if (event.size() < 1)
                    continue;
                const std::string topic(event.data<char>() + 1, event.size() - 1);
                if (event.data<char>()[0] == 0)
                {
                    f.iopub.set(zmq::sockopt::unsubscribe, topic);
                    continue;
                }
                f.iopub.set(zmq::sockopt::subscribe, topic);
                stop_awaiting_subscriber(f);
                publish(f, "iopub_welcome", "{}", to_json(nl::json{{"subscription", topic}}));
            }
        }

        void echo_heartbeats(front& f)
        {
            for (int n = 0; n < burst; ++n)
            {
                zmq::message_t ping;
                if (!retry_on_eintr([&] { return f.heartbeat.recv(ping, zmq::recv_flags::dontwait); }))
                    return;
                retry_on_eintr([&] { return f.heartbeat.send(ping, zmq::send_flags::none); });
            }
        }

        // ---- the hub's own requests to the kernel (interrupt, reset, dispose, shutdown) ----

        using reply_handler = std::function<void(const nl::json& content)>;

        void ask_kernel(const std::string& msg_type, const front_identity& who, nl::json content, reply_handler on_reply)
        {
            nl::json header = make_message_header(msg_type, who.user, "atrium-host");
            const std::string host_msg_id = make_host_msg_id(0, ++sequence);
            header["msg_id"] = host_msg_id;
            frame_list frames{std::string(delimiter), "", to_json(header), "{}",
                              to_json(nl::json{{"atrium_note", who.kernel_id}}), to_json(content)};
            if (on_reply)
                awaiting.emplace(host_msg_id, std::move(on_reply));
            send_frames(own_requests, std::move(frames));
        }

        void take_own_replies()
        {
            for (int n = 0; n < burst; ++n)
            {
                std::vector<zmq::message_t> parts = receive(own_requests);
                if (parts.empty())
                    return;
                if (parts.size() < 6)
                    continue;
                auto it = awaiting.find(parent_msg_id(view_of(parts[3])));
                if (it == awaiting.end())
                    continue;
                reply_handler handler = std::move(it->second);
                awaiting.erase(it);
                auto content = parse_json_object(view_of(parts[5]));
                handler(content ? *content : nl::json::object());
            }
        }

        // ---- fronts opening and closing ----

        /// Closes the front now and disposes of its context; `done` runs once the kernel has done so. Opening
        /// the same kernel id meanwhile waits for that (a restart must never find the old namespace).
        void close_front(std::uint64_t number, std::function<void()> done)
        {
            auto it = fronts.find(number);
            if (it == fronts.end())
                return;
            const front_identity who = it->second->identity;
            by_kernel_id.erase(who.kernel_id);
            fronts.erase(it);
            front_count.store(fronts.size());
            ++generation;
            disposing[who.kernel_id];
            ask_kernel("atrium_reset_context_request", who, {{"dispose", true}},
                       [this, kernel_id = who.kernel_id, done = std::move(done)](const nl::json&)
                       {
                           if (done)
                               done();
                           auto waiting = std::move(disposing[kernel_id]);
                           disposing.erase(kernel_id);
                           for (auto& command : waiting)
                               serve_and_answer(command);
                       });
        }

        nl::json open_front(const nl::json& request)
        {
            const std::string kernel_id = request.value("kernel_id", "");
            const nl::json user = request.value("user", nl::json(""));
            const nl::json key = request.value("key", nl::json(""));
            const nl::json ip = request.value("ip", nl::json("127.0.0.1"));
            const nl::json ports = request.value("ports", nl::json::object());
            if (!user.is_string() || (!user.get<std::string>().empty() && !plain_token(user.get<std::string>(), 128)))
                return refusal("[host.bad_user] user: expected 1 to 128 printable characters without spaces");
            if (!key.is_string() || key.get<std::string>().size() > 1024)
                return refusal("[host.bad_key] key: expected a string of at most 1024 bytes");
            if (!ip.is_string() || !plain_token(ip.get<std::string>(), 64))
                return refusal("[host.bad_ip] ip: expected an address such as 127.0.0.1");
            if (!ports.is_object())
                return refusal("[host.bad_ports] ports: expected an object such as {\"shell_port\": 50001}");
            if (by_kernel_id.count(kernel_id) != 0)
                return refusal("[host.front_exists] a front for kernel " + kernel_id + " is open");
            const std::string front_key = key.get<std::string>().empty() ? random_key() : key.get<std::string>();
            const std::uint64_t number = next_front++;
            try
            {
                auto opened = std::make_unique<front>(context, number, front_identity{kernel_id, user.get<std::string>()},
                                                      front_key, ip.get<std::string>(), ports, kernel);
                nl::json answer = {{"ok", true}, {"pid", getpid()}, {"connection", opened->connection_info()}};
                by_kernel_id[kernel_id] = number;
                fronts.emplace(number, std::move(opened));
                front_count.store(fronts.size());
                ++generation;
                return answer;
            }
            catch (const zmq::error_t& e)
            {
                return refusal("[host.bind_failed] cannot listen on " + ip.get<std::string>() + ": " + e.what());
            }
        }

        /// Answers now, or returns nullopt when the answer comes later through `command.answer`.
        std::optional<nl::json> serve(pending_command& command)
        {
            const nl::json& request = command.request;
            const std::string op = request.value("op", "");
            if (op == "ping")
            {
                nl::json answer = about;
                answer.update({{"ok", true}, {"pid", getpid()}, {"fronts", fronts.size()}});
                return answer;
            }
            if (op == "list")
            {
                nl::json listed = nl::json::array();
                for (auto& [number, f] : fronts)
                    listed.push_back({{"kernel_id", f->identity.kernel_id}, {"user", f->identity.user}});
                return nl::json{{"ok", true}, {"fronts", std::move(listed)}};
            }
            if (op == "stop")
            {
                while (!fronts.empty())
                    close_front(fronts.begin()->first, {});
                ask_kernel("shutdown_request", {"atrium-host", ""}, {{"restart", false}}, {});
                return nl::json{{"ok", true}};
            }
            const nl::json kernel_id = request.value("kernel_id", nl::json());
            if (!kernel_id.is_string() || !plain_token(kernel_id.get<std::string>(), 128))
                return refusal("[host.bad_kernel_id] kernel_id: expected 1 to 128 printable characters without spaces");
            const std::string id = kernel_id.get<std::string>();
            if (disposing.count(id) != 0 && (op == "open" || op == "close" || op == "alive"))
            {
                disposing[id].push_back(std::move(command)); // answered once the old context is gone
                return std::nullopt;
            }
            if (op == "open")
                return open_front(request);
            auto found = by_kernel_id.find(id);
            if (op == "alive")
                return nl::json{{"ok", true}, {"alive", found != by_kernel_id.end()}};
            if (op == "close" && found == by_kernel_id.end())
                return nl::json{{"ok", true}, {"was_open", false}};
            if (op != "close" && op != "reset" && op != "interrupt")
                return refusal("[host.unknown_op] op: expected ping, open, close, reset, interrupt, alive, list or stop");
            if (found == by_kernel_id.end())
                return refusal("[host.no_such_front] no front is open for kernel " + id);
            auto answer = std::make_shared<std::promise<nl::json>>(std::move(command.answer));
            if (op == "close")
            {
                close_front(found->second, [answer] { answer->set_value({{"ok", true}, {"was_open", true}}); });
                return std::nullopt;
            }
            ask_kernel(op == "reset" ? "atrium_reset_context_request" : "interrupt_request",
                       fronts.at(found->second)->identity, nl::json::object(),
                       [answer](const nl::json&) { answer->set_value({{"ok", true}}); });
            return std::nullopt;
        }

        void serve_and_answer(pending_command& command)
        {
            if (auto now = serve(command))
                command.answer.set_value(std::move(*now));
        }

        void run_commands()
        {
            std::deque<pending_command> batch;
            {
                std::lock_guard<std::mutex> lock(commands_mutex);
                batch.swap(commands);
            }
            for (auto& command : batch)
                serve_and_answer(command);
        }

        zmq::context_t& context;
        const kernel_endpoints kernel;
        const nl::json about;
        wake_signal wake;
        std::mutex commands_mutex;
        std::deque<pending_command> commands;
        std::atomic<bool> hub_ended{false};
        std::atomic<std::size_t> front_count{0};

        // The main thread only:
        zmq::socket_t iopub_in;     ///< SUB to the kernel's iopub
        zmq::socket_t own_requests; ///< DEALER to the kernel's control: the hub's own requests
        std::map<std::uint64_t, std::unique_ptr<front>> fronts;
        std::map<std::string, std::uint64_t> by_kernel_id;
        std::map<std::string, std::vector<pending_command>> disposing; ///< kernel ids whose context is going
        std::unordered_map<std::string, reply_handler> awaiting;        ///< own requests' msg_ids
        std::uint64_t next_front = 1; ///< 0 is the hub's own requests
        std::uint64_t sequence = 0;
        std::uint64_t generation = 1; ///< moves whenever the sockets to poll change
        std::vector<std::uint64_t> polled; ///< the front of each group of 8 poll items after the first 3
    };

    front_hub::front_hub(zmq::context_t& context, kernel_endpoints kernel, nlohmann::json about)
        : p_impl(std::make_unique<impl>(context, std::move(kernel), std::move(about)))
    {
    }

    front_hub::~front_hub() = default;

    nlohmann::json front_hub::command(nlohmann::json request, std::chrono::milliseconds wait)
    {
        std::future<nlohmann::json> answer;
        {
            std::lock_guard<std::mutex> lock(p_impl->commands_mutex);
            if (p_impl->hub_ended.load())
                return refusal("[host.stopping] the host is shutting down");
            p_impl->commands.push_back({std::move(request), {}});
            answer = p_impl->commands.back().answer.get_future();
        }
        p_impl->wake.raise();
        if (answer.wait_for(wait) != std::future_status::ready)
            return refusal("[host.timeout] the host did not answer within " + std::to_string(wait.count()) + " ms");
        return answer.get();
    }

    void front_hub::poll_items(std::vector<zmq::pollitem_t>& items)
    {
        p_impl->poll_items(items);
    }

    std::uint64_t front_hub::generation() const
    {
        return p_impl->generation;
    }

    std::chrono::milliseconds front_hub::poll_timeout() const
    {
        return p_impl->poll_timeout();
    }

    void front_hub::serve(const zmq::pollitem_t* items)
    {
        p_impl->serve(items);
    }

    void front_hub::close()
    {
        p_impl->close();
    }

    std::size_t front_hub::fronts() const
    {
        return p_impl->front_count.load();
    }

    bool front_hub::ended() const
    {
        return p_impl->hub_ended.load();
    }
}
