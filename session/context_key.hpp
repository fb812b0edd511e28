// SPDX-License-Identifier: MIT
#pragma once

#include "session/binding.hpp"
#include "session/recent_map.hpp"

#include <mutex>
#include <optional>
#include <string>

namespace atrium
{
    /// Who sent a request, read from its message header and metadata.
    struct request_identity
    {
        std::string session;   ///< header `session`: one client connection (notebook tab, console)
        std::string username;  ///< header `username`, as the client claims it
        std::string note_hint; ///< metadata `atrium_note`: an explicit note name, may be empty
    };

    /// The key of the single context in shared mode.
    inline const std::string shared_key = "shared";
    /// Stands in for an empty username or session id.
    inline const std::string anonymous_name = "anonymous";

    /// A request's context key, and whether a client named it.
    struct resolved_key
    {
        std::string key;
        /// False only for a note keyed by its client session alone: a client that goes away (a page reload makes
        /// a new session) never comes back to it by name, so such a note may be reclaimed when idle. Named
        /// notes (`%note`, `atrium_note`), users and the shared context never are, silently.
        bool named = true;
    };

    /// Maps requests to context keys: `shared`, `note:NAME` or `user:NAME`.
    class key_resolver
    {
    public:
        /// `remembered_limit` bounds how many sessions' `%note` choices are kept (the oldest choice goes first).
        explicit key_resolver(binding_config config, std::size_t remembered_limit = 65536);

        /// In note scope the name is the note hint, else the note remembered for the session, else the
        /// session id. Throws `[session.bad_note_name]` for an unusable note hint.
        resolved_key resolve(const request_identity& identity) const;
        /// `resolve(identity).key`.
        std::string key_for(const request_identity& identity) const;

        /// `%note NAME`: later requests of `session` without a note hint go to note NAME.
        /// Throws `[session.bad_note_name]`.
        void remember_note(const std::string& session, const std::string& name);
        std::optional<std::string> remembered_note(const std::string& session) const;
        /// When a client session ends, so the map does not grow with every connection ever made.
        void forget_session(const std::string& session);

        /// Per-user modes let a requester act only on their own `user:` key (every key with `operator_view`);
        /// notes are not access-controlled, and in shared mode there is only one context.
        bool may_access(const request_identity& requester, const std::string& key, bool operator_view) const;

        const binding_config& config() const noexcept;

    private:
        const binding_config m_config;
        mutable std::mutex m_mutex;
        recent_map<std::string> m_notes_by_session; ///< session -> note; sessions never say goodbye
    };

    /// The user a `user:` key belongs to; empty for every other key.
    std::string owner_of_key(const std::string& key);
}
