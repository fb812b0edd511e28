// SPDX-License-Identifier: MIT
#include "kernel/python_interpreter.hpp"

#include "kernel/context_sink.hpp"
#include "kernel/history_reply.hpp"
#include "kernel/message_header.hpp"
#include "kernel/xeus_comm_bridge.hpp"
#include "kernel/zmq_server.hpp"

#include "embed/channel_scope.hpp"
#include "embed/execution_context.hpp"
#include "embed/python_runtime.hpp"
#include "session/context_scheduler.hpp"
#include "session/history_store.hpp"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <sstream>

namespace atrium
{
    /// One note's or user's context and what the session manager keeps about it.
    struct context_state
    {
        context_state(std::string key, zmq_server& server, bool main_module)
            : key(std::move(key))
            , main_module(main_module)
            , sink(server)
            , context(std::make_unique<execution_context>(sink, main_module))
        {
        }

        std::string key;
        bool main_module;
        context_sink sink;
        std::unique_ptr<execution_context> context;
        history_store history;
        /// After a failure with stop_on_error: requests of this context that arrived up to here are aborted.
        std::atomic<std::uint64_t> abort_through{0};
        std::atomic<int> claims{0}; ///< requests queued for or being served by this context: never culled then
        std::atomic<bool> running{false};
        std::atomic<bool> reset_requested{false}; ///< by a control message: done before its next cell
        std::atomic<std::int64_t> last_activity{0}; ///< steady clock, milliseconds
    };

    namespace
    {
        const pthread_t g_main_thread = pthread_self();
        /// The key of the context whose cell runs on this thread (comms it creates belong to that context).
        thread_local std::string t_context_key;

        nl::json error_content(const std::string& ename, const std::string& evalue)
        {
            return {{"status", "error"},
                    {"ename", ename},
                    {"evalue", evalue},
                    {"traceback", nl::json::array({ename + ": " + evalue})}};
        }

        std::int64_t now_ms()
        {
            return std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                .count();
        }

        /// `%name rest-of-line` on the first line of `code`, or an empty name.
        std::pair<std::string, std::string> line_magic(const std::string& code)
        {
            auto begin = code.find_first_not_of(" \t\n");
            if (begin == std::string::npos || code[begin] != '%' || code.compare(begin, 2, "%%") == 0)
                return {};
            auto end = code.find('\n', begin);
            std::string line = code.substr(begin + 1, end == std::string::npos ? std::string::npos : end - begin - 1);
            auto space = line.find_first_of(" \t");
            std::string name = line.substr(0, space);
            std::string argument = space == std::string::npos ? "" : line.substr(line.find_first_not_of(" \t", space));
            argument.erase(argument.find_last_not_of(" \t\r") + 1);
            return {name, argument};
        }

        std::string after_first_line(const std::string& code)
        {
            auto end = code.find('\n', code.find_first_not_of(" \t\n"));
            return end == std::string::npos ? std::string() : code.substr(end + 1);
        }
    }

    python_interpreter::python_interpreter(binding_config binding)
        : m_binding(binding)
        , m_keys(binding)
    {
    }

    python_interpreter::~python_interpreter()
    {
        stop_culler();
        set_comm_bridge(nullptr);
    }

    void python_interpreter::attach_server(zmq_server& server)
    {
        p_server = &server;
        server.on_request([this](xeus::xmessage& request, std::uint64_t sequence)
                          { return route_request(request, sequence); });
        server.on_stdin([this](const xeus::xmessage& message) { return route_stdin(message); });
        server.on_interrupt([this](const xeus::xmessage& request) { interrupt(request); });
        server.on_control([this](const xeus::xmessage& message) { return route_control(message); });
        if (m_binding.mode == binding_mode::scoped)
        {
            p_scheduler = std::make_unique<context_scheduler>();
        }
        else if (m_binding.mode == binding_mode::shared)
        {
            release(claim(shared_key)); // created now: __main__ and its namespace exist before the first cell
        }
        if (m_binding.cull_idle_after.count() > 0)
        {
            m_culler = std::thread([this] { cull_idle_contexts(); });
        }
    }

