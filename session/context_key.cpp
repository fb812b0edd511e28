// SPDX-License-Identifier: MIT
#include "session/context_key.hpp"

#include "session/note_name.hpp"

namespace atrium
{
    namespace
    {
        const std::string note_prefix = "note:";
        const std::string user_prefix = "user:";

        const std::string& or_anonymous(const std::string& name)
        {
            return name.empty() ? anonymous_name : name;
        }
    }

    key_resolver::key_resolver(binding_config config, std::size_t remembered_limit)
        : m_config(config)
        , m_notes_by_session(remembered_limit)
    {
    }

    resolved_key key_resolver::resolve(const request_identity& identity) const
    {
        if (m_config.mode == binding_mode::shared)
        {
            return {shared_key, true};
        }
        if (m_config.scope == binding_scope::user)
        {
            return {user_prefix + or_anonymous(identity.username), true};
        }
        if (!identity.note_hint.empty())
        {
            check_note_name(identity.note_hint);
            return {note_prefix + identity.note_hint, true};
        }
        std::lock_guard<std::mutex> lock(m_mutex);
        if (const std::string* remembered = m_notes_by_session.find(identity.session))
            return {note_prefix + *remembered, true};
        return {note_prefix + or_anonymous(identity.session), false};
    }

    std::string key_resolver::key_for(const request_identity& identity) const
    {
        return resolve(identity).key;
    }

    void key_resolver::remember_note(const std::string& session, const std::string& name)
    {
        check_note_name(name);
        std::lock_guard<std::mutex> lock(m_mutex);
        m_notes_by_session.put(session, name);
    }

    std::optional<std::string> key_resolver::remembered_note(const std::string& session) const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (const std::string* found = m_notes_by_session.find(session))
            return *found;
        return std::nullopt;
    }

    void key_resolver::forget_session(const std::string& session)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_notes_by_session.erase(session);
    }

    bool key_resolver::may_access(const request_identity& requester, const std::string& key,
                                  bool operator_view) const
    {
        if (!is_per_user(m_config) || operator_view)
        {
            return true;
        }
        // Only `user:` keys exist in per-user modes; anything else is refused rather than guessed at.
        return key.compare(0, user_prefix.size(), user_prefix) == 0 &&
               owner_of_key(key) == or_anonymous(requester.username);
    }

    const binding_config& key_resolver::config() const noexcept
    {
        return m_config;
    }

    std::string owner_of_key(const std::string& key)
    {
        if (key.compare(0, user_prefix.size(), user_prefix) != 0)
        {
            return {};
        }
        return key.substr(user_prefix.size());
    }
}
