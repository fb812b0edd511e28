// SPDX-License-Identifier: MIT
// The fronts' relaying, served by the kernel's main thread: requests from clients to the kernel, replies back to
// the front whose request they answer. (The control requests: front_commands.cpp; outputs: front_outputs.cpp.)
#include "kernel/host/front_hub_impl.hpp"

#include "kernel/frame_send.hpp"
#include "kernel/host/relay_frames.hpp"
#include "kernel/iopub_publisher.hpp"
#include "kernel/json_writer.hpp"
#include "kernel/request_check.hpp"
#include "common/zmq_retry.hpp"

#include <algorithm>
#include <utility>
#include <iostream>

namespace atrium
{
    front_hub::impl::impl(zmq::context_t& context, kernel_endpoints kernel, nl::json about)
        : context(context)
        , kernel(std::move(kernel))
        , about(std::move(about))
        , outputs(
              [this](std::uint64_t number)
              {
                  {
                      std::lock_guard<std::mutex> lock(commands_mutex);
                      first_subscribers.push_back(number);
                  }
                  wake.raise();
              })
        , own_requests(context, zmq::socket_type::dealer)
    {
        own_requests.set(zmq::sockopt::linger, 0);
        own_requests.set(zmq::sockopt::routing_id, own_routing_id);
        own_requests.connect(this->kernel.control);
    }

    front_hub::impl::~impl()
    {
        close();
    }

    void front_hub::impl::poll_items(std::vector<zmq::pollitem_t>& items)
    {
        items.push_back({nullptr, wake.fd(), ZMQ_POLLIN, 0});
        items.push_back({own_requests.handle(), 0, ZMQ_POLLIN, 0});
        // Every front's sockets, as one descriptor (epoll_set).
        items.push_back({nullptr, watched.fd(), ZMQ_POLLIN, 0});
    }

    std::uint64_t front_hub::impl::tag_of(std::uint64_t number, std::size_t item)
    {
        return number * group_size + item;
    }

    void front_hub::impl::watch(front& f)
    {
        // Its shell waits for the first subscriber (stop_awaiting_subscriber adds it then).
        for (std::size_t item = f.awaiting_subscriber ? shell_client + 1 : shell_client; item < group_size; ++item)
            watched.add(socket_of(f, item).get(zmq::sockopt::fd), tag_of(f.number, item));
    }

    void front_hub::impl::unwatch(front& f)
    {
        for (std::size_t item = 0; item < group_size; ++item)
            watched.remove(socket_of(f, item).get(zmq::sockopt::fd));
    }

    zmq::socket_t& front_hub::impl::socket_of(front& f, std::size_t item)
    {
        switch (item)
        {
        case shell_client:
        case control_client:
        case stdin_client:
            return f.clients[item];
        case heartbeat_socket:
            return f.heartbeat;
        case control_kernel:
            return f.kernel[static_cast<int>(front_channel::control)];
        default:
            return f.kernel[static_cast<int>(front_channel::stdin_)];
        }
    }

    void front_hub::impl::recheck(front& f, std::size_t item)
    {
        if (socket_of(f, item).get(zmq::sockopt::events) & ZMQ_POLLIN)
            readable.emplace(f.number, item);
    }

