// SPDX-License-Identifier: MIT
#include "kernel/python_interpreter.hpp"

#include "kernel/context_sink.hpp"
#include "common/history_reply.hpp"
#include "kernel/inline_reply.hpp"
#include "kernel/isolated_context.hpp"
#include "kernel/message_header.hpp"
#include "kernel/remote_comms.hpp"
#include "kernel/request_check.hpp"
#include "kernel/xeus_comm_bridge.hpp"
#include "kernel/zmq_server.hpp"

#include "embed/channel_scope.hpp"
#include "embed/execution_context.hpp"
#include "embed/kernel_services.hpp"
#include "embed/python_runtime.hpp"
#include "session/abort_line.hpp"
#include "session/context_scheduler.hpp"
#include "common/history_store.hpp"
#include "session/kernel_magic.hpp"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <sstream>

namespace atrium
{
    /// One note's or user's context and what the session manager keeps about it.
    struct context_state
    {
        /// An in-process context (a namespace here), or with `isolated` a context in a worker process.
        context_state(std::string key, zmq_server& server, bool main_module, const isolated_environment* isolated)
            : key(std::move(key))
            , main_module(main_module)
            , sink(server)
        {
            if (isolated)
                remote = std::make_unique<isolated_context>(this->key, *isolated);
            else
                context = std::make_unique<execution_context>(sink, main_module);
        }

        std::string key;
        bool main_module;
        bool named = true; ///< unnamed (session-keyed) notes may be reclaimed when idle; under m_contexts_mutex
        /// Told on stderr at the start of the next cell (in-process; an isolated context keeps its own).
        std::string notice;
        context_sink sink;
        std::unique_ptr<execution_context> context; ///< in-process modes
        /// Held while `context` is replaced (a reset, on the cell's thread) and while another thread uses it
        /// (quick requests on the main thread, interrupts on the I/O thread); taken before the GIL, never after.
        /// Without it a complete_request racing a reset used a destroyed context (SIGSEGV, test/fuzz/live_fuzz.py).
        std::mutex context_mutex;
        std::unique_ptr<isolated_context> remote;   ///< isolated mode
        history_store history;
        /// stop_on_error of this context's queue (scoped mode; shared mode aborts the server's one queue). Shared
        /// with the settle hook of a failed cell's reply, which may run after the context is gone.
        const std::shared_ptr<abort_line> aborts = std::make_shared<abort_line>();
        std::atomic<int> claims{0}; ///< requests queued for or being served by this context: never culled then
        std::atomic<bool> running{false};
        std::atomic<bool> reset_requested{false}; ///< by a control message: done before its next cell
        /// Ended by exit() and not used since: reclaimable even when named (it holds nothing any more).
        std::atomic<bool> ended{false};
        std::atomic<std::int64_t> last_activity{0}; ///< steady clock, milliseconds
        /// When it was last claimed or released, on the kernel's use counter: orders contexts for reclaiming
        /// (milliseconds tie for requests served in the same one).
        std::atomic<std::uint64_t> last_use{0};
    };

    namespace
    {
        const pthread_t g_main_thread = pthread_self();
        /// The key of the context whose cell runs on this thread (comms it creates belong to that context).
        thread_local std::string t_context_key;

        std::int64_t now_ms()
        {
            return std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                .count();
        }
    }

    python_interpreter::python_interpreter(binding_config binding, worker_settings workers)
        : m_binding(binding)
        , m_worker_settings(workers)
        , m_keys(binding)
    {
    }

    python_interpreter::~python_interpreter()
    {
        stop_sweeper();
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
        else if (m_binding.mode == binding_mode::isolated)
        {
            start_worker_pool();
        }
        else if (m_binding.mode == binding_mode::shared)
        {
            release(claim({shared_key, true})); // created now: __main__ and its namespace exist before the first cell
        }
        if (sweep_period().count() > 0)
        {
            m_sweeper = std::thread([this] { sweep_idle_contexts(); });
        }
    }

