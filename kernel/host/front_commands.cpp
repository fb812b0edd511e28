// SPDX-License-Identifier: MIT
// The control socket's requests (docs/host.md), served by the kernel's main thread: fronts open and close, and
// the hub's own requests to the kernel on a front's behalf (interrupt, reset, dispose, shutdown).
#include "kernel/host/front_hub_impl.hpp"
#include "kernel/iopub_publisher.hpp"

#include "kernel/frame_send.hpp"
#include "kernel/host/relay_frames.hpp"
#include "kernel/json_writer.hpp"
#include "kernel/message_header.hpp"

#include <unistd.h>

#include <algorithm>

namespace atrium
{
    namespace
    {
        /// 1 to `most` printable ASCII characters without spaces (kernel ids, users, addresses).
        bool plain_token(const std::string& text, std::size_t most)
        {
            return !text.empty() && text.size() <= most &&
                   std::all_of(text.begin(), text.end(), [](char c) { return c > ' ' && c < 0x7f; });
        }

        std::string random_key()
        {
            static const char hex[] = "0123456789abcdef";
            std::string key;
            for (int part = 0; part < 2; ++part)
            {
                const std::uint64_t bits = random_tag();
                for (int shift = 60; shift >= 0; shift -= 4)
                    key += hex[(bits >> shift) & 15];
            }
            return key;
        }
    }

    nlohmann::json front_hub::impl::refusal(const std::string& error)
    {
        return {{"ok", false}, {"error", error}};
    }

    void front_hub::impl::ask_kernel(const std::string& msg_type, const front_identity& who, nl::json content,
                                     reply_handler on_reply)
    {
        if (hub_ended.load())
        {
            if (on_reply)
                on_reply({{"status", "aborted"}}); // the kernel is stopping: nobody will answer
            return;
        }
        nl::json header = make_message_header(msg_type, who.user, "atrium-host");
        const std::string host_msg_id = make_host_msg_id(0, ++sequence, random_tag());
        header["msg_id"] = host_msg_id;
        frame_list frames{std::string(delimiter), "", to_json(header), "{}",
                          to_json(nl::json{{"atrium_note", who.kernel_id}}), to_json(content)};
        if (on_reply)
            awaiting.emplace(host_msg_id, std::move(on_reply));
        if (msg_type == "kernel_info_request" && server)
        {
            // In turn with the shell requests already handed to the kernel (served in order by its main
            // thread): its reply says they have all been dispatched.
            frames.insert(frames.begin(), own_routing_id);
            server->inject_shell(std::move(frames));
            return;
        }
        send_frames(own_requests, std::move(frames));
    }

    bool front_hub::impl::take_own_shell_reply(const std::vector<std::string>& frames)
    {
        if (frames.empty() || frames[0] != own_routing_id)
            return false;
        auto delim = std::find(frames.begin(), frames.end(), delimiter);
        if (frames.end() - delim >= 6)
        {
            auto it = awaiting.find(parent_msg_id(delim[3]));
            if (it != awaiting.end())
            {
                reply_handler handler = std::move(it->second);
                awaiting.erase(it);
                handler(nl::json::object());
            }
        }
        return true;
    }