    void python_interpreter::configure_impl()
    {
        p_runtime = std::make_unique<python_runtime>(default_python_executable());
        xeus_comm_bridge::access_policy access{
            [] { return t_context_key; },
            [this](const xeus::xmessage& request, const std::string& owner)
            { return owner.empty() || m_keys.may_access(identity_of(request), owner, false); }};
        p_comms = std::make_unique<xeus_comm_bridge>(
            comm_manager(),
            [this](const std::string& msg_type, nl::json content, nl::json metadata)
            {
                // Comm messages sent outside any cell: from a handler run for a client's comm message, the
                // request xeus's core is serving.
                p_server->publish_output(msg_type, parent_header(), std::move(content), std::move(metadata));
            },
            std::move(access));
        set_comm_bridge(p_comms.get());
        m_kernel_info = {{"implementation", "atrium"},
                         {"implementation_version", ATRIUM_VERSION},
                         {"language_info", p_runtime->language_info()},
                         {"banner", p_runtime->banner() + "\nBinding: " + describe(m_binding)},
                         {"debugger", false},
                         {"help_links",
                          nl::json::array({{{"text", "Python Reference"}, {"url", "https://docs.python.org/3/"}},
                                           {{"text", "Atrium"}, {"url", "https://github.com/atrium-kernel/atrium"}}})},
                         {"status", "ok"}};
        // From here on the main thread holds the GIL only while it serves a request.
        p_runtime->release_gil();
    }

    // ---- routing ----

    request_identity python_interpreter::identity_of(const xeus::xmessage& request) const
    {
        const nl::json& header = request.header();
        request_identity who;
        who.session = header.value("session", "");
        who.username = header.value("username", "");
        auto hint = request.metadata().find("atrium_note");
        if (hint != request.metadata().end() && hint->is_string())
            who.note_hint = hint->get<std::string>();
        return who;
    }

    context_state& python_interpreter::claim(const std::string& key)
    {
        std::lock_guard<std::mutex> lock(m_contexts_mutex);
        auto& slot = m_contexts[key];
        if (!slot)
        {
            // The shared context is the process's __main__ (pickling cell-defined classes works there).
            bool main_module = m_binding.mode == binding_mode::shared;
            slot = std::make_unique<context_state>(key, *p_server, main_module);
        }
        ++slot->claims;
        slot->last_activity = now_ms();
        return *slot;
    }

    void python_interpreter::release(context_state& state)
    {
        state.last_activity = now_ms();
        --state.claims;
    }

    void python_interpreter::reset(context_state& state)
    {
        state.context.reset(); // the old namespace is freed first: a reset returns its memory
        state.context = std::make_unique<execution_context>(state.sink, state.main_module);
        state.history.clear();
    }

    void python_interpreter::cull_idle_contexts()
    {
        const auto timeout = m_binding.cull_idle_after;
        const auto period = std::min<std::chrono::milliseconds>(std::chrono::seconds(1), timeout / 2 + std::chrono::milliseconds(1));
        std::unique_lock<std::mutex> wait_lock(m_culler_mutex);
        while (!m_culler_wake.wait_for(wait_lock, period, [&] { return m_culler_stop; }))
        {
            std::vector<std::unique_ptr<context_state>> idle;
            {
                std::lock_guard<std::mutex> lock(m_contexts_mutex);
                for (auto it = m_contexts.begin(); it != m_contexts.end();)
                {
                    context_state& state = *it->second;
                    if (state.claims.load() == 0 && now_ms() - state.last_activity.load() > timeout.count())
                    {
                        if (p_scheduler)
                            p_scheduler->forget(state.key);
                        idle.push_back(std::move(it->second));
                        it = m_contexts.erase(it);
                    }
                    else
                        ++it;
                }
            }
            idle.clear(); // destroyed outside the lock: freeing a namespace takes the GIL
        }
    }

    bool python_interpreter::route_request(xeus::xmessage& request, std::uint64_t sequence)
    {
        const std::string msg_type = request.header().value("msg_type", "");
        if (msg_type == "execute_request")
        {
            serve_execute(std::make_shared<xeus::xmessage>(std::move(request)), sequence);
            return true;
        }
        if (msg_type == "complete_request" || msg_type == "inspect_request" || msg_type == "is_complete_request" ||
            msg_type == "history_request")
        {
            serve_quick(request);
            return true;
        }
        return false;
    }

