// SPDX-License-Identifier: MIT
#include "session/isolated_context.hpp"
#include "session/isolated_parts.hpp"

#include "common/reply_type.hpp"
#include "common/signal_free_thread.hpp"
#include "common/utc_time.hpp"
#include "embed/channel_scope.hpp"
#include "embed/kernel_services.hpp"
#include "session/client_port.hpp"
#include "session/inline_reply.hpp"
#include "session/remote_comms.hpp"

#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

namespace atrium
{
    using namespace isolated_parts;

    isolated_context::isolated_context(std::string key, isolated_environment environment)
        : m_key(std::move(key))
        , m_environment(environment)
        , m_wake_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC))
    {
        if (m_wake_fd < 0)
            throw std::runtime_error("[worker.relay] cannot create an eventfd for " + m_key);
        m_last_activity = steady_now_ms();
        m_thread = start_signal_free_thread([this] { run(); });
    }

    isolated_context::~isolated_context()
    {
        post({"stop", {}, {}});
        m_thread.join();
        close(m_wake_fd);
    }

    // ---- any thread ----

    void isolated_context::post(event e)
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            post_locked(std::move(e));
        }
        wake_relay();
    }

    void isolated_context::post_locked(event e)
    {
        if (e.kind == "cell" || e.kind == "requeue")
            ++m_queued;
        ++m_unhandled;
        m_events.push_back(std::move(e));
    }

    void isolated_context::wake_relay()
    {
        std::uint64_t one = 1;
        (void)!write(m_wake_fd, &one, sizeof one);
    }

    void isolated_context::execute_impl(client_request_ptr request, std::uint64_t sequence, bool reset_magic,
                                        release_fn release)
    {
        if (reset_magic || !start_on_lane(request, sequence))
            post({"cell", {std::move(request), sequence, reset_magic}, {}});
        release();
    }

    // ---- the fast path (main thread) ----

    bool isolated_context::start_on_lane(const client_request_ptr& request, std::uint64_t sequence)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        // Anything the relay has yet to do for this note (a reset, a queued cell, a notice) comes first. Cells
        // still running do not: this one is pipelined behind them.
        if (m_lane_id.empty() || m_queued > 0 || m_unhandled > 0 || !m_lost_state.empty() ||
            m_aborts->aborts(sequence) || !m_environment.lane.proven(m_lane_id))
            return false;
        std::uint64_t id = begin_cell_locked({request, sequence, false});
        if (!m_environment.lane.send(m_lane_id, execute_for_locked(id)))
        {
            // Not sent (its cells connection is gone, the worker may live on): undone, so that the worker, which
            // runs cells strictly by number, never waits for this one; the relay sends it on the worker's own
            // channel instead. (Should the worker be gone, its relay sees the exit and answers the cell.)
            m_running.pop_back();
            --m_sent;
            return false;
        }
        // The worker starts first. busy and execute_input still precede the cell's output: the relay holds that
        // until the start is out (under m_mutex, held here).
        start_front_locked();
        return true;
    }

    void isolated_context::publish_start(const client_request& request, const std::string& notice)
    {
        // Published by the kernel, not the worker, so that even a cell that kills its worker at once shows.
        client_port& server = m_environment.server;
        publish_execute_start(server, request, m_executions);
        if (!notice.empty())
            server.publish_output("stream", request.header(), {{"name", "stderr"}, {"text", notice}});
    }

    isolated_context::running_cell isolated_context::end_current_locked(bool stops)
    {
        running_cell cell = std::move(m_running.front());
        m_running.pop_front();
        const nl::json& reply = cell.reply->content;
        m_answering = true;
        m_prompt.clear();
        m_consecutive_deaths = 0;
        if (reply.contains("execution_count") && reply["execution_count"].is_number_integer())
            m_executions = reply["execution_count"].get<int>();
        if (stops)
            m_aborts->hold(); // this note's queue only, until send_finished's reply is written
        return cell;
    }

    void isolated_context::send_finished(const running_cell& cell, nl::json reply, bool stops)
    {
        client_port& server = m_environment.server;
        const client_request& request = *cell.cell.request;
        client_port::reply_written settle;
        if (stops)
            settle = [line = m_aborts](std::uint64_t arrived_before) { line->settle(arrived_before); };
        nl::json metadata = execute_metadata(cell.started, reply.value("status", "error"));
        server.send_reply(request, "execute_reply", std::move(reply), std::move(metadata), std::move(settle));
        server.publish_output("status", request.header(), {{"execution_state", "idle"}});
        m_last_activity = steady_now_ms();
    }

    void isolated_context::quick_impl(client_request_ptr request, release_fn release)
    {
        post({"quick", {std::move(request), 0, false}, {}});
        release();
    }

    void isolated_context::comm_impl(const std::string& msg_type, nl::json forwarded, nl::json parent_header)
    {
        forwarded["type"] = msg_type;
        forwarded["parent"] = std::move(parent_header);
        post({"comm", {}, std::move(forwarded)});
    }

    void isolated_context::interrupt_impl()
    {
        // By message, not by a signal: the cell running may not have begun in the worker yet (cells are
        // pipelined), and a worker ignores SIGINT between cells. Its link thread interrupts that cell exactly once,
        // now or at its start, and wakes its main thread with SIGINT itself (embed/interrupts.hpp).
        std::lock_guard<std::mutex> lock(m_mutex);
        // The first cell the worker has not answered: one answered may still wait here for its output to be
        // relayed while the worker already runs the next.
        auto running = std::find_if(m_running.begin(), m_running.end(),
                                    [](const running_cell& cell) { return !cell.reply.has_value(); });
        if (running != m_running.end())
        {
            post_locked({"interrupt", {}, {{"type", "interrupt"}, {"through", running->id}}});
            wake_relay();
        }
    }

    void isolated_context::reset_impl()
    {
        post({"reset", {}, {}});
    }

    bool isolated_context::ended_impl() const
    {
        return m_ended.load();
    }

    void isolated_context::tell_next_cell_impl(std::string notice)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_lost_state = std::move(notice);
    }

    int isolated_context::input_match_impl(const std::string& parent_msg_id, const std::string& session)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_prompt.match(parent_msg_id, session);
    }

    void isolated_context::answer_input_impl(const std::string& value)
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_prompt.clear();
        }
        post({"input", {}, {{"type", "input_reply"}, {"value", value}}});
    }

    context::snapshot isolated_context::describe_impl(int)
    {
        snapshot result;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            result.running = !m_running.empty();
            result.queued = static_cast<int>(m_queued + (m_running.empty() ? 0 : m_running.size() - 1));
            result.executions = m_executions;
            result.pid = m_pid;
        }
        result.resident_bytes = result.pid > 0 ? resident_bytes_of(result.pid) : 0;
        return result;
    }

    bool isolated_context::idle_impl(std::int64_t& last_activity)
    {
        last_activity = std::max(last_activity, m_last_activity.load());
        return !busy();
    }

    bool isolated_context::running_impl()
    {
        return busy();
    }

    int isolated_context::executions_impl()
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_executions;
    }

    bool isolated_context::busy()
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        // Not m_answering: a cell whose reply is being sent is over, and its reply is sent whatever happens next
        // (by the main thread now, or by the relay before it handles a stop).
        return !m_running.empty() || m_queued > 0 || (m_unhandled > 0 && !m_ended);
    }
}
