// SPDX-License-Identifier: MIT
// isolated_context's relay thread: owns the worker's channel, feeds it the note's queued cells, publishes what
// the worker sends, and answers what a dead worker owed. (The class and its contract: isolated_context.hpp.)
#include "session/isolated_context.hpp"
#include "session/isolated_parts.hpp"

#include "common/raw_frames.hpp"
#include "embed/channel_scope.hpp"
#include "embed/kernel_services.hpp"
#include "session/client_port.hpp"
#include "session/inline_reply.hpp"
#include "session/remote_comms.hpp"
#include "session/worker_message_check.hpp"

#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <thread>

namespace atrium
{
    using namespace isolated_parts;

    // ---- the relay thread ----

    void isolated_context::run()
    {
        while (true)
        {
            worker_handle* polled = m_worker.get();
            zmq::pollitem_t items[3] = {{nullptr, m_wake_fd, ZMQ_POLLIN, 0}, {}, {}};
            int count = 1;
            if (polled)
            {
                items[1] = {polled->socket.handle(), 0, ZMQ_POLLIN, 0};
                items[2] = {nullptr, polled->process->exit_fd(), ZMQ_POLLIN, 0};
                count = 3;
            }
            try
            {
                zmq::poll(items, count, std::chrono::milliseconds(1000));
            }
            catch (const zmq::error_t&)
            {
                continue; // EINTR
            }
            if (items[0].revents & ZMQ_POLLIN)
            {
                std::uint64_t drained;
                (void)!read(m_wake_fd, &drained, sizeof drained);
            }
            std::deque<event> events;
            {
                std::lock_guard<std::mutex> lock(m_mutex);
                events.swap(m_events);
            }
            for (auto& e : events)
            {
                if (e.kind == "stop")
                {
                    // Pending events (this one) keep the main thread from sending the worker more cells.
                    guarded([&] {
                        answer_pending("ContextClosed",
                                       "[worker.stopped] the context was closed (kernel shutdown) while this cell ran",
                                       "[worker.stopped] the context was closed (kernel shutdown) before this cell ran");
                    });
                    discard_worker();
                    return;
                }
                guarded([&] { handle(e); });
                std::lock_guard<std::mutex> lock(m_mutex);
                --m_unhandled;
            }
            guarded([&] { serve_worker(items[1].revents, items[2].revents, polled); });
        }
    }

    void isolated_context::serve_worker(short channel_events, short exit_events, worker_handle* polled)
    {
        release_held(); // the cell they wait for may have started
        if (m_worker && m_worker.get() == polled)
        {
            if (channel_events & ZMQ_POLLIN)
                receive_from_worker();
            if (exit_events & ZMQ_POLLIN)
            {
                detach_worker();
                m_worker->process->reap_if_ended();
                worker_ended(describe_ending(m_worker->process->ending().value_or("ended")));
            }
        }
        finish_ready(false);
        heartbeat();
        start_next_cell();
    }

    template <typename Work>
    void isolated_context::guarded(Work work)
    {
        // Nothing a worker sends may end the kernel (an exception escaping this thread is std::terminate, every
        // note lost): whatever fails here costs at most this note its worker.
        try
        {
            work();
        }
        catch (const std::exception& error)
        {
            fail_worker(std::string("[worker.relay_error] ") + error.what());
        }
    }

    void isolated_context::fail_worker(const std::string& why)
    {
        std::cerr << "[atrium] " << why << " (context " << m_key << "): its worker is stopped" << std::endl;
        try
        {
            if (m_worker)
            {
                detach_worker();
                m_worker->process->kill_and_reap();
                lose_worker("WorkerFailed", why + "; the worker process of " + m_key + " was stopped", why);
            }
            else
            {
                answer_pending("WorkerFailed", why, why);
            }
        }
        catch (const std::exception& again)
        {
            std::cerr << "[atrium] [worker.relay_error] " << again.what() << " while stopping the worker of " << m_key
                      << std::endl;
            m_worker.reset();
        }
    }