    bool python_interpreter::route_stdin(const xeus::xmessage& message)
    {
        if (message.header().value("msg_type", "") != "input_reply")
            return false;
        std::string parent = message.parent_header().value("msg_id", "");
        std::string session = message.header().value("session", "");
        std::lock_guard<std::mutex> lock(m_contexts_mutex);
        context_sink* best = nullptr;
        int best_match = 0;
        for (auto& [key, state] : m_contexts)
        {
            int match = state->sink.input_match(parent, session);
            if (match > best_match)
            {
                best = &state->sink;
                best_match = match;
            }
        }
        if (best)
            best->answer_input(message.content().value("value", ""));
        return true; // an answer nobody waits for (interrupted prompt) is dropped, not handed to xeus
    }

    void python_interpreter::interrupt_context(context_state& state)
    {
        if (m_binding.mode != binding_mode::scoped)
        {
            // The shared context runs on the main thread: SIGINT also wakes a blocking call there.
            pthread_kill(g_main_thread, SIGINT);
            return;
        }
        state.sink.interrupt_input();
        state.context->interrupt();
    }

    void python_interpreter::interrupt(const xeus::xmessage& request)
    {
        // Only the requester's own context: its key comes from the interrupt request's own header.
        std::string key = m_keys.key_for(identity_of(request));
        std::lock_guard<std::mutex> lock(m_contexts_mutex);
        auto it = m_contexts.find(key);
        if (it != m_contexts.end())
        {
            interrupt_context(*it->second);
        }
    }

    bool python_interpreter::route_control(const xeus::xmessage& message)
    {
        if (message.header().value("msg_type", "") != "atrium_reset_context_request")
            return false;
        // The requester's own context only (its key comes from the request's header): its running cell is
        // interrupted and the context starts afresh before its next cell.
        nl::json reply = {{"status", "ok"}};
        try
        {
            std::string key = m_keys.key_for(identity_of(message));
            reply["key"] = key;
            std::lock_guard<std::mutex> lock(m_contexts_mutex);
            auto it = m_contexts.find(key);
            reply["found"] = it != m_contexts.end();
            if (it != m_contexts.end())
            {
                it->second->reset_requested = true;
                interrupt_context(*it->second);
            }
        }
        catch (const std::exception& e)
        {
            reply = error_content("SessionError", e.what());
        }
        p_server->send_control_reply(message, "atrium_reset_context_reply", std::move(reply));
        return true;
    }

    // ---- execute ----

    void python_interpreter::serve_execute(std::shared_ptr<xeus::xmessage> request, std::uint64_t sequence)
    {
        request_identity who = identity_of(*request);
        std::string code = request->content().value("code", "");
        try
        {
            if (serve_magic(*request, who, code))
                return;
            if (m_binding.mode == binding_mode::isolated)
            {
                reply_inline(*request, error_content("SessionError",
                                                     "[session.isolated_unavailable] isolated contexts need worker "
                                                     "processes, which this build does not have yet; start the "
                                                     "kernel with --mode=scoped or --mode=shared"));
                return;
            }
            context_state& state = claim(m_keys.key_for(who));
            if (code != request->content().value("code", ""))
            {
                // %note on the first line: the rest of the cell runs in the note it named.
                nl::json content = request->content();
                content["code"] = code;
                request = std::make_shared<xeus::xmessage>(request->identities(), request->header(),
                                                           request->parent_header(), request->metadata(),
                                                           std::move(content), xeus::buffer_sequence());
            }
            if (!p_scheduler)
            {
                execute_in(state, *request, sequence);
                return;
            }
            p_scheduler->submit(state.key, [this, &state, request, sequence] { execute_in(state, *request, sequence); });
        }
        catch (const std::exception& e)
        {
            reply_inline(*request, error_content("SessionError", e.what()));
        }
    }

    void python_interpreter::execute_in(context_state& state, const xeus::xmessage& request, std::uint64_t sequence)
    {
        try
        {
            run_execute(state, request, sequence);
        }
        catch (const std::exception& e)
        {
            state.running = false;
            reply_inline(request, error_content("AtriumInternalError", std::string("[kernel.internal] ") + e.what()));
        }
        release(state);
    }