    void front_hub::impl::take_own_replies()
    {
        for (int n = 0; n < burst; ++n)
        {
            std::vector<zmq::message_t> parts = receive_parts(own_requests);
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

    /// Closes the front now and disposes of its context; `done` runs once the kernel has done so. Opening
    /// the same kernel id meanwhile waits for that (a restart must never find the old namespace).
    void front_hub::impl::close_front(std::uint64_t number, std::function<void()> done)
    {
        auto it = fronts.find(number);
        if (it == fronts.end())
            return;
        const front_identity who = it->second->identity;
        by_kernel_id.erase(who.kernel_id);
        unwatch(*it->second);
        fronts.erase(it);
        if (server)
            server->publisher().run_in_order([this, number] { outputs.remove(number); });
        front_count.store(fronts.size());
        // With --scope=user a user's fronts share one context: it goes with the last of them.
        if (about.value("scope", "") == "user" &&
            std::any_of(fronts.begin(), fronts.end(), [&](const auto& open) { return open.second->identity.user == who.user; }))
        {
            if (done)
                done();
            return;
        }
        disposing[who.kernel_id];
        auto disposed = [this, kernel_id = who.kernel_id, done = std::move(done)](const nl::json&)
        {
            if (done)
                done();
            auto waiting = std::move(disposing[kernel_id]);
            disposing.erase(kernel_id);
            for (auto& command : waiting)
                serve_and_answer(command);
        };
        // The front's requests already handed to the kernel are dispatched first (a kernel_info in turn with
        // them), so none of them makes the note a context again after it is disposed.
        ask_kernel("kernel_info_request", who, nl::json::object(),
                   [this, who, disposed = std::move(disposed)](const nl::json&) mutable
                   { ask_kernel("atrium_reset_context_request", who, {{"dispose", true}}, std::move(disposed)); });
    }

    nl::json front_hub::impl::open_front(const nl::json& request)
    {
        const std::string kernel_id = request.value("kernel_id", "");
        const nl::json user = request.value("user", nl::json(""));
        const nl::json key = request.value("key", nl::json(""));
        const nl::json ip = request.value("ip", nl::json("127.0.0.1"));
        const nl::json ports = request.value("ports", nl::json::object());
        if (!user.is_string() || (!user.get<std::string>().empty() && !plain_token(user.get<std::string>(), 128)))
            return impl::refusal("[host.bad_user] user: expected 1 to 128 printable characters without spaces");
        if (!key.is_string() || key.get<std::string>().size() > 1024)
            return impl::refusal("[host.bad_key] key: expected a string of at most 1024 bytes");
        if (!ip.is_string() || !plain_token(ip.get<std::string>(), 64))
            return impl::refusal("[host.bad_ip] ip: expected an address such as 127.0.0.1");
        if (!ports.is_object())
            return impl::refusal("[host.bad_ports] ports: expected an object such as {\"shell_port\": 50001}");
        if (by_kernel_id.count(kernel_id) != 0)
            return impl::refusal("[host.front_exists] a front for kernel " + kernel_id + " is open");
        const std::string front_key = key.get<std::string>().empty() ? random_key() : key.get<std::string>();
        const std::uint64_t number = next_front++;
        std::unique_ptr<front> opened;
        try
        {
            opened = std::make_unique<front>(context, number, front_identity{kernel_id, user.get<std::string>()},
                                             front_key, ip.get<std::string>(), ports, kernel);
            watch(*opened);
        }
        catch (const zmq::error_t& e)
        {
            if (opened)
                unwatch(*opened);
            return impl::refusal("[host.bind_failed] cannot listen on " + ip.get<std::string>() + ": " + e.what());
        }
        catch (const std::runtime_error& e) // epoll_set: out of descriptors or memory
        {
            if (opened)
                unwatch(*opened);
            return impl::refusal(std::string("[host.open_failed] ") + e.what());
        }
        nl::json answer = {{"ok", true}, {"pid", getpid()}, {"connection", opened->connection_info()}};
        // From here on its iopub belongs to the kernel's publisher thread, which writes the outputs.
        if (server)
            server->publisher().run_in_order(
                [this, number, iopub = std::move(opened->iopub), key = front_key, session = opened->session_id,
                 requests = opened->requests] { outputs.add(number, iopub, key, session, requests); });
        by_kernel_id[kernel_id] = number;
        fronts.emplace(number, std::move(opened));
        front_count.store(fronts.size());
        return answer;
    }

    /// Answers now, or returns nullopt when the answer comes later through `command.answer`.
    std::optional<nl::json> front_hub::impl::serve(pending_command& command)
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
            stopping = true;
            while (!fronts.empty())
                close_front(fronts.begin()->first, {});
            ask_kernel("shutdown_request", {"atrium-host", ""}, {{"restart", false}}, {});
            return nl::json{{"ok", true}};
        }
        const nl::json kernel_id = request.value("kernel_id", nl::json());
        if (!kernel_id.is_string() || !plain_token(kernel_id.get<std::string>(), 128))
            return impl::refusal(
                "[host.bad_kernel_id] kernel_id: expected 1 to 128 printable characters without spaces");
        const std::string id = kernel_id.get<std::string>();
        if (disposing.count(id) != 0 && (op == "open" || op == "close" || op == "alive"))
        {
            disposing[id].push_back(std::move(command)); // answered once the old context is gone
            return std::nullopt;
        }
        if (op == "open" && stopping)
            return refusal("[host.stopping] the host is shutting down; start another");
        if (op == "open")
            return open_front(request);
        auto found = by_kernel_id.find(id);
        if (op == "alive")
            return nl::json{{"ok", true}, {"alive", found != by_kernel_id.end()}};
        if (op == "close" && found == by_kernel_id.end())
            return nl::json{{"ok", true}, {"was_open", false}};
        if (op != "close" && op != "reset" && op != "interrupt")
            return impl::refusal(
                "[host.unknown_op] op: expected ping, open, close, reset, interrupt, alive, list or stop");
        if (found == by_kernel_id.end())
            return impl::refusal("[host.no_such_front] no front is open for kernel " + id);
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

    void front_hub::impl::serve_and_answer(pending_command& command)
    {
        if (auto now = serve(command))
            command.answer.set_value(std::move(*now));
    }

    void front_hub::impl::run_commands()
    {
        std::deque<pending_command> batch;
        {
            std::lock_guard<std::mutex> lock(commands_mutex);
            batch.swap(commands);
        }
        for (auto& command : batch)
            serve_and_answer(command);
    }

    nlohmann::json front_hub::command(nlohmann::json request, std::chrono::milliseconds wait)
    {
        std::future<nlohmann::json> answer;
        {
            std::lock_guard<std::mutex> lock(p_impl->commands_mutex);
            if (p_impl->hub_ended.load())
                return impl::refusal("[host.stopping] the host is shutting down");
            p_impl->commands.push_back({std::move(request), {}});
            answer = p_impl->commands.back().answer.get_future();
        }
        p_impl->wake.raise();
        if (answer.wait_for(wait) != std::future_status::ready)
            return impl::refusal("[host.timeout] the host did not answer within " + std::to_string(wait.count()) +
                                 " ms");
        try
        {
            return answer.get();
        }
        catch (const std::exception& e) // a promise the hub dropped as it closed
        {
            return impl::refusal(std::string("[host.stopping] ") + e.what());
        }
    }
}