    void python_interpreter::start_worker_pool()
    {
        worker_pool_config config;
        if (const char* configured = std::getenv("ATRIUM_WORKER_EXECUTABLE"); configured && *configured)
            config.executable = configured;
        else
            config.executable = own_directory() + "/atrium-worker";
        config.log_fd = log_fd();
        config.limits = {m_worker_settings.memory_bytes, m_worker_settings.cpu_seconds};
        config.warm = m_worker_settings.warm;
        p_lane = std::make_unique<cell_lane>();
        p_server->on_main_readable(p_lane->socket(), [lane = p_lane.get()] { lane->receive_all(); });
        config.lane = p_lane.get();
        p_workers = std::make_unique<worker_pool>(std::move(config));
        p_remote_comms = std::make_unique<remote_comms>();
        p_isolated = std::make_unique<isolated_environment>(
            isolated_environment{*p_server, *p_workers, *p_lane, *p_remote_comms, is_per_user(m_binding)});
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
        set_kernel_magic_handler(
            [this](const std::string& name, const std::string&, const std::string& username)
            {
                if (name != "contexts")
                    throw std::runtime_error("[magic.whole_cell] %" + name + " needs a cell of its own");
                request_identity who;
                who.username = username;
                return describe_contexts(who);
            });
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

    std::size_t python_interpreter::context_cap() const
    {
        if (m_binding.mode == binding_mode::shared)
            return 1;
        if (m_binding.mode == binding_mode::isolated)
            return std::min(m_worker_settings.max_contexts, m_worker_settings.max_workers);
        return m_worker_settings.max_contexts;
    }

    bool python_interpreter::idle_locked(context_state& state, std::int64_t& last_activity)
    {
        last_activity = state.last_activity.load();
        bool busy = state.claims.load() > 0 || state.running.load();
        if (state.remote)
        {
            busy = busy || state.remote->busy();
            last_activity = std::max(last_activity, state.remote->last_activity_ms());
        }
        return !busy;
    }

    std::map<std::string, std::unique_ptr<context_state>>::iterator python_interpreter::reclaimable_locked()
    {
        auto oldest = m_contexts.end();
        for (auto it = m_contexts.begin(); it != m_contexts.end(); ++it)
        {
            std::int64_t last = 0;
            const context_state& state = *it->second;
            const bool ended = state.ended || (state.remote && state.remote->ended());
            if ((state.named && !ended) || !idle_locked(*it->second, last))
                continue;
            if (oldest == m_contexts.end() || state.last_use < oldest->second->last_use)
                oldest = it;
        }
        return oldest;
    }

    std::unique_ptr<context_state> python_interpreter::reclaim_locked(
        std::map<std::string, std::unique_ptr<context_state>>::iterator it, const std::string& why)
    {
        const std::string key = it->first;
        std::cerr << "[atrium] [session.reclaimed] " << key << ": " << why << std::endl;
        if (p_scheduler)
            p_scheduler->forget(key);
        // Remembered (boundedly) so that a client coming back to the note learns why its variables are gone.
        m_reclaimed.put(key, "[session.reclaimed] this note's context was reclaimed (" + why +
                                 "): its variables are gone and it starts afresh.\n");
        std::unique_ptr<context_state> state = std::move(it->second);
        m_contexts.erase(it);
        return state;
    }

    context_state& python_interpreter::claim(const resolved_key& resolved)
    {
        std::unique_ptr<context_state> reclaimed; // destroyed after the lock: that frees a namespace or ends a worker
        std::unique_lock<std::mutex> lock(m_contexts_mutex);
        auto found = m_contexts.find(resolved.key);
        if (found == m_contexts.end())
        {
            if (m_contexts.size() >= context_cap())
            {
                auto victim = reclaimable_locked();
                if (victim == m_contexts.end())
                    throw std::runtime_error(
                        "[session.too_many_contexts] this kernel holds " + std::to_string(m_contexts.size()) +
                        " contexts, its cap (--max-contexts" +
                        std::string(p_isolated ? ", --max-workers" : "") +
                        "), and none can be reclaimed: every one is named, busy or in use. Run exit() in a note "
                        "you no longer need, or start the kernel with a higher cap.");
                reclaimed = reclaim_locked(victim, "the kernel was at its cap of " + std::to_string(context_cap()) +
                                                       " contexts and this was the least recently used idle note");
            }
            // The shared context is the process's __main__ (pickling cell-defined classes works there).
            bool main_module = m_binding.mode == binding_mode::shared;
            auto state = std::make_unique<context_state>(resolved.key, *p_server, main_module, p_isolated.get());
            state->named = resolved.named;
            if (const std::string* told = m_reclaimed.find(resolved.key))
            {
                if (state->remote)
                    state->remote->tell_next_cell(*told);
                else
                    state->notice = *told;
                m_reclaimed.erase(resolved.key);
            }
            found = m_contexts.emplace(resolved.key, std::move(state)).first;
        }
        context_state& state = *found->second;
        state.named = state.named || resolved.named; // once a client names a note, it stays named
        ++state.claims;
        state.last_activity = now_ms();
        state.last_use = ++m_uses;
        lock.unlock();
        reclaimed.reset();
        return state;
    }

    void python_interpreter::release(context_state& state)
    {
        state.last_activity = now_ms();
        state.last_use = ++m_uses;
        --state.claims;
    }

    void python_interpreter::reset(context_state& state)
    {
        std::lock_guard<std::mutex> lock(state.context_mutex);
        state.context.reset(); // the old namespace is freed first: a reset returns its memory
        state.context = std::make_unique<execution_context>(state.sink, state.main_module);
        state.history.clear();
    }

    std::chrono::milliseconds python_interpreter::sweep_period() const
    {
        using std::chrono::milliseconds;
        milliseconds shortest = m_binding.cull_idle_after;
        if (p_isolated && m_worker_settings.idle_worker_seconds > 0)
        {
            milliseconds workers(m_worker_settings.idle_worker_seconds * 1000);
            shortest = shortest.count() > 0 ? std::min(shortest, workers) : workers;
        }
        if (shortest.count() == 0)
            return shortest;
        return std::min<milliseconds>(std::chrono::seconds(1), shortest / 2 + milliseconds(1));
    }

    void python_interpreter::sweep_idle_contexts()
    {
        const auto cull_after = m_binding.cull_idle_after.count();
        const auto reclaim_after = static_cast<std::int64_t>(m_worker_settings.idle_worker_seconds) * 1000;
        std::unique_lock<std::mutex> wait_lock(m_sweeper_mutex);
        while (!m_sweeper_wake.wait_for(wait_lock, sweep_period(), [&] { return m_sweeper_stop; }))
        {
            std::vector<std::unique_ptr<context_state>> idle;
            {
                std::lock_guard<std::mutex> lock(m_contexts_mutex);
                for (auto it = m_contexts.begin(); it != m_contexts.end();)
                {
                    context_state& state = *it->second;
                    std::int64_t last = 0;
                    if (!idle_locked(state, last))
                    {
                        ++it;
                        continue;
                    }
                    const std::int64_t idle_for = now_ms() - last;
                    if (cull_after > 0 && idle_for > cull_after)
                    {
                        if (p_scheduler)
                            p_scheduler->forget(state.key);
                        idle.push_back(std::move(it->second));
                        it = m_contexts.erase(it);
                    }
                    else if (state.remote && !state.named && reclaim_after > 0 && idle_for > reclaim_after)
                    {
                        auto next = std::next(it);
                        idle.push_back(reclaim_locked(it, "its worker was idle for " + std::to_string(idle_for / 1000) +
                                                              " s, longer than --reclaim-idle-workers"));
                        it = next;
                    }
                    else
                        ++it;
                }
            }
            idle.clear(); // destroyed outside the lock: freeing a namespace takes the GIL; a worker is killed and reaped
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
        const bool comm_message = msg_type == "comm_open" || msg_type == "comm_msg" || msg_type == "comm_close";
        if (!comm_message && msg_type != "comm_info_request")
            return false;
        if (!p_remote_comms && msg_type == "comm_open" &&
            !p_comms->has_target(request.content().value("target_name", "")))
        {
            // xeus would log "received bad message" and never answer.
            p_server->publish_output("status", request.header(), {{"execution_state", "busy"}});
            refuse_comm_open(request);
            p_server->publish_output("status", request.header(), {{"execution_state", "idle"}});
        }
        else if (p_remote_comms)
        {
            serve_remote_comm(request);
        }
        else if (comm_message)
        {
            // xeus's comm registry is also changed by cells, which open comms holding the GIL on other threads
            // (scoped mode): the core dispatches the client's comm message holding it too.
            with_gil([&] { p_server->serve_with_core(std::move(request)); });
        }
        else
        {
            // Answered here rather than by xeus's core, which would list every user's comms.
            request_identity who = identity_of(request);
            nl::json comms;
            with_gil([&] {
                auto target = request.content().find("target_name");
                const std::string target_name =
                    target != request.content().end() && target->is_string() ? target->get<std::string>() : "";
                comms = p_comms->comm_info(target_name, [&](const std::string& owner)
                                           { return owner.empty() || m_keys.may_access(who, owner, false); });
            });
            p_server->publish_output("status", request.header(), {{"execution_state", "busy"}});
            p_server->send_reply(request, "comm_info_reply", {{"status", "ok"}, {"comms", std::move(comms)}});
            p_server->publish_output("status", request.header(), {{"execution_state", "idle"}});
        }
        return true;
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
        isolated_context* best_remote = nullptr;
        for (auto& [key, state] : m_contexts)
        {
            int match = state->remote ? state->remote->input_match(parent, session) : state->sink.input_match(parent, session);
            if (match > best_match)
            {
                best = &state->sink;
                best_remote = state->remote.get();
                best_match = match;
            }
        }
        if (best_remote)
            best_remote->answer_input(message.content().value("value", ""));
        else if (best)
            best->answer_input(message.content().value("value", ""));
        return true; // an answer nobody waits for (interrupted prompt) is dropped, not handed to xeus
    }

    void python_interpreter::interrupt_context(context_state& state)
    {
        if (state.remote)
        {
            state.remote->interrupt(); // SIGINT to that note's worker only
            return;
        }
        if (m_binding.mode != binding_mode::scoped)
        {
            // The shared context runs on the main thread: SIGINT also wakes a blocking call there.
            pthread_kill(g_main_thread, SIGINT);
            return;
        }
        state.sink.interrupt_input();
        std::lock_guard<std::mutex> lock(state.context_mutex);
        state.context->interrupt();
    }

    void python_interpreter::interrupt(const xeus::xmessage& request)
    {
        // The requester's own context: its key comes from the interrupt request's own header.
        request_identity who = identity_of(request);
        std::string key;
        try
        {
            key = m_keys.key_for(who);
        }
        catch (const std::exception& e)
        {
            std::cerr << "[atrium] " << e.what() << " (interrupt_request ignored)" << std::endl;
            return;
        }
        std::lock_guard<std::mutex> lock(m_contexts_mutex);
        auto it = m_contexts.find(key);
        if (it != m_contexts.end())
        {
            interrupt_context(*it->second);
            return;
        }
        // A requester that owns no context is a server acting for its clients: jupyter_server (JupyterLab,
        // Notebook 7, Kernel Gateway) sends interrupt_request from its own session, never the browser's.
        // It gets what those clients expect: the running cells of every context it may reach (per-user
        // modes: only its own user's, which it has not got, so nothing).
        for (auto& [other, state] : m_contexts)
        {
            bool running = state->remote ? state->remote->busy() : state->running.load();
            if (running && m_keys.may_access(who, other, false))
                interrupt_context(*state);
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
            if (it != m_contexts.end() && it->second->remote)
            {
                it->second->remote->reset(); // the running cell ends with its worker; queued cells get a fresh one
            }
            else if (it != m_contexts.end())
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
        try
        {
            magic_cell cell = read_magic_cell(request->content().value("code", ""));
            if (serve_magic(*request, who, cell))
                return;
            context_state& state = claim(m_keys.resolve(who));
            bool reset_magic = cell.what == magic_cell::kind::magics; // what serve_magic leaves to the context
            if (!reset_magic && cell.code != request->content().value("code", ""))
            {
                // The rest after a leading %note, or %contexts made a call: what the context runs.
                nl::json content = request->content();
                content["code"] = cell.code;
                request = std::make_shared<xeus::xmessage>(request->identities(), request->header(),
                                                           request->parent_header(), request->metadata(),
                                                           std::move(content), xeus::buffer_sequence());
            }
            if (state.remote)
            {
                state.remote->execute(request, sequence, reset_magic);
                release(state);
                return;
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
            reply_as_cell(*p_server, *request, executions_of(who), error_content("SessionError", e.what()));
        }
    }

    void python_interpreter::execute_in(context_state& state, const xeus::xmessage& request, std::uint64_t sequence)
    {
        std::function<void()> answer;
        try
        {
            answer = run_execute(state, request, sequence);
        }
        catch (const std::exception& e)
        {
            state.running = false;
            answer = [this, &request, what = std::string(e.what())]
            { reply_inline(*p_server, request, error_content("AtriumInternalError", "[kernel.internal] " + what)); };
        }
        // Released before the client is answered: a client that acts on the reply at once (a new note, at the cap)
        // finds this context idle. From here the context may be reclaimed, so the answer touches only the request.
        release(state);
        answer();
    }

    std::function<void()> python_interpreter::run_execute(context_state& state, const xeus::xmessage& request,
                                                          std::uint64_t sequence)
    {
        const nl::json& content = request.content();
        const nl::json& parent = request.header();
        if (state.aborts->aborts(sequence))
        {
            // Queued behind a failure in this context with stop_on_error: answered, never run.
            return [this, &request] { reply_inline(*p_server, request, {{"status", "aborted"}}); };
        }
        if (state.reset_requested.exchange(false))
        {
            reset(state);
        }
        if (read_magic_cell(content.value("code", "")).what == magic_cell::kind::magics)
        {
            // %reset_context, in the context's own order, so cells queued before it still run in the old
            // namespace. Numbered by the fresh count: the next cell is 1 again.
            reset(state);
            return [this, &request, text = "Context " + state.key + " was reset: fresh namespace and history.\n"]
            { reply_as_cell(*p_server, request, 0, {{"status", "ok"}}, text); };
        }
        state.running = true;
        state.ended = false;
        std::string started = iso8601_utc_now();
        publish_execute_start(*p_server, request, state.context->execution_count());
        if (!state.notice.empty())
        {
            p_server->publish_output("stream", parent, {{"name", "stderr"}, {"text", std::move(state.notice)}});
            state.notice.clear();
        }

        std::string code = content.value("code", "");
        bool silent = content.value("silent", false);
        execute_options options{silent, content.value("store_history", true) && !silent,
                                content.value("allow_stdin", true),
                                content.value("user_expressions", nl::json::object())};
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

        const bool stops = stops_queue(request, reply);
        const bool ends = asks_to_end(reply);
        zmq_server::reply_written settle;
        if (stops && p_scheduler)
        {
            // This context's queue only: its next job may start before the main thread writes this reply.
            state.aborts->hold();
            settle = [line = state.aborts](std::uint64_t arrived_before) { line->settle(arrived_before); };
        }
        if (ends && p_scheduler)
        {
            // exit() in a per-note kernel ends the note's context only: its namespace is freed now, in the note's
            // own order, its slot may be reclaimed, and the kernel goes on serving every other note.
            reset(state);
            state.ended = true;
        }
        state.running = false;
        return [this, &request, reply = std::move(reply), started, settle = std::move(settle), stops, ends]() mutable
        {
            std::string status = reply.value("status", "error");
            p_server->send_reply(request, "execute_reply", std::move(reply), execute_metadata(started, status),
                                 std::move(settle));
            if (stops && !p_scheduler)
                p_server->abort_requests_before_last_reply(); // shared: one queue for everyone, on this (main) thread
            p_server->publish_output("status", request.header(), {{"execution_state", "idle"}});
            if (ends && !p_scheduler)
            {
                // exit() in the shared kernel ends it, as in ipykernel, which also leaves clients a moment to read
                // the reply: jupyter console only reads it while the kernel lives.
                std::cerr << "[atrium] exit() in a cell: the kernel shuts down" << std::endl;
                p_server->stop_soon(std::chrono::milliseconds(200));
            }
        };
    }

    bool python_interpreter::serve_magic(const xeus::xmessage& request, const request_identity& who,
                                         const magic_cell& cell)
    {
        if (cell.what == magic_cell::kind::refused)
        {
            reply_as_cell(*p_server, request, executions_of(who), error_content("UsageError", cell.error));
            return true;
        }
        if (cell.what == magic_cell::kind::note_then_code)
            m_keys.remember_note(who.session, cell.magics.front().argument); // the rest runs in that note
        if (cell.what != magic_cell::kind::magics)
            return false;
        std::string text;
        for (const kernel_magic& magic : cell.magics)
        {
            if (magic.name == "reset_context")
                return false; // in the context's own order; the notes before it are remembered
            if (magic.name == "contexts")
            {
                text += describe_contexts(who);
            }
            else if (magic.argument.empty())
            {
                auto current = m_keys.remembered_note(who.session);
                text += current ? "This session is attached to note '" + *current + "'.\n"
                                : "This session uses its own note (no %note given).\n";
            }
            else
            {
                m_keys.remember_note(who.session, magic.argument);
                text += "This session is now attached to note '" + magic.argument + "'.\n";
            }
        }
        reply_as_cell(*p_server, request, executions_of(who), {{"status", "ok"}}, text);
        return true;
    }

    int python_interpreter::executions_of(const request_identity& who)
    {
        try
        {
            std::string key = m_keys.key_for(who);
            std::lock_guard<std::mutex> lock(m_contexts_mutex);
            auto it = m_contexts.find(key);
            if (it == m_contexts.end())
                return 0;
            if (it->second->remote)
                return it->second->remote->describe().executions;
            std::lock_guard<std::mutex> context_lock(it->second->context_mutex); // a reset may replace it
            return it->second->context->execution_count();
        }
        catch (const std::exception&)
        {
            return 0; // a bad note name: the error being answered says so
        }
    }

    std::string python_interpreter::describe_contexts(const request_identity& who)
    {
        std::ostringstream out;
        out << "binding: " << describe(m_binding) << "\n" << describe_compute() << "\n";
        if (p_workers)
            out << "workers: " << p_workers->ready_count() << " warm, started by " << p_workers->config().executable
                << "\n";
        const bool isolated = p_isolated != nullptr;
        const std::int64_t reclaim_after = isolated ? static_cast<std::int64_t>(m_worker_settings.idle_worker_seconds) : 0;
        std::lock_guard<std::mutex> lock(m_contexts_mutex);
        out << "contexts: " << m_contexts.size() << " of at most " << context_cap()
            << "; at the cap the least recently used idle unnamed note is reclaimed"
            << (reclaim_after > 0 ? ", and an unnamed note's worker idle " + std::to_string(reclaim_after) + " s ends"
                                  : std::string())
            << "\n";
        out << "key                              state      queued  executions  idle for"
            << (isolated ? "  worker pid  memory" : "") << "  reclaimed\n";
        std::size_t hidden = 0;
        for (auto& [key, state] : m_contexts)
        {
            if (!m_keys.may_access(who, key, m_binding.operator_view))
            {
                ++hidden;
                continue;
            }
            bool running = state->running;
            int queued = state->claims.load() - (running ? 1 : 0);
            int executions = 0;
            std::int64_t last = 0;
            const bool idle = idle_locked(*state, last);
            std::string worker_columns;
            if (state->remote)
            {
                isolated_context::snapshot remote = state->remote->describe();
                running = remote.running;
                queued = static_cast<int>(remote.queued);
                executions = remote.executions;
                worker_columns = remote.pid ? "  " + std::to_string(remote.pid) + "       " +
                                                  std::to_string(remote.resident_bytes >> 20) + " MiB"
                                            : "  (none: starts with the next request)";
            }
            else
            {
                std::lock_guard<std::mutex> context_lock(state->context_mutex); // a reset may replace it
                executions = state->context->execution_count();
            }
            const std::int64_t idle_for = (now_ms() - last) / 1000;
            std::string reclaimed = "never (named)";
            if (!state->named)
                reclaimed = !idle                                  ? "not while in use"
                            : state->remote && reclaim_after > 0 ? "in " + std::to_string(std::max<std::int64_t>(reclaim_after - idle_for, 0)) + " s, or at the cap"
                                                                 : "at the cap";
            std::string name = key.size() > 32 ? key.substr(0, 29) + "..." : key;
            out << name << std::string(33 - name.size(), ' ') << (running ? "busy   " : "idle   ") << "    "
                << std::max(queued, 0) << "       " << executions << "           " << idle_for << " s" << worker_columns
                << "  " << reclaimed << "\n";
        }
        if (hidden)
            out << "(" << hidden << " contexts of other users not shown)\n";
        return out.str();
    }

    // ---- complete, inspect, is_complete, history: answered at once from the requester's context ----

    void python_interpreter::serve_quick(xeus::xmessage& request)
    {
        const nl::json& content = request.content();
        const std::string msg_type = request.header().value("msg_type", "");
        nl::json reply;
        try
        {
            context_state& state = claim(m_keys.resolve(identity_of(request)));
            if (state.remote)
            {
                // Answered by the worker, asynchronously: a busy worker never holds up other notes.
                state.remote->quick(std::make_shared<xeus::xmessage>(std::move(request)));
                release(state);
                return;
            }
            std::string code = content.value("code", "");
            std::unique_lock<std::mutex> context_lock(state.context_mutex);
            if (msg_type == "complete_request")
                reply = state.context->complete(code, content.value("cursor_pos", -1));
            else if (msg_type == "inspect_request")
                reply = state.context->inspect(code, content.value("cursor_pos", -1), content.value("detail_level", 0));
            else if (msg_type == "is_complete_request")
                reply = state.context->is_complete(code);
            else
                reply = history_reply(state.history, content);
            context_lock.unlock(); // before the release: from then on the sweeper may free the context
            release(state);
        }
        catch (const std::exception& e)
        {
            reply = error_content("SessionError", e.what());
        }
        p_server->publish_output("status", request.header(), {{"execution_state", "busy"}});
        p_server->send_reply(request, reply_type_for(msg_type), std::move(reply));
        p_server->publish_output("status", request.header(), {{"execution_state", "idle"}});
    }

    // ---- isolated mode's comms ----

    void python_interpreter::serve_remote_comm(const xeus::xmessage& request)
    {
        const nl::json& content = request.content();
        const std::string msg_type = request.header().value("msg_type", "");
        request_identity who = identity_of(request);
        p_server->publish_output("status", request.header(), {{"execution_state", "busy"}});
        if (msg_type == "comm_info_request")
        {
            nl::json comms = p_remote_comms->comm_info(content.value("target_name", ""), [&](const std::string& owner)
                                                       { return m_keys.may_access(who, owner, false); });
            p_server->send_reply(request, "comm_info_reply", {{"status", "ok"}, {"comms", std::move(comms)}});
        }
        else
        {
            std::string comm_id = content.value("comm_id", "");
            std::string target_name = content.value("target_name", "");
            auto owner = msg_type == "comm_open" ? p_remote_comms->owner_of_target(target_name)
                                                 : p_remote_comms->owner_of_comm(comm_id);
            std::lock_guard<std::mutex> lock(m_contexts_mutex);
            auto context = owner ? m_contexts.find(*owner) : m_contexts.end();
            if (context == m_contexts.end() || !context->second->remote)
            {
                if (msg_type == "comm_open")
                    refuse_comm_open(request);
                else
                    std::cerr << "[atrium] [comm.unknown] " << msg_type << " for comm " << comm_id
                              << ": no worker owns it" << std::endl;
            }
            else if (!m_keys.may_access(who, *owner, false))
            {
                std::cerr << "[atrium] [comm.forbidden] refused " << msg_type << " from user '"
                          << request.header().value("username", "") << "': the comm belongs to " << *owner << std::endl;
            }
            else
            {
                if (msg_type == "comm_open")
                    p_remote_comms->opened(comm_id, target_name, *owner);
                else if (msg_type == "comm_close")
                    p_remote_comms->closed(comm_id);
                nl::json message = {{"header", request.header()},
                                    {"parent_header", request.parent_header()},
                                    {"metadata", request.metadata()},
                                    {"content", content},
                                    {"buffers", nl::json::array()}};
                // Idle follows once the worker's handler has run, so the client sees its replies first.
                context->second->remote->comm(msg_type, {{"comm_id", comm_id}, {"target_name", target_name}, {"msg", std::move(message)}},
                                              request.header());
                return;
            }
        }
        p_server->publish_output("status", request.header(), {{"execution_state", "idle"}});
    }

    void python_interpreter::refuse_comm_open(const xeus::xmessage& request)
    {
        std::string target_name = request.content().value("target_name", "");
        // JupyterLab's widget manager probes this target on every notebook open, before any cell imported
        // ipywidgets (which registers it): an expected miss, answered quietly.
        if (target_name != "jupyter.widget.control")
            std::cerr << "[atrium] [comm.unknown] comm_open for target '" << target_name
                      << "': no such comm target registered" << std::endl;
        // Tells the client its comm has no other end.
        p_server->publish_output("comm_close", request.header(),
                                 {{"comm_id", request.content().value("comm_id", "")}, {"data", nl::json::object()}});
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

    void python_interpreter::stop_sweeper()
    {
        {
            std::lock_guard<std::mutex> lock(m_sweeper_mutex);
            m_sweeper_stop = true;
        }
        m_sweeper_wake.notify_all();
        if (m_sweeper.joinable())
            m_sweeper.join();
    }

    void python_interpreter::finish()
    {
        stop_sweeper();
        if (p_scheduler)
            p_scheduler->shutdown();
        if (p_isolated)
        {
            // Every worker is killed and reaped before the kernel exits: none is left behind.
            std::map<std::string, std::unique_ptr<context_state>> contexts;
            {
                std::lock_guard<std::mutex> lock(m_contexts_mutex);
                contexts.swap(m_contexts);
            }
            contexts.clear();
            p_workers.reset();
        }
        if (p_runtime)
            p_runtime->run_exit_hooks();
        std::lock_guard<std::mutex> lock(m_contexts_mutex);
        for (auto& [key, state] : m_contexts)
            if (state->context)
                state->context->channel().flush();
    }
}