    void isolated_context::handle(event& e)
    {
        if (e.kind == "cell")
        {
            m_cells.push_back(std::move(e.cell));
        }
        else if (e.kind == "requeue")
        {
            m_cells.push_front(std::move(e.cell)); // posted last first
        }
        else if (e.kind == "interrupt")
        {
            if (m_worker)
                send(std::move(e.data));
        }
        else if (e.kind == "resume")
        {
            // Only to the worker that paused: a fresh one numbers its cells from 1 again.
            if (m_worker && m_worker->lane_id == e.data.value("lane", ""))
                send(std::move(e.data));
        }
        else if (e.kind == "quick")
        {
            const client_request& request = *e.cell.request;
            m_environment.server.publish_output("status", request.header(), {{"execution_state", "busy"}});
            try
            {
                ensure_worker();
                std::uint64_t id = ++m_next_id;
                m_quick[id] = e.cell.request;
                send({{"type", "request"},
                      {"id", id},
                      {"msg_type", request.header().value("msg_type", "")},
                      {"header", request.header()},
                      {"content", request.content()}});
            }
            catch (const std::exception& error)
            {
                m_environment.server.send_reply(request, reply_type_of(request), error_content("WorkerUnavailable", error.what()));
                m_environment.server.publish_output("status", request.header(), {{"execution_state", "idle"}});
            }
        }
        else if (e.kind == "comm")
        {
            nl::json parent = std::move(e.data["parent"]);
            e.data.erase("parent");
            if (m_worker)
            {
                std::uint64_t id = ++m_next_id;
                m_comm_handling[id] = parent;
                e.data["id"] = id;
                send(std::move(e.data));
            }
            else
            {
                std::cerr << "[atrium] dropped a " << e.data.value("type", "") << " for " << m_key
                          << ": its worker is gone" << std::endl;
                m_environment.server.publish_output("status", parent, {{"execution_state", "idle"}});
            }
        }
        else if (e.kind == "input")
        {
            if (m_worker)
                send(std::move(e.data));
        }
        else if (e.kind == "bad_worker")
        {
            // Its reply on the cells channel was malformed: its cell can never be answered by it.
            if (m_worker && m_worker->lane_id == e.data.value("lane", ""))
                fail_worker(e.data.value("why", std::string("[worker.bad_message]")));
        }
        else if (e.kind == "reset")
        {
            relay_answered_output();
            answer_pending("ContextReset", "[context.reset] the context " + m_key + " was reset while this cell ran",
                           "");
            discard_worker();
            forget_losses();
        }
    }

    void isolated_context::forget_losses()
    {
        m_consecutive_deaths = 0;
        std::lock_guard<std::mutex> lock(m_mutex);
        m_lost_state.clear();
    }