    void python_interpreter::run_execute(context_state& state, const xeus::xmessage& request, std::uint64_t sequence)
    {
        const nl::json& content = request.content();
        const nl::json& parent = request.header();
        if (sequence <= state.abort_through.load())
        {
            // Queued behind a failure in this context with stop_on_error: answered, never run.
            reply_inline(request, {{"status", "aborted"}});
            return;
        }
        if (state.reset_requested.exchange(false))
        {
            reset(state);
        }
        if (line_magic(content.value("code", "")).first == "reset_context")
        {
            // In the context's own order, so cells queued before it still run in the old namespace.
            reset(state);
            reply_inline(request, {{"status", "ok"}}, "Context " + state.key + " was reset: fresh namespace and history.\n");
            return;
        }
        state.running = true;
        nl::json metadata = {{"started", iso8601_utc_now()}};
        p_server->publish_output("status", parent, {{"execution_state", "busy"}});

        std::string code = content.value("code", "");
        bool silent = content.value("silent", false);
        execute_options options{silent, content.value("store_history", true) && !silent,
                                content.value("allow_stdin", true),
                                content.value("user_expressions", nl::json::object())};
        bool stop_on_error = content.value("stop_on_error", true);
        if (!silent)
        {
            // ipykernel's numbering: only stored cells advance the count, so In[] numbers have no gaps.
            int shown = state.context->execution_count() + (options.store_history ? 1 : 0);
            p_server->publish_output("execute_input", parent, {{"code", code}, {"execution_count", shown}});
        }
        state.sink.begin_request(request);
        t_context_key = state.key;
        set_thread_requester(request.header().value("username", ""), is_per_user(m_binding));
        nl::json reply;
        try
        {
            reply = state.context->execute(code, options);
        }
        catch (const std::exception& e)
        {
            reply = error_content("AtriumInternalError", std::string("[kernel.internal] ") + e.what());
        }
        state.sink.finish_request();
        t_context_key.clear();
        if (!reply.contains("execution_count"))
            reply["execution_count"] = state.context->execution_count();
        if (options.store_history)
            state.history.append(state.context->execution_count(), code);

        std::string status = reply.value("status", "error");
        metadata["status"] = status;
        metadata["dependencies_met"] = true;
        p_server->send_reply(request, "execute_reply", std::move(reply), std::move(metadata));
        if (status == "error" && stop_on_error && !silent)
        {
            if (p_scheduler)
                state.abort_through = p_server->latest_sequence(); // this context's queue only
            else
                p_server->abort_requests_before_last_reply(); // shared: one queue for everyone
        }
        state.running = false;
        p_server->publish_output("status", parent, {{"execution_state", "idle"}});
    }

    void python_interpreter::reply_inline(const xeus::xmessage& request, nl::json reply, const std::string& text)
    {
        const nl::json& parent = request.header();
        p_server->publish_output("status", parent, {{"execution_state", "busy"}});
        if (!text.empty())
            p_server->publish_output("stream", parent, {{"name", "stdout"}, {"text", text}});
        if (reply.value("status", "") == "error")
            p_server->publish_output("error", parent,
                                     {{"ename", reply["ename"]}, {"evalue", reply["evalue"]}, {"traceback", reply["traceback"]}});
        reply["execution_count"] = nullptr;
        reply["user_expressions"] = nl::json::object();
        reply["payload"] = nl::json::array();
        p_server->send_reply(request, "execute_reply", std::move(reply));
        p_server->publish_output("status", parent, {{"execution_state", "idle"}});
    }

    bool python_interpreter::serve_magic(const xeus::xmessage& request, const request_identity& who, std::string& code)
    {
        auto [magic, argument] = line_magic(code);
        if (magic == "note")
        {
            if (argument.empty())
            {
                auto current = m_keys.remembered_note(who.session);
                reply_inline(request, {{"status", "ok"}},
                             current ? "This session is attached to note '" + *current + "'.\n"
                                     : "This session uses its own note (no %note given).\n");
                return true;
            }
            m_keys.remember_note(who.session, argument);
            code = after_first_line(code);
            if (code.find_first_not_of(" \t\n") == std::string::npos)
            {
                reply_inline(request, {{"status", "ok"}},
                             "This session is now attached to note '" + argument + "'.\n");
                return true;
            }
            return false;
        }
        if (magic == "contexts")
        {
            reply_inline(request, {{"status", "ok"}}, describe_contexts(who));
            return true;
        }
        return false;
    }

