// SPDX-License-Identifier: MIT
#include "session/inprocess_context.hpp"

#include "common/history_reply.hpp"
#include "common/utc_time.hpp"
#include "embed/channel_scope.hpp"
#include "embed/execution_context.hpp"
#include "embed/python_runtime.hpp"
#include "session/client_port.hpp"
#include "session/context_scheduler.hpp"
#include "session/inline_reply.hpp"
#include "session/kernel_magic.hpp"

#include <pthread.h>
#include <signal.h>

#include <iostream>

namespace atrium
{
    namespace
    {
        const pthread_t g_main_thread = pthread_self();
        /// The key of the context whose cell runs on this thread (comms it creates belong to that context).
        thread_local std::string t_context_key;
    }

    const std::string& running_context_key()
    {
        return t_context_key;
    }

    inprocess_context::inprocess_context(std::string key, client_port& port, context_scheduler* scheduler,
                                         bool per_user)
        : m_key(std::move(key))
        , m_port(port)
        , p_scheduler(scheduler)
        , m_per_user(per_user)
        , m_sink(port)
        // The shared context is the process's __main__ (pickling cell-defined classes works there).
        , p_context(std::make_unique<execution_context>(m_sink, scheduler == nullptr))
    {
    }

    inprocess_context::~inprocess_context() = default;

    // ---- execute ----

    void inprocess_context::execute_impl(client_request_ptr request, std::uint64_t sequence, bool,
                                         release_fn release)
    {
        // %reset_context is recognised again in the cell's turn (run_execute), where it acts.
        if (!p_scheduler)
        {
            execute_in(request, sequence, release);
            return;
        }
        p_scheduler->submit(m_key, [this, request = std::move(request), sequence, release = std::move(release)]
                            { execute_in(request, sequence, release); });
    }

    void inprocess_context::execute_in(const client_request_ptr& request, std::uint64_t sequence,
                                       const release_fn& release)
    {
        std::function<void()> answer;
        try
        {
            answer = run_execute(request, sequence);
        }
        catch (const std::exception& e)
        {
            m_running = false;
            answer = [port = &m_port, request, what = std::string(e.what())]
            { reply_inline(*port, *request, error_content("AtriumInternalError", "[kernel.internal] " + what)); };
        }
        // Released before the client is answered: a client that acts on the reply at once (a new note, at the cap)
        // finds this context idle. From here the context may be reclaimed, so the answer touches only the request.
        release();
        answer();
    }

    std::function<void()> inprocess_context::run_execute(const client_request_ptr& request_ptr,
                                                         std::uint64_t sequence)
    {
        const client_request& request = *request_ptr;
        const nl::json& content = request.content();
        const nl::json& parent = request.header();
        client_port* port = &m_port;
        if (m_aborts->aborts(sequence))
        {
            // Queued behind a failure in this context with stop_on_error: answered, never run.
            return [port, request_ptr] { reply_inline(*port, *request_ptr, {{"status", "aborted"}}); };
        }
        if (m_reset_requested.exchange(false))
        {
            reset_namespace();
        }
        if (read_magic_cell(content.value("code", "")).what == magic_cell::kind::magics)
        {
            // %reset_context, in the context's own order, so cells queued before it still run in the old
            // namespace. Numbered by the fresh count: the next cell is 1 again.
            reset_namespace();
            return [port, request_ptr, text = "Context " + m_key + " was reset: fresh namespace and history.\n"]
            { reply_as_cell(*port, *request_ptr, 0, {{"status", "ok"}}, text); };
        }
        m_running = true;
        m_ended = false;
        std::string started = iso8601_utc_now();
        publish_execute_start(m_port, request, p_context->execution_count());
        if (!m_notice.empty())
        {
            m_port.publish_output("stream", parent, {{"name", "stderr"}, {"text", std::move(m_notice)}});
            m_notice.clear();
        }

        std::string code = content.value("code", "");
        bool silent = content.value("silent", false);
        execute_options options{silent, content.value("store_history", true) && !silent,
                                content.value("allow_stdin", true),
                                content.value("user_expressions", nl::json::object())};
        m_sink.begin_request(request_ptr);
        t_context_key = m_key;
        set_thread_requester(request.header().value("username", ""), m_per_user);
        nl::json reply;
        try
        {
            reply = p_context->execute(code, options);
        }
        catch (const std::exception& e)
        {
            reply = error_content("AtriumInternalError", std::string("[kernel.internal] ") + e.what());
        }
        m_sink.finish_request();
        t_context_key.clear();
        if (!reply.contains("execution_count"))
            reply["execution_count"] = p_context->execution_count();
        if (options.store_history)
            m_history.append(p_context->execution_count(), code);

        const bool stops = stops_queue(request, reply);
        const bool ends = asks_to_end(reply);
        const bool scoped = p_scheduler != nullptr;
        client_port::reply_written settle;
        if (stops && scoped)
        {
            // This context's queue only: its next job may start before the main thread writes this reply.
            m_aborts->hold();
            settle = [line = m_aborts](std::uint64_t arrived_before) { line->settle(arrived_before); };
        }
        if (ends && scoped)
        {
            // exit() in a per-note kernel ends the note's context only: its namespace is freed now, in the note's
            // own order, its slot may be reclaimed, and the kernel goes on serving every other note.
            reset_namespace();
            m_ended = true;
        }
        m_running = false;
        return [port, request_ptr, reply = std::move(reply), started, settle = std::move(settle), stops, ends,
                scoped]() mutable
        {
            const client_request& request = *request_ptr;
            std::string status = reply.value("status", "error");
            port->send_reply(request, "execute_reply", std::move(reply), execute_metadata(started, status),
                             std::move(settle));
            if (stops && !scoped)
                port->abort_requests_before_last_reply(); // shared: one queue for everyone, on this (main) thread
            port->publish_output("status", request.header(), {{"execution_state", "idle"}});
            if (ends && !scoped)
            {
                // exit() in the shared kernel ends it, as in ipykernel, which also leaves clients a moment to read
                // the reply: jupyter console only reads it while the kernel lives.
                std::cerr << "[atrium] exit() in a cell: the kernel shuts down" << std::endl;
                port->stop_soon(std::chrono::milliseconds(200));
            }
        };
    }