    void isolated_context::start_next_cell()
    {
        client_port& server = m_environment.server;
        // A cell stays counted in m_queued until it is started or answered: the main thread's fast path never
        // overtakes it.
        auto unqueue = [this]
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            --m_queued;
        };
        while (!m_cells.empty())
        {
            const bool aborted = m_aborts->aborts(m_cells.front().sequence);
            {
                std::lock_guard<std::mutex> lock(m_mutex);
                // Events first (a reset, a requeue). A cell answered or run here, not by the worker, waits for
                // the cells sent before it; any other is pipelined behind them.
                if (m_unhandled > 0 ||
                    ((aborted || m_cells.front().reset_magic) && (!m_running.empty() || m_answering)))
                    return;
            }
            pending_cell cell = std::move(m_cells.front());
            m_cells.pop_front();
            const client_request& request = *cell.request;
            if (aborted)
            {
                // Queued behind a failure of this note with stop_on_error: answered, never run.
                reply_inline(server, request, {{"status", "aborted"}});
                unqueue();
                continue;
            }
            if (cell.reset_magic)
            {
                discard_worker();
                forget_losses();
                {
                    std::lock_guard<std::mutex> lock(m_mutex);
                    m_executions = 0; // the fresh worker counts from 0: the next cell is 1 again
                }
                reply_as_cell(server, request, 0, {{"status", "ok"}},
                              "Context " + m_key + " was reset: a fresh worker process replaces the old one.\n");
                unqueue();
                continue;
            }
            std::optional<std::string> unavailable;
            try
            {
                ensure_worker();
            }
            catch (const std::exception& error)
            {
                unavailable = error.what();
            }
            if (unavailable)
            {
                reply_inline(server, request, error_content("WorkerUnavailable", *unavailable));
                unqueue();
                continue;
            }
            // Under the lock until busy is out: the cell's reply comes to the main thread, which must not publish
            // idle before it.
            std::lock_guard<std::mutex> lock(m_mutex);
            --m_queued;
            send(execute_for_locked(begin_cell_locked(std::move(cell), std::move(m_lost_state)))); // the worker first
            m_lost_state.clear();
            start_front_locked();
        }
    }

    void isolated_context::ensure_worker()
    {
        if (m_worker)
            return;
        if (m_consecutive_deaths >= crash_loop_limit)
        {
            throw std::runtime_error("[worker.crash_loop] the worker of " + m_key + " died " +
                                     std::to_string(m_consecutive_deaths) + " times in a row (last: " + m_last_death +
                                     "); no new worker is started. Fix the cause, then run %reset_context to try again.");
        }
        if (m_consecutive_deaths > 0)
        {
            // Back off before replacing a worker that keeps dying: 0.25 s, 0.5 s, 1 s, 2 s.
            std::this_thread::sleep_for(std::chrono::milliseconds(250) * (1 << (m_consecutive_deaths - 1)));
        }
        m_worker = m_environment.pool.take();
        m_relayed = 0; // a fresh worker numbers its messages from 1
        m_environment.lane.attach(m_worker->lane_id, [this](worker_message message) { lane_message(std::move(message)); });
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_pid = m_worker->process->pid();
            m_lane_id = m_worker->lane_id;
            m_sent = 0;
            m_executions = 0; // a fresh worker counts from 1 again
        }
        m_last_ping = m_last_pong = clock::now();
    }

    void isolated_context::send(nl::json header, std::string blob)
    {
        try
        {
            m_worker->send(std::move(header), std::move(blob));
        }
        catch (const zmq::error_t& error)
        {
            // The worker has gone: its exit is seen on the next poll, which answers what it owed.
            std::cerr << "[atrium] could not reach the worker of " << m_key << ": " << error.what() << std::endl;
        }
    }

    void isolated_context::receive_from_worker()
    {
        while (m_worker)
        {
            std::string peer;
            std::optional<worker_message> message;
            try
            {
                message = m_worker->wire.receive(m_worker->socket, &peer, m_worker->ring ? &*m_worker->ring : nullptr);
            }
            catch (const worker_wire_error& error)
            {
                std::cerr << "[atrium] refused a message on the worker channel of " << m_key << ": " << error.what()
                          << std::endl;
                continue;
            }
            if (!message)
                return;
            if (peer != m_worker->peer)
            {
                std::cerr << "[atrium] [worker.bad_message] refused a signed message from a second peer on the "
                             "channel of "
                          << m_key << std::endl;
                continue;
            }
            m_last_pong = clock::now();
            if (std::string why = worker_message_check::problem(message->header); !why.empty())
            {
                std::cerr << "[atrium] [worker.bad_message] dropped a message from the worker of " << m_key << ": "
                          << why << std::endl;
                // Its number (when it has a valid one) still counts, in order: a reply waiting for it is not stuck.
                nl::json dropped = {{"type", "dropped"}};
                if (auto q = message->header.find("q"); q != message->header.end() && q->is_number_unsigned())
                    dropped["q"] = *q;
                message = worker_message{std::move(dropped), {}};
            }
            bool held;
            {
                std::lock_guard<std::mutex> lock(m_mutex);
                held = holds_locked(*message);
                m_holding = m_holding || held;
            }
            if (held)
                m_held.push_back(std::move(*message)); // a later cell's: it waits for that cell's start
            else
                relay(*message);
        }
    }

    void isolated_context::relay(worker_message& message)
    {
        const std::uint64_t queued_as = message.header.value("q", std::uint64_t{0});
        try
        {
            handle_worker_message(message);
        }
        catch (const std::exception& error)
        {
            std::cerr << "[atrium] [worker.bad_message] " << message.type() << " from the worker of " << m_key << ": "
                      << error.what() << std::endl;
        }
        if (queued_as > m_relayed.load())
            m_relayed = queued_as;
    }

    void isolated_context::handle_worker_message(worker_message& message)
    {
        client_port& server = m_environment.server;
        const std::string type = message.type();
        nl::json& header = message.header;
        if (type == "publish")
        {
            raw_frames::restore(header, std::move(message.blob), {"content", "metadata"}); // no JSON parse of those
            std::lock_guard<std::mutex> lock(m_mutex); // never before the main thread's busy for a cell it started
            server.publish_output(header.at("msg_type").get<std::string>(), header.at("parent"),
                                  std::move(header.at("content")), std::move(header.at("metadata")));
        }
        else if (type == "reply")
        {
            // A quick request's reply (cells reply on the cell lane).
            auto it = m_quick.find(header.at("id").get<std::uint64_t>());
            if (it == m_quick.end())
                return;
            const client_request& request = *it->second;
            server.send_reply(request, reply_type_of(request), std::move(header.at("content")));
            server.publish_output("status", request.header(), {{"execution_state", "idle"}});
            m_quick.erase(it);
        }
        else if (type == "cell_reply")
        {
            // A cell's reply that did not fit on the cells channel when it was sent: it came behind the cell's
            // output, and is answered as one from there.
            header["type"] = "reply";
            lane_message(std::move(message));
        }
        else if (type == "input_request")
        {
            // Under the lock: the client may answer before send_to_stdin returns, and its answer is matched
            // against the prompt id under this lock.
            std::lock_guard<std::mutex> lock(m_mutex);
            if (m_running.empty())
                return;
            // The prompt's cell, by the kernel's id the worker stamps on it (the first sent one if none matches).
            const std::uint64_t cell_id = header.value("cell_id", std::uint64_t{0});
            auto cell = std::find_if(m_running.begin(), m_running.end(),
                                     [&](const running_cell& running) { return running.id == cell_id; });
            const client_request& request = *(cell != m_running.end() ? cell : m_running.begin())->cell.request;
            m_prompt.id = server.send_to_stdin(request, "input_request",
                                               {{"prompt", header.value("prompt", "")},
                                                {"password", header.value("password", false)}});
            m_prompt.session = request.header().value("session", "");
        }
        else if (type == "comm_opened")
        {
            m_environment.comms.opened(header.at("comm_id"), header.at("target_name"), m_key);
        }
        else if (type == "comm_closed")
        {
            m_environment.comms.closed(header.at("comm_id"));
        }
        else if (type == "comm_target")
        {
            m_environment.comms.target_registered(header.at("target_name"), m_key);
        }
        else if (type == "call")
        {
            serve_call(message);
        }
        else if (type == "comm_handled")
        {
            auto it = m_comm_handling.find(header.at("id").get<std::uint64_t>());
            if (it != m_comm_handling.end())
            {
                server.publish_output("status", it->second, {{"execution_state", "idle"}});
                m_comm_handling.erase(it);
            }
        }
    }

    void isolated_context::serve_call(worker_message& message)
    {
        // Pool entries belong to the user whose request the worker is serving.
        std::string user;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            if (!m_running.empty()) // with per-user pools all of this context's cells are that user's
                user = m_running.front().cell.request->header().value("username", "");
        }
        set_thread_requester(user, m_environment.per_user);
        std::string blob = std::move(message.blob);
        nl::json result = serve_worker_call(message.header.value("op", ""),
                                            message.header.value("args", nl::json::object()), blob);
        send({{"type", "call_reply"}, {"id", message.header.at("id")}, {"result", std::move(result)}}, std::move(blob));
    }

    void isolated_context::heartbeat()
    {
        if (!m_worker)
            return;
        auto now = clock::now();
        if (now - m_last_pong > heartbeat_timeout)
        {
            detach_worker();
            m_worker->process->kill_and_reap();
            worker_ended("stopped answering heartbeats for " + std::to_string(heartbeat_timeout.count()) +
                         " s and was killed");
            return;
        }
        if (now - m_last_ping >= heartbeat_period)
        {
            send({{"type", "ping"}});
            m_last_ping = now;
        }
    }

    void isolated_context::worker_ended(const std::string& cause)
    {
        // What the worker wrote just before it died may still be in flight: publish it before the verdict.
        zmq::pollitem_t item = {m_worker->socket.handle(), 0, ZMQ_POLLIN, 0};
        while (zmq::poll(&item, 1, std::chrono::milliseconds(20)) > 0)
            receive_from_worker();
        std::string what = "[worker.died] the worker process of " + m_key + " (pid " +
                           std::to_string(m_worker->process->pid()) + ") " + cause;
        std::cerr << "[atrium] " << what << std::endl;
        lose_worker("WorkerDied", what, cause);
    }

    void isolated_context::lose_worker(const std::string& ename, const std::string& what, const std::string& cause)
    {
        ++m_consecutive_deaths;
        m_last_death = cause;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_lost_state = "[worker.restarted] " + what +
                           ". This cell runs in a fresh worker: the old one's variables and imports are lost.\n";
        }
        answer_pending(ename,
                       what + " while running this cell. Its state is lost; the note's next request starts a fresh worker.",
                       what + " before this cell ran, so it was not run.");
        m_environment.comms.forget_owner(m_key);
        m_worker.reset();
    }

    void isolated_context::detach_worker()
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_pid = 0; // cleared before the worker is reaped: an interrupt can never name a recycled pid
        m_lane_id.clear();
    }

    void isolated_context::relay_answered_output()
    {
        // A reset sent on control may overtake a cell sent before it on shell: that cell's reply is in, but the
        // output the worker wrote before it may still be in flight, and ending the worker now would lose it.
        auto waiting = [this]
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            return std::any_of(m_running.begin(), m_running.end(), [this](const running_cell& cell)
                               { return cell.reply && m_relayed.load() < cell.reply->after; });
        };
        const auto deadline = clock::now() + std::chrono::seconds(1);
        while (m_worker && waiting() && clock::now() < deadline)
        {
            zmq::pollitem_t item = {m_worker->socket.handle(), 0, ZMQ_POLLIN, 0};
            if (zmq::poll(&item, 1, std::chrono::milliseconds(50)) > 0)
                receive_from_worker();
        }
    }

    void isolated_context::discard_worker()
    {
        if (!m_worker)
            return;
        detach_worker();
        m_worker->process->kill_and_reap();
        m_environment.comms.forget_owner(m_key);
        m_worker.reset();
    }

    void isolated_context::answer_pending(const std::string& ename, const std::string& why_running,
                                          const std::string& why_queued)
    {
        client_port& server = m_environment.server;
        // Cells that had finished: their replies stand, whatever output was lost.
        do
            release_held();
        while (finish_front(true));
        std::lock_guard<std::mutex> finishing(m_finish_mutex);
        std::deque<running_cell> running;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            running.swap(m_running);
            m_prompt.clear();
            m_holding = false;
        }
        m_held.clear(); // output of cells that never started
        std::deque<pending_cell> requeued;
        for (auto& cell : running)
        {
            if (cell.started_out)
            {
                finish_execute(server, *cell.cell.request, error_content(ename, why_running),
                               execute_metadata(cell.started, "error"));
            }
            else if (why_queued.empty())
            {
                // Sent to the worker being replaced and not started: they run in the next one.
                requeued.push_back(std::move(cell.cell));
            }
            else
                reply_inline(server, *cell.cell.request, error_content(ename, why_queued));
        }
        if (!requeued.empty())
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_queued += requeued.size();
            m_cells.insert(m_cells.begin(), std::make_move_iterator(requeued.begin()),
                           std::make_move_iterator(requeued.end()));
        }
        for (auto& [id, request] : m_quick)
        {
            server.send_reply(*request, reply_type_of(*request), error_content(ename, why_running));
            server.publish_output("status", request->header(), {{"execution_state", "idle"}});
        }
        m_quick.clear();
        for (auto& [id, parent] : m_comm_handling)
            server.publish_output("status", parent, {{"execution_state", "idle"}});
        m_comm_handling.clear();
        if (why_queued.empty())
            return;
        for (auto& cell : m_cells)
            reply_inline(server, *cell.request, error_content(ename, why_queued));
        std::lock_guard<std::mutex> lock(m_mutex);
        m_queued -= m_cells.size();
        m_cells.clear();
    }

    std::string isolated_context::describe_ending(const std::string& ending) const
    {
        const worker_limits& limits = m_environment.pool.config().limits;
        std::string text = ending;
        if (limits.cpu_seconds && ending.find("SIGXCPU") != std::string::npos)
            text += ": it used up its CPU-time limit of " + std::to_string(limits.cpu_seconds) + " s";
        else if (limits.memory_bytes &&
                 (ending.find("SIGKILL") != std::string::npos || ending.find("SIGABRT") != std::string::npos))
            text += " (its memory limit is " + std::to_string(limits.memory_bytes >> 20) +
                    " MiB; running out of memory ends a worker this way)";
        else if (ending.find("SIGKILL") != std::string::npos)
            text += " (the system's out-of-memory killer, or a kill from outside)";
        return text;
    }
}