    std::string python_interpreter::describe_contexts(const request_identity& who)
    {
        std::ostringstream out;
        out << "binding: " << describe(m_binding) << "\n" << describe_compute() << "\n";
        out << "key                              state      queued  executions  idle for\n";
        std::lock_guard<std::mutex> lock(m_contexts_mutex);
        std::size_t hidden = 0;
        for (auto& [key, state] : m_contexts)
        {
            if (!m_keys.may_access(who, key, m_binding.operator_view))
            {
                ++hidden;
                continue;
            }
            std::string name = key.size() > 32 ? key.substr(0, 29) + "..." : key;
            int queued = state->claims.load() - (state->running ? 1 : 0);
            out << name << std::string(33 - name.size(), ' ') << (state->running ? "busy   " : "idle   ") << "    "
                << std::max(queued, 0) << "       " << state->context->execution_count() << "           "
                << (now_ms() - state->last_activity.load()) / 1000 << " s\n";
        }
        if (hidden)
            out << "(" << hidden << " contexts of other users not shown)\n";
        return out.str();
    }

    // ---- complete, inspect, is_complete, history: answered at once from the requester's context ----

    void python_interpreter::serve_quick(const xeus::xmessage& request)
    {
        const nl::json& content = request.content();
        const std::string msg_type = request.header().value("msg_type", "");
        nl::json reply;
        try
        {
            if (m_binding.mode == binding_mode::isolated)
                throw std::runtime_error("[session.isolated_unavailable] isolated contexts are not available yet");
            context_state& state = claim(m_keys.key_for(identity_of(request)));
            std::string code = content.value("code", "");
            if (msg_type == "complete_request")
                reply = state.context->complete(code, content.value("cursor_pos", -1));
            else if (msg_type == "inspect_request")
                reply = state.context->inspect(code, content.value("cursor_pos", -1), content.value("detail_level", 0));
            else if (msg_type == "is_complete_request")
                reply = state.context->is_complete(code);
            else
                reply = history_reply(state.history, content);
            release(state);
        }
        catch (const std::exception& e)
        {
            reply = error_content("SessionError", e.what());
        }
        p_server->publish_output("status", request.header(), {{"execution_state", "busy"}});
        p_server->send_reply(request, msg_type.substr(0, msg_type.size() - 8) + "_reply", std::move(reply));
        p_server->publish_output("status", request.header(), {{"execution_state", "idle"}});
    }

    // ---- xeus's interface: requests that reach the core (never contexts' requests, routed above) ----

    nl::json python_interpreter::execute_request_impl(int, const std::string&, bool, bool, nl::json, bool)
    {
        return error_content("AtriumInternalError", "[kernel.routing] execute_request reached xeus's core");
    }

    nl::json python_interpreter::complete_request_impl(const std::string&, int)
    {
        return error_content("AtriumInternalError", "[kernel.routing] complete_request reached xeus's core");
    }

    nl::json python_interpreter::inspect_request_impl(const std::string&, int, int)
    {
        return error_content("AtriumInternalError", "[kernel.routing] inspect_request reached xeus's core");
    }

    nl::json python_interpreter::is_complete_request_impl(const std::string&)
    {
        return error_content("AtriumInternalError", "[kernel.routing] is_complete_request reached xeus's core");
    }

    nl::json python_interpreter::kernel_info_request_impl()
    {
        // Answered from a copy made at start-up: this can run on the I/O thread while a cell holds the GIL.
        return m_kernel_info;
    }

    void python_interpreter::shutdown_request_impl()
    {
    }

    void python_interpreter::stop_culler()
    {
        {
            std::lock_guard<std::mutex> lock(m_culler_mutex);
            m_culler_stop = true;
        }
        m_culler_wake.notify_all();
        if (m_culler.joinable())
            m_culler.join();
    }

    void python_interpreter::finish()
    {
        stop_culler();
        if (p_scheduler)
            p_scheduler->shutdown();
        if (p_runtime)
            p_runtime->run_exit_hooks();
        std::lock_guard<std::mutex> lock(m_contexts_mutex);
        for (auto& [key, state] : m_contexts)
            state->context->channel().flush();
    }
}