    void inprocess_context::reset_namespace()
    {
        std::lock_guard<std::mutex> lock(m_context_mutex);
        p_context.reset(); // the old namespace is freed first: a reset returns its memory
        p_context = std::make_unique<execution_context>(m_sink, p_scheduler == nullptr);
        m_history.clear();
    }

    // ---- complete, inspect, is_complete, history: answered at once, on the main thread ----

    void inprocess_context::quick_impl(client_request_ptr request, release_fn release)
    {
        const nl::json& content = request->content();
        const std::string msg_type = request->header().value("msg_type", "");
        nl::json reply;
        try
        {
            std::unique_lock<std::mutex> context_lock(m_context_mutex);
            if (auto answer = p_context->answer_code_request(msg_type, content))
                reply = std::move(*answer);
            else
                reply = history_reply(m_history, content);
        }
        catch (const std::exception& e)
        {
            reply = error_content("SessionError", e.what());
        }
        release(); // after the context lock: from then on the sweeper may free the context
        answer_quick(m_port, *request, std::move(reply));
    }

    void inprocess_context::comm_impl(const std::string& msg_type, nl::json, nl::json parent_header)
    {
        // Never called: in-process comms live in the kernel's comm registry (inprocess_kind::comms is null).
        std::cerr << "[atrium] [kernel.routing] " << msg_type << " reached in-process context " << m_key << std::endl;
        m_port.publish_output("status", parent_header, {{"execution_state", "idle"}});
    }

    // ---- input, interrupt, reset ----

    int inprocess_context::input_match_impl(const std::string& parent_msg_id, const std::string& session)
    {
        return m_sink.input_match(parent_msg_id, session);
    }

    void inprocess_context::answer_input_impl(const std::string& value)
    {
        m_sink.answer_input(value);
    }

    void inprocess_context::interrupt_impl()
    {
        if (!p_scheduler)
        {
            // The shared context runs on the main thread: SIGINT also wakes a blocking call there.
            pthread_kill(g_main_thread, SIGINT);
            return;
        }
        m_sink.interrupt_input();
        std::lock_guard<std::mutex> lock(m_context_mutex);
        p_context->interrupt();
    }

    void inprocess_context::reset_impl()
    {
        m_reset_requested = true;
        interrupt_impl();
    }

    void inprocess_context::tell_next_cell_impl(std::string notice)
    {
        m_notice = std::move(notice);
    }

    // ---- state ----

    bool inprocess_context::ended_impl() const
    {
        return m_ended.load();
    }

    bool inprocess_context::idle_impl(std::int64_t&)
    {
        return !m_running.load();
    }

    bool inprocess_context::running_impl()
    {
        return m_running.load();
    }

    int inprocess_context::executions_impl()
    {
        std::lock_guard<std::mutex> lock(m_context_mutex); // a reset may replace it
        return p_context->execution_count();
    }

    context::snapshot inprocess_context::describe_impl(int claims)
    {
        snapshot result;
        result.running = m_running;
        result.queued = claims - (result.running ? 1 : 0);
        result.executions = executions_impl();
        return result;
    }

    void inprocess_context::detach_impl()
    {
        if (p_scheduler)
            p_scheduler->forget(m_key);
    }

    void inprocess_context::flush_impl()
    {
        if (p_context)
            p_context->channel().flush();
    }

    // ---- the kind ----

    inprocess_kind::inprocess_kind(client_port& port, bool scoped, std::size_t max_contexts, bool per_user)
        : m_port(port)
        , p_scheduler(scoped ? std::make_unique<context_scheduler>() : nullptr)
        , m_max_contexts(max_contexts)
        , m_per_user(per_user)
    {
    }

    inprocess_kind::~inprocess_kind() = default;

    std::unique_ptr<context> inprocess_kind::make_context(const std::string& key)
    {
        return std::make_unique<inprocess_context>(key, m_port, p_scheduler.get(), m_per_user);
    }

    std::size_t inprocess_kind::cap() const
    {
        return p_scheduler ? m_max_contexts : 1;
    }

    std::string inprocess_kind::cap_flags() const
    {
        return "--max-contexts";
    }

    std::int64_t inprocess_kind::reclaim_idle_ms() const
    {
        return 0;
    }

    remote_comms* inprocess_kind::comms()
    {
        return nullptr;
    }

    std::string inprocess_kind::describe_lines() const
    {
        return describe_compute() + "\n";
    }

    std::string inprocess_kind::extra_heading() const
    {
        return {};
    }

    std::string inprocess_kind::extra_columns(const context::snapshot&) const
    {
        return {};
    }

    bool inprocess_kind::ends_contexts_at_shutdown() const
    {
        return false;
    }

    void inprocess_kind::shutdown()
    {
        if (p_scheduler)
            p_scheduler->shutdown();
    }
}
