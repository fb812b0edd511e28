// SPDX-License-Identifier: MIT
#include "session/session_manager.hpp"

#include "session/client_port.hpp"
#include "session/context.hpp"
#include "session/context_kind.hpp"
#include "session/inline_reply.hpp"
#include "session/inprocess_context.hpp"
#include "session/isolated_kind.hpp"
#include "session/kernel_magic.hpp"
#include "session/remote_comms.hpp"
#include "session/steady_ms.hpp"

#include <algorithm>
#include <iostream>

namespace atrium
{
    namespace
    {
        /// The kind is chosen once, here, from the binding.
        std::unique_ptr<context_kind> make_context_kind(const binding_config& binding, const worker_settings& workers,
                                                        client_port& port)
        {
            if (binding.mode == binding_mode::isolated)
                return std::make_unique<isolated_kind>(port, workers, is_per_user(binding));
            return std::make_unique<inprocess_kind>(port, binding.mode == binding_mode::scoped, workers.max_contexts,
                                                    is_per_user(binding));
        }
    }

    request_identity identity_of(const nlohmann::json& header, const nlohmann::json& metadata)
    {
        request_identity who;
        who.session = header.value("session", "");
        who.username = header.value("username", "");
        auto hint = metadata.find("atrium_note");
        if (hint != metadata.end() && hint->is_string())
            who.note_hint = hint->get<std::string>();
        return who;
    }

    session_manager::session_manager(binding_config binding, worker_settings workers, client_port& port)
        : session_manager(binding, workers, port, make_context_kind(binding, workers, port))
    {
    }

    session_manager::session_manager(binding_config binding, worker_settings, client_port& port,
                                     std::unique_ptr<context_kind> kind)
        : m_binding(binding)
        , m_keys(binding)
        , m_port(port)
        , p_kind(std::move(kind))
    {
        if (m_binding.mode == binding_mode::shared)
            release(claim({shared_key, true})); // created now: __main__ and its namespace exist before the first cell
        if (sweep_period().count() > 0)
            m_sweeper = std::thread([this] { sweep_idle_contexts(); });
    }

    session_manager::~session_manager()
    {
        stop_sweeper();
    }

    // ---- the table ----

    bool session_manager::idle_locked(slot& held, std::int64_t& last_activity)
    {
        last_activity = held.last_activity.load();
        bool busy = held.claims.load() > 0;
        // Asked even when claimed: a worker's context also moves last_activity to its own latest cell.
        busy = !held.instance->idle(last_activity) || busy;
        return !busy;
    }

    session_manager::table::iterator session_manager::reclaimable_locked()
    {
        auto oldest = m_contexts.end();
        for (auto it = m_contexts.begin(); it != m_contexts.end(); ++it)
        {
            std::int64_t last = 0;
            const slot& held = *it->second;
            if ((held.named && !held.instance->ended()) || !idle_locked(*it->second, last))
                continue;
            if (oldest == m_contexts.end() || held.last_use < oldest->second->last_use)
                oldest = it;
        }
        return oldest;
    }

    std::unique_ptr<session_manager::slot> session_manager::reclaim_locked(table::iterator it, const std::string& why)
    {
        const std::string key = it->first;
        std::cerr << "[atrium] [session.reclaimed] " << key << ": " << why << std::endl;
        it->second->instance->detach();
        // Remembered (boundedly) so that a client coming back to the note learns why its variables are gone.
        m_reclaimed.put(key, "[session.reclaimed] this note's context was reclaimed (" + why +
                                 "): its variables are gone and it starts afresh.\n");
        std::unique_ptr<slot> held = std::move(it->second);
        m_contexts.erase(it);
        return held;
    }

    session_manager::slot& session_manager::claim(const resolved_key& resolved)
    {
        std::unique_ptr<slot> reclaimed; // destroyed after the lock: that frees a namespace or ends a worker
        std::unique_lock<std::mutex> lock(m_contexts_mutex);
        auto found = m_contexts.find(resolved.key);
        if (found == m_contexts.end())
        {
            if (m_contexts.size() >= p_kind->cap())
            {
                auto victim = reclaimable_locked();
                if (victim == m_contexts.end())
                    throw std::runtime_error(
                        "[session.too_many_contexts] this kernel holds " + std::to_string(m_contexts.size()) +
                        " contexts, its cap (" + p_kind->cap_flags() +
                        "), and none can be reclaimed: every one is named, busy or in use. Run exit() in a note "
                        "you no longer need, or start the kernel with a higher cap.");
                reclaimed = reclaim_locked(victim, "the kernel was at its cap of " + std::to_string(p_kind->cap()) +
                                                       " contexts and this was the least recently used idle note");
            }
            auto held = std::make_unique<slot>();
            held->instance = p_kind->make_context(resolved.key);
            held->named = resolved.named;
            if (const std::string* told = m_reclaimed.find(resolved.key))
            {
                held->instance->tell_next_cell(*told);
                m_reclaimed.erase(resolved.key);
            }
            found = m_contexts.emplace(resolved.key, std::move(held)).first;
        }
        slot& held = *found->second;
        held.named = held.named || resolved.named; // once a client names a note, it stays named
        held.disposing = false; // claimed again (a host's front reopened for its note): it is in use, not leaving
        ++held.claims;
        held.last_activity = steady_now_ms();
        held.last_use = ++m_uses;
        lock.unlock();
        reclaimed.reset();
        return held;
    }