    std::chrono::milliseconds front_hub::impl::poll_timeout() const
    {
        if (!readable.empty())
            return std::chrono::milliseconds(0);
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
    void front_hub::impl::stop_awaiting_subscriber(front& f)
    {
        if (!f.awaiting_subscriber)
            return;
        f.awaiting_subscriber = false;
        readable.emplace(f.number, shell_client); // read now, and polled from now on
        watched.add(socket_of(f, shell_client).get(zmq::sockopt::fd), tag_of(f.number, shell_client));
    }

    void front_hub::impl::serve(const zmq::pollitem_t* items)
    {
        const auto now = std::chrono::steady_clock::now();
        for (auto& [number, f] : fronts)
            if (f->awaiting_subscriber && now >= f->subscriber_deadline)
                stop_awaiting_subscriber(*f);
        if (items[0].revents & ZMQ_POLLIN)
        {
            wake.clear();
            take_first_subscribers();
            run_commands();
        }
        if (items[1].revents & ZMQ_POLLIN)
            take_own_replies();
        if (items[2].revents & ZMQ_POLLIN)
            collect_ready();
        const auto ready = std::exchange(readable, {});
        // The kernel's answers first, then the clients' requests, then heartbeats.
        for (std::size_t item : {control_kernel, stdin_kernel, shell_client, control_client, stdin_client,
                                 heartbeat_socket})
            for (const auto& [number, which] : ready)
                if (which == item)
                {
                    // One socket's trouble must not drop the others' readiness, which their fds no longer show.
                    try
                    {
                        serve_socket(number, item);
                    }
                    catch (const std::exception& e)
                    {
                        std::cerr << "[atrium] [host.relay_error] " << e.what() << std::endl;
                        if (front* f = find_front(number))
                            readable.emplace(f->number, item);
                    }
                }
    }

    void front_hub::impl::serve_socket(std::uint64_t number, std::size_t item)
    {
        front* f = find_front(number);
        if (!f || (item == shell_client && f->awaiting_subscriber))
            return; // closed; or read once its first subscriber is welcomed
        std::size_t also_sent_on = item; // whose incoming messages a send may have hidden behind a quiet fd
        switch (item)
        {
        case shell_client:
        case control_client:
        case stdin_client:
            relay_requests(*f, static_cast<front_channel>(item));
            also_sent_on = item == shell_client ? item : item + (control_kernel - control_client);
            break;
        case heartbeat_socket:
            echo_heartbeats(*f);
            break;
        default:
            relay_answers(*f, item == control_kernel ? front_channel::control : front_channel::stdin_);
            also_sent_on = item - (control_kernel - control_client);
            break;
        }
        if (front* still = find_front(number)) // a shutdown_request closes its front
        {
            recheck(*still, item);
            if (also_sent_on != item)
                recheck(*still, also_sent_on);
        }
    }

    void front_hub::impl::take_first_subscribers()
    {
        std::vector<std::uint64_t> numbers;
        {
            std::lock_guard<std::mutex> lock(commands_mutex);
            numbers.swap(first_subscribers);
        }
        for (std::uint64_t number : numbers)
            if (front* f = find_front(number))
                stop_awaiting_subscriber(*f);
    }

    /// The kernel is stopping (its context closes next, which waits for every socket to close).
    void front_hub::impl::close()
    {
        std::lock_guard<std::mutex> lock(commands_mutex);
        if (hub_ended.exchange(true))
            return;
        fronts.clear();
        front_count.store(0);
        own_requests.close();
        for (auto& command : commands)
            command.answer.set_value(refusal("[host.stopping] the host is shutting down"));
        commands.clear();
        // Requests that waited for a disposal, or for the kernel's answer, get theirs: none will come now.
        for (auto& [kernel_id, waiting] : disposing)
            for (auto& command : waiting)
                command.answer.set_value(refusal("[host.stopping] the host is shutting down"));
        disposing.clear();
        for (auto& [msg_id, handler] : awaiting)
            handler({{"status", "aborted"}});
        awaiting.clear();
        ++generation;
    }

    void front_hub::impl::take_waiting_requests()
    {
        // Not while requests are being relayed (a refused one is answered at once, from inside the relay): the
        // relay holds a front's socket, and a shutdown_request read here would close that front under it.
        if (relaying_requests)
            return;
        // Only the shells with something waiting (epoll_set): a reply must not cost a look at every front.
        collect_ready();
        std::vector<std::uint64_t> waiting;
        for (const auto& [number, item] : readable)
            if (item == shell_client)
                waiting.push_back(number);
        for (std::uint64_t number : waiting)
        {
            readable.erase({number, shell_client});
            serve_socket(number, shell_client); // a shutdown_request read there may close the front
        }
    }

    void front_hub::impl::collect_ready()
    {
        ready_tags.clear();
        watched.ready(ready_tags);
        for (std::uint64_t tag : ready_tags)
            readable.emplace(tag / group_size, tag % group_size);
    }

    bool front_hub::impl::relay_shell_reply(std::vector<std::string>& frames)
    {
        if (take_own_shell_reply(frames))
            return true;
        if (frames.empty() || front_of_routing_id(frames[0]) == 0)
            return false; // not a front's (the kernel's own shell socket has no client in a host)
        front* f = find_front(front_of_routing_id(frames[0]));
        auto delim = std::find(frames.begin(), frames.end(), delimiter);
        if (!f || frames.end() - delim < 6)
            return true; // its front has closed
        // What the kernel published before this reply has been written (zmq_server waited for its publisher).
        const std::optional<relayed_request> request = f->find(parent_msg_id(delim[3]));
        if (!request)
            return true; // answers a request forgotten long ago
        std::vector<zmq::message_t> parts;
        for (auto it = delim; it != frames.end(); ++it)
            parts.push_back(message_of(*it));
        std::vector<zmq::message_t> relayed;
        for (const auto& identity : request->client_identities)
            relayed.push_back(message_of(identity));
        append_relayed(*f, relayed, parts, 0, request->client_header);
        send_parts(f->clients[static_cast<int>(front_channel::shell)], relayed);
        recheck(*f, shell_client);
        return true;
    }

    front* front_hub::impl::find_front(std::uint64_t number)
    {
        auto it = fronts.find(number);
        return it == fronts.end() ? nullptr : it->second.get();
    }

    void front_hub::impl::relay_requests(front& f, front_channel channel)
    {
        relaying_requests = true;
        struct done_relaying
        {
            bool& flag;
            ~done_relaying()
            {
                flag = false;
            }
        } done{relaying_requests};
        zmq::socket_t& socket = f.clients[static_cast<int>(channel)];
        for (int n = 0; n < burst; ++n)
        {
            std::vector<zmq::message_t> parts = receive_parts(socket);
            if (parts.empty())
                return;
            if (!relay_request(f, channel, parts))
                return; // the front closed (shutdown_request)
        }
    }

    /// False when the request closed the front.
    bool front_hub::impl::relay_request(front& f, front_channel channel, std::vector<zmq::message_t>& parts)
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
        const std::string host_msg_id = make_host_msg_id(f.number, ++sequence, random_tag());
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
        // endpoints are inproc, reachable from this process alone). Shell requests are handed to the kernel's
        // server directly, on this same thread: a round trip through a front crosses no socket of the host's.
        if (channel == front_channel::shell && server)
        {
            frame_list frames{f.routing_id, std::string(delimiter), "", std::move(rewritten->header),
                              text_of(delim[3]), std::move(rewritten->metadata)};
            for (auto it = delim + 5; it != parts.end(); ++it)
                frames.push_back(text_of(*it));
            server->inject_shell(std::move(frames));
            return true;
        }
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
    std::string front_hub::impl::shutdown_problem(std::vector<zmq::message_t>::iterator delim)
    {
        auto header = parse_json_object(view_of(delim[2]));
        auto parent = parse_json_object(view_of(delim[3]));
        auto metadata = parse_json_object(view_of(delim[4]));
        auto content = parse_json_object(view_of(delim[5]));
        if (!header || !parent || !metadata || !content)
            return "[wire.bad_json] a JSON frame is not a well-formed object";
        return request_problem(*header, *parent, *metadata, *content);
    }

    void front_hub::impl::refuse(const front& f, const std::string& why)
    {
        std::cerr << "[atrium] front " << f.identity.kernel_id << " refused a message: " << why << std::endl;
    }

    /// A client's shutdown_request ends its front, never the host: answered here, as a kernel would answer
    /// it, then the front closes and its context is disposed.
    void front_hub::impl::answer_shutdown(front& f, front_channel channel,
                                          const std::vector<std::string>& client_identities,
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
    void front_hub::impl::answer(front& f, front_channel channel, const std::vector<std::string>& client_identities,
                                 const std::string& client_header, const std::string& reply_type,
                                 const std::string& content, bool on_iopub_too)
    {
        publish(f, "status", client_header, R"({"execution_state":"busy"})");
        frame_list reply(client_identities.begin(), client_identities.end());
        append_front_message(reply, f.signer, f.session_id, reply_type, client_header, content);
        send_frames(f.clients[static_cast<int>(channel)], std::move(reply));
        if (on_iopub_too)
            publish(f, reply_type, client_header, content);
        publish(f, "status", client_header, R"({"execution_state":"idle"})");
    }

    void front_hub::impl::publish(front& f, const std::string& msg_type, const std::string& parent,
                                  const std::string& content)
    {
        if (!server)
            return;
        frame_list frames{"atrium." + msg_type};
        append_front_message(frames, f.signer, f.session_id, msg_type, parent, content);
        server->publisher().run_in_order([this, number = f.number, frames = std::move(frames)]() mutable
                                         { outputs.send(number, std::move(frames)); });
    }

    void front_hub::impl::wait_outputs_written()
    {
        if (server)
            server->publisher().wait_written(server->publisher().latest_output());
    }

    /// Replies and input requests from the kernel, to the client whose request they answer, once the output
    /// published before them has been written: a client reading the reply must find it sent.
    void front_hub::impl::relay_answers(front& f, front_channel channel)
    {
        wait_outputs_written();
        zmq::socket_t& socket = f.kernel[static_cast<int>(channel)];
        for (int n = 0; n < burst; ++n)
        {
            std::vector<zmq::message_t> parts = receive_parts(socket);
            if (parts.empty())
                return;
            // From a DEALER: no routing identities, the delimiter first.
            if (parts.size() < 6)
                continue;
            const std::optional<relayed_request> request = f.find(parent_msg_id(view_of(parts[3])));
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
    void front_hub::impl::append_relayed(const front& f, std::vector<zmq::message_t>& relayed,
                                         std::vector<zmq::message_t>& parts, std::size_t delim,
                                         const std::string& client_header)
    {
        relayed.push_back(message_of(delimiter));
        relayed.push_back(message_of(
            f.signer.sign(view_of(parts[delim + 2]), client_header, view_of(parts[delim + 4]),
                          view_of(parts[delim + 5]))));
        relayed.push_back(std::move(parts[delim + 2]));
        relayed.push_back(message_of(client_header));
        for (std::size_t i = delim + 4; i < parts.size(); ++i)
            relayed.push_back(std::move(parts[i]));
    }

    void front_hub::impl::echo_heartbeats(front& f)
    {
        for (int n = 0; n < burst; ++n)
        {
            zmq::message_t ping;
            if (!retry_on_eintr([&] { return f.heartbeat.recv(ping, zmq::recv_flags::dontwait); }))
                return;
            retry_on_eintr([&] { return f.heartbeat.send(ping, zmq::send_flags::none); });
        }
    }

    front_hub::front_hub(zmq::context_t& context, kernel_endpoints kernel, nlohmann::json about)
        : p_impl(std::make_unique<impl>(context, std::move(kernel), std::move(about)))
    {
    }

    front_hub::~front_hub() = default;

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

    void front_hub::attached(zmq_server& server)
    {
        p_impl->server = &server;
        server.publisher().relay_through(p_impl->outputs);
    }

    void front_hub::before_shell_reply()
    {
        p_impl->take_waiting_requests();
    }

    bool front_hub::take_shell_reply(std::vector<std::string>& frames)
    {
        return p_impl->relay_shell_reply(frames);
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
