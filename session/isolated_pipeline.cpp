// SPDX-License-Identifier: MIT
// isolated_context's pipeline: the cells sent to the worker and not answered yet (m_running), how each is
// answered in order once its reply and output are in, what a failure or exit() does to the cells behind it,
// and the relay's hold on output of a cell whose start is not out yet. (The contract: isolated_context.hpp.)
#include "session/isolated_context.hpp"
#include "session/isolated_parts.hpp"

#include "common/utc_time.hpp"
#include "session/client_port.hpp"
#include "session/inline_reply.hpp"
#include "session/worker_message_check.hpp"

#include <iostream>

namespace atrium
{
    using namespace isolated_parts;

    std::uint64_t isolated_context::begin_cell_locked(pending_cell cell, std::string notice)
    {
        m_ended = false;
        running_cell& sent = m_running.emplace_back();
        sent.id = ++m_next_id;
        sent.cell = std::move(cell);
        sent.notice = std::move(notice);
        return sent.id;
    }

    nl::json isolated_context::execute_for_locked(std::uint64_t id)
    {
        return execute_message(id, ++m_sent, *m_running.back().cell.request);
    }

    void isolated_context::start_front_locked()
    {
        if (m_running.empty() || m_answering)
            return;
        running_cell& front = m_running.front();
        if (front.started_out)
            return;
        front.started_out = true;
        front.started = iso8601_utc_now();
        publish_start(*front.cell.request, front.notice);
        front.notice.clear();
    }

    void isolated_context::lane_message(worker_message message)
    {
        try
        {
            std::string what;
            if (message.type() == "lane_broken") // from the lane itself: a reply may have been lost
                what = message.header["why"].is_string() ? message.header["why"].get<std::string>()
                                                         : "[worker.lane] the cells connection failed";
            else if (std::string why = worker_message_check::reply_problem(message.header); !why.empty())
                what = "[worker.bad_message] the worker sent a malformed cell reply (" + why + ")";
            if (!what.empty())
            {
                // Dropping it would leave its cell, and every cell of the note behind it, waiting forever: the
                // worker is stopped instead, its cells answered with this error (by the relay, which owns it).
                std::cerr << "[atrium] " << what << " on the cell lane of " << m_key << std::endl;
                std::lock_guard<std::mutex> lock(m_mutex);
                post_locked({"bad_worker", {}, {{"lane", m_lane_id}, {"why", what}}});
                wake_relay();
                return;
            }
            const std::uint64_t id = message.header.at("id").get<std::uint64_t>();
            {
                std::lock_guard<std::mutex> lock(m_mutex);
                auto it = std::find_if(m_running.begin(), m_running.end(),
                                       [id](const running_cell& cell) { return cell.id == id; });
                if (it == m_running.end())
                    return; // answered already: the worker died or the context was reset meanwhile
                it->reply = cell_reply{std::move(message.header.at("content")),
                                       message.header.value("after", std::uint64_t{0}),
                                       message.header.value("paused", false)};
            }
            finish_ready(false);
            bool waiting;
            {
                std::lock_guard<std::mutex> lock(m_mutex);
                waiting = !m_running.empty() && m_running.front().reply.has_value();
            }
            if (waiting)
                wake_relay(); // the relay has not published all of that cell's output yet: it answers once it has
        }
        catch (const std::exception& error)
        {
            std::cerr << "[atrium] [worker.bad_message] " << message.type() << " on the cell lane of " << m_key << ": "
                      << error.what() << std::endl;
        }
    }

    void isolated_context::finish_ready(bool now)
    {
        while (finish_front(now))
        {
        }
    }

    bool isolated_context::finish_front(bool now)
    {
        std::lock_guard<std::mutex> finishing(m_finish_mutex);
        running_cell cell;
        std::deque<running_cell> behind; // sent after a cell that paused the worker: they never ran there
        bool ends = false;
        bool stops = false;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            start_front_locked(); // a cell is answered only after its start
            if (m_running.empty() || !m_running.front().reply ||
                (!now && m_relayed.load() < m_running.front().reply->after))
                return false;
            // Read before anything changes: nothing may throw once the cell is popped and m_answering is set.
            ends = asks_to_end(m_running.front().reply->content);
            stops = stops_queue(*m_running.front().cell.request, m_running.front().reply->content);
            cell = end_current_locked(stops);
            if (cell.reply->paused)
                behind.swap(m_running);
            if (ends)
            {
                // exit(): this note's worker ends; its next cell starts a fresh one. Posted now, so that no cell is
                // sent to the paused worker before the reset is handled (the relay's handling waits for
                // m_finish_mutex, held until the reply is out). Cells already sent go back to the front of the
                // queue, for the fresh worker.
                post_locked({"reset", {}, {}});
                for (auto it = behind.rbegin(); it != behind.rend(); ++it)
                    post_locked({"requeue", std::move(it->cell), {}});
                behind.clear();
            }
            else if (cell.reply->paused)
            {
                // Every cell sent so far is answered here: the worker drops them and runs what comes after.
                post_locked({"resume", {}, {{"type", "resume"}, {"through", m_sent}, {"lane", m_lane_id}}});
            }
        }
        if (ends || cell.reply->paused)
            wake_relay();
        nl::json reply = std::move(cell.reply->content);
        send_finished(cell, std::move(reply), stops);
        if (ends)
            m_ended = true; // a next cell, which clears it, starts only after the reset, which waits for us
        // Behind a failure under stop_on_error: they all reached the kernel before its reply left.
        for (auto& aborted : behind)
            reply_inline(m_environment.server, *aborted.cell.request,
                         stops ? nl::json{{"status", "aborted"}}
                               : error_content("WorkerPaused", "[worker.paused] the worker stopped its queue"));
        bool wake;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_answering = false;
            start_front_locked();
            wake = m_holding || m_queued > 0; // held output of the cell just started; a queued cell may go now
        }
        if (wake)
            wake_relay();
        return true;
    }

    bool isolated_context::holds_locked(const worker_message& message)
    {
        // Checked even behind held ones (receive_from_worker checked its fields): release_held looks at it again.
        return waits_for_start_locked(message) || !m_held.empty(); // in order
    }

    bool isolated_context::waits_for_start_locked(const worker_message& message)
    {
        // By the kernel's own id of the cell, which the worker stamps on its output and prompts: never by the
        // client's msg_id, which two cells may share (a cell's output matched to a later cell would wait for
        // that cell's start, which waits for this cell's reply, which waits for that output).
        const std::string type = message.type();
        if (type != "publish" && type != "input_request")
            return false;
        const std::uint64_t cell_id = message.header.value("cell_id", std::uint64_t{0}); // checked on receipt
        if (cell_id == 0)
            return false; // not a cell's (a comm handler's output)
        for (const running_cell& cell : m_running)
            if (!cell.started_out && cell.id == cell_id)
                return true;
        return false;
    }

    void isolated_context::release_held()
    {
        if (m_held.empty())
            return; // and m_holding is false: it is set only with a message held
        while (!m_held.empty())
        {
            {
                std::lock_guard<std::mutex> lock(m_mutex);
                if (waits_for_start_locked(m_held.front())) // and the rest behind it
                {
                    m_holding = true;
                    return;
                }
            }
            worker_message message = std::move(m_held.front());
            m_held.pop_front();
            relay(message);
        }
        std::lock_guard<std::mutex> lock(m_mutex);
        m_holding = false;
    }
}