    void session_manager::release(slot& held)
    {
        held.last_activity = steady_now_ms();
        held.last_use = ++m_uses;
        --held.claims;
    }

    // ---- requests ----

    void session_manager::execute(client_request_ptr request, std::uint64_t sequence)
    {
        request_identity who = identity_of(request->header(), request->metadata());
        try
        {
            magic_cell cell = read_magic_cell(request->content().value("code", ""));
            if (serve_magic(*request, who, cell))
                return;
            slot& held = claim(m_keys.resolve(who));
            bool reset_magic = cell.what == magic_cell::kind::magics; // what serve_magic leaves to the context
            if (!reset_magic && cell.code != request->content().value("code", ""))
            {
                // The rest after a leading %note, or %contexts made a call: what the context runs.
                nl::json content = request->content();
                content["code"] = cell.code;
                request = request->with_content(std::move(content));
            }
            held.instance->execute(std::move(request), sequence, reset_magic, [this, &held] { release(held); });
        }
        catch (const std::exception& e)
        {
            reply_as_cell(m_port, *request, executions_of(who), error_content("SessionError", e.what()));
        }
    }

    void session_manager::quick(client_request_ptr request)
    {
        try
        {
            slot& held = claim(m_keys.resolve(identity_of(request->header(), request->metadata())));
            held.instance->quick(request, [this, &held] { release(held); });
        }
        catch (const std::exception& e)
        {
            answer_quick(m_port, *request, error_content("SessionError", e.what()));
        }
    }

    void session_manager::answer_input(const std::string& parent_msg_id, const std::string& session,
                                       const std::string& value)
    {
        std::lock_guard<std::mutex> lock(m_contexts_mutex);
        context* best = nullptr;
        int best_match = 0;
        for (auto& [key, held] : m_contexts)
        {
            int match = held->instance->input_match(parent_msg_id, session);
            if (match > best_match)
            {
                best = held->instance.get();
                best_match = match;
            }
        }
        if (best)
            best->answer_input(value); // an answer nobody waits for (interrupted prompt) is dropped
    }

