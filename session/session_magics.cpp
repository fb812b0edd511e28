// SPDX-License-Identifier: MIT
// The session manager's own magics (%note, %contexts) and the %contexts table: what acts on contexts rather
// than in one.
#include "session/session_manager.hpp"

#include "session/context.hpp"
#include "session/context_kind.hpp"
#include "session/inline_reply.hpp"
#include "session/kernel_magic.hpp"
#include "session/steady_ms.hpp"

#include <algorithm>
#include <sstream>

namespace atrium
{
    bool session_manager::serve_magic(const client_request& request, const request_identity& who,
                                      const magic_cell& cell)
    {
        if (cell.what == magic_cell::kind::refused)
        {
            reply_as_cell(m_port, request, executions_of(who), error_content("UsageError", cell.error));
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
        reply_as_cell(m_port, request, executions_of(who), {{"status", "ok"}}, text);
        return true;
    }

    int session_manager::executions_of(const request_identity& who)
    {
        try
        {
            std::string key = m_keys.key_for(who);
            std::lock_guard<std::mutex> lock(m_contexts_mutex);
            auto it = m_contexts.find(key);
            if (it == m_contexts.end())
                return 0;
            return it->second->instance->executions();
        }
        catch (const std::exception&)
        {
            return 0; // a bad note name: the error being answered says so
        }
    }

    std::string session_manager::describe_contexts(const request_identity& who)
    {
        std::ostringstream out;
        out << "binding: " << describe(m_binding) << "\n" << p_kind->describe_lines();
        const std::int64_t reclaim_after = p_kind->reclaim_idle_ms() / 1000;
        std::lock_guard<std::mutex> lock(m_contexts_mutex);
        out << "contexts: " << m_contexts.size() << " of at most " << p_kind->cap()
            << "; at the cap the least recently used idle unnamed note is reclaimed"
            << (reclaim_after > 0 ? ", and an unnamed note's worker idle " + std::to_string(reclaim_after) + " s ends"
                                  : std::string())
            << "\n";
        // Keys are shown whole (a host's notes are named by kernel ids, which users look for): the column is as
        // wide as the longest one (note names are at most 128 characters).
        std::size_t width = 32;
        for (auto& [key, held] : m_contexts)
            if (m_keys.may_access(who, key, m_binding.operator_view))
                width = std::max(width, key.size());
        out << "key" << std::string(width - 2, ' ') << "state      queued  executions  idle for" << p_kind->extra_heading()
            << "  reclaimed\n";
        std::size_t hidden = 0;
        for (auto& [key, held] : m_contexts)
        {
            if (!m_keys.may_access(who, key, m_binding.operator_view))
            {
                ++hidden;
                continue;
            }
            std::int64_t last = 0;
            const bool idle = idle_locked(*held, last);
            context::snapshot shown = held->instance->describe(held->claims.load());
            const std::int64_t idle_for = (steady_now_ms() - last) / 1000;
            std::string reclaimed = "never (named)";
            if (!held->named)
                reclaimed = !idle              ? "not while in use"
                            : reclaim_after > 0 ? "in " + std::to_string(std::max<std::int64_t>(reclaim_after - idle_for, 0)) + " s, or at the cap"
                                                : "at the cap";
            out << key << std::string(width + 1 - key.size(), ' ') << (shown.running ? "busy   " : "idle   ") << "    "
                << std::max(shown.queued, 0) << "       " << shown.executions << "           " << idle_for << " s"
                << p_kind->extra_columns(shown) << "  " << reclaimed << "\n";
        }
        if (hidden)
            out << "(" << hidden << " contexts of other users not shown)\n";
        return out.str();
    }
}