    void session_manager::interrupt(const request_identity& who)
    {
        // The requester's own context: its key comes from the interrupt request's own header.
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
            it->second->instance->interrupt();
            return;
        }
        // A requester that names its note (a host's front always does) has nothing running when that note has
        // no context: it is no server acting for others.
        if (!who.note_hint.empty())
            return;
        // A requester that owns no context is a server acting for its clients: jupyter_server (JupyterLab,
        // Notebook 7, Kernel Gateway) sends interrupt_request from its own session, never the browser's.
        // It gets what those clients expect: the running cells of every context it may reach (per-user
        // modes: only its own user's, which it has not got, so nothing).
        for (auto& [other, held] : m_contexts)
            if (held->instance->running() && m_keys.may_access(who, other, false))
                held->instance->interrupt();
    }

    nlohmann::json session_manager::reset_context(const request_identity& who, bool dispose)
    {
        // The requester's own context only (its key comes from the request's header): its running cell is
        // interrupted and the context starts afresh before its next cell.
        nl::json reply = {{"status", "ok"}};
        bool sweep_later = false;
        try
        {
            std::string key = m_keys.key_for(who);
            reply["key"] = key;
            std::lock_guard<std::mutex> lock(m_contexts_mutex);
            auto it = m_contexts.find(key);
            reply["found"] = it != m_contexts.end();
            std::int64_t last = 0;
            if (it != m_contexts.end() && dispose && idle_locked(*it->second, last))
            {
                // Freed by the sweeper, not here on the I/O thread, which serves every client's control and
                // stdin: freeing a namespace takes the GIL and runs finalizers, ending a worker reaps it.
                it->second->instance->detach();
                m_to_free.push_back(std::move(it->second));
                m_contexts.erase(it);
                sweep_later = true;
            }
            else if (it != m_contexts.end())
            {
                it->second->instance->reset();
                it->second->disposing = it->second->disposing || dispose;
                sweep_later = dispose;
            }
        }
        catch (const std::exception& e)
        {
            reply = error_content("SessionError", e.what());
        }
        if (sweep_later)
            ensure_sweeper();
        return reply;
    }

    bool session_manager::may_access(const request_identity& who, const std::string& key) const
    {
        // A requester that names its note (a host's front always does) reaches that note's comms alone: one
        // notebook's widget manager must not load, or drive, another's widgets.
        if (!who.note_hint.empty() && !is_per_user(m_binding))
        {
            try
            {
                return key == m_keys.key_for(who);
            }
            catch (const std::exception&)
            {
                return false; // a note name that is no name reaches nothing
            }
        }
        return m_keys.may_access(who, key, false);
    }

    // ---- comms whose other end is in a context's own process ----

    bool session_manager::holds_comms()
    {
        return p_kind->comms() != nullptr;
    }

    void session_manager::comm(const client_request_ptr& request_ptr)
    {
        const client_request& request = *request_ptr;
        remote_comms& comms = *p_kind->comms();
        const nl::json& content = request.content();
        const std::string msg_type = request.header().value("msg_type", "");
        request_identity who = identity_of(request.header(), request.metadata());
        m_port.publish_output("status", request.header(), {{"execution_state", "busy"}});
        if (msg_type == "comm_info_request")
        {
            nl::json found = comms.comm_info(content.value("target_name", ""), [&](const std::string& owner)
                                             { return m_keys.may_access(who, owner, false); });
            m_port.send_reply(request, "comm_info_reply", {{"status", "ok"}, {"comms", std::move(found)}});
        }
        else
        {
            std::string comm_id = content.value("comm_id", "");
            std::string target_name = content.value("target_name", "");
            auto owner = msg_type == "comm_open" ? comms.owner_of_target(target_name) : comms.owner_of_comm(comm_id);
            std::lock_guard<std::mutex> lock(m_contexts_mutex);
            auto held = owner ? m_contexts.find(*owner) : m_contexts.end();
            if (held == m_contexts.end())
            {
                if (msg_type == "comm_open")
                    refuse_comm_open(m_port, request);
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
                    comms.opened(comm_id, target_name, *owner);
                else if (msg_type == "comm_close")
                    comms.closed(comm_id);
                nl::json message = {{"header", request.header()},
                                    {"parent_header", request.parent_header()},
                                    {"metadata", request.metadata()},
                                    {"content", content},
                                    {"buffers", nl::json::array()}};
                // Idle follows once the worker's handler has run, so the client sees its replies first.
                held->second->instance->comm(
                    msg_type, {{"comm_id", comm_id}, {"target_name", target_name}, {"msg", std::move(message)}},
                    request.header());
                return;
            }
        }
        m_port.publish_output("status", request.header(), {{"execution_state", "idle"}});
    }

    // ---- culling ----

    std::chrono::milliseconds session_manager::sweep_period() const
    {
        using std::chrono::milliseconds;
        milliseconds shortest = m_binding.cull_idle_after;
        if (const std::int64_t reclaim = p_kind->reclaim_idle_ms(); reclaim > 0)
        {
            milliseconds workers(reclaim);
            shortest = shortest.count() > 0 ? std::min(shortest, workers) : workers;
        }
        if (shortest.count() == 0)
            return shortest;
        return std::min<milliseconds>(std::chrono::seconds(1), shortest / 2 + milliseconds(1));
    }

    void session_manager::sweep_idle_contexts()
    {
        const auto cull_after = m_binding.cull_idle_after.count();
        const std::int64_t reclaim_after = p_kind->reclaim_idle_ms();
        std::unique_lock<std::mutex> wait_lock(m_sweeper_mutex);
        const auto period = sweep_period().count() > 0 ? sweep_period() : std::chrono::milliseconds(200);
        while (!m_sweeper_wake.wait_for(wait_lock, period, [&] { return m_sweeper_stop; }))
        {
            std::vector<std::unique_ptr<slot>> idle;
            {
                std::lock_guard<std::mutex> lock(m_contexts_mutex);
                idle.swap(m_to_free);
                for (auto it = m_contexts.begin(); it != m_contexts.end();)
                {
                    slot& held = *it->second;
                    std::int64_t last = 0;
                    if (!idle_locked(held, last))
                    {
                        ++it;
                        continue;
                    }
                    const std::int64_t idle_for = steady_now_ms() - last;
                    if (held.disposing || (cull_after > 0 && idle_for > cull_after))
                    {
                        held.instance->detach();
                        idle.push_back(std::move(it->second));
                        it = m_contexts.erase(it);
                    }
                    else if (!held.named && reclaim_after > 0 && idle_for > reclaim_after)
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

    void session_manager::ensure_sweeper()
    {
        std::lock_guard<std::mutex> lock(m_sweeper_mutex);
        if (!m_sweeper.joinable() && !m_sweeper_stop)
            m_sweeper = std::thread([this] { sweep_idle_contexts(); });
    }

    void session_manager::stop_sweeper()
    {
        {
            std::lock_guard<std::mutex> lock(m_sweeper_mutex);
            m_sweeper_stop = true;
        }
        m_sweeper_wake.notify_all();
        if (m_sweeper.joinable())
            m_sweeper.join();
    }

    // ---- shutdown ----

    void session_manager::stop()
    {
        stop_sweeper();
        if (p_kind->ends_contexts_at_shutdown())
        {
            // Every worker is killed and reaped before the kernel exits: none is left behind.
            table contexts;
            std::vector<std::unique_ptr<slot>> disposed;
            {
                std::lock_guard<std::mutex> lock(m_contexts_mutex);
                contexts.swap(m_contexts);
                disposed.swap(m_to_free);
            }
            contexts.clear();
            disposed.clear();
        }
        p_kind->shutdown();
    }

    void session_manager::flush()
    {
        std::lock_guard<std::mutex> lock(m_contexts_mutex);
        for (auto& [key, held] : m_contexts)
            held->instance->flush();
    }
}
