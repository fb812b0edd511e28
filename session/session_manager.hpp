// SPDX-License-Identifier: MIT
#pragma once

#include "session/binding.hpp"
#include "session/client_request.hpp"
#include "session/context_key.hpp"
#include "session/recent_map.hpp"
#include "session/worker_settings.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace atrium
{
    class client_port;
    class context;
    class context_kind;
    struct magic_cell;

    /// The session manager: maps each request (decoded and authenticated by kernel/) onto the context of its note
    /// or user and hands it over. It decides the key (key_resolver, with the per-user rules), owns the table of
    /// contexts and their lifecycle: created on first use (claim), held while a request needs them, reset on
    /// request, culled when idle, reclaimed at the cap, interrupted, listed (%contexts), destroyed at shutdown.
    /// What differs between kinds of context is behind `context` and `context_kind`, chosen once here.
    ///
    /// Threads: execute, quick and comm on the main thread; interrupt and reset_context on the I/O thread; the
    /// sweeper on a thread of its own. The table is under `m_contexts_mutex`, taken before any context's own lock.
    class session_manager
    {
    public:
        /// The kind of context is chosen from the binding: in-process (shared, scoped) or isolated.
        session_manager(binding_config binding, worker_settings workers, client_port& port);
        /// With a kind of one's own (tests use a fake one).
        session_manager(binding_config binding, worker_settings workers, client_port& port,
                        std::unique_ptr<context_kind> kind);
        /// Stops the sweeper; contexts are destroyed with the table.
        ~session_manager();
        session_manager(const session_manager&) = delete;
        session_manager& operator=(const session_manager&) = delete;

        /// An execute_request: Atrium's magics are answered here, the rest runs in the requester's context.
        void execute(client_request_ptr request, std::uint64_t sequence);
        /// complete, inspect, is_complete and history requests, answered from the requester's context.
        void quick(client_request_ptr request);
        /// True when this kind's comms live in its contexts (isolated): then every client comm message and
        /// comm_info_request goes to `comm`; otherwise kernel/ serves them from the kernel's own registry.
        bool holds_comms();
        void comm(const client_request_ptr& request);
        /// An input_reply: to the context whose prompt it answers best; dropped when none waits.
        void answer_input(const std::string& parent_msg_id, const std::string& session, const std::string& value);
        /// The requester's context's running cell, or (for a requester without a context, a server acting for
        /// its clients) every running cell it may reach. I/O thread.
        void interrupt(const request_identity& who);
        /// atrium_reset_context_request: the requester's context starts afresh; returns the reply content.
        /// With `dispose` (a host's front closing) the context is taken out of the table and freed: at once when
        /// idle, else its running cell is interrupted and the sweeper frees it once it is idle.
        nlohmann::json reset_context(const request_identity& who, bool dispose = false);
        /// %contexts: the binding, the caps and the contexts `who` may see.
        std::string describe_contexts(const request_identity& who);
        /// Per-user rules: may `who` act on (a comm of) the context `key`.
        bool may_access(const request_identity& who, const std::string& key) const;

        /// At shutdown, before Python's exit hooks: the sweeper stops, scheduled cells end, workers are reaped.
        void stop();
        /// After the exit hooks: what in-process contexts still buffer reaches the clients.
        void flush();

    private:
        /// One context in the table and what the manager keeps about it.
        struct slot
        {
            std::unique_ptr<atrium::context> instance;
            bool named = true; ///< unnamed (session-keyed) notes may be reclaimed when idle; under m_contexts_mutex
            std::atomic<int> claims{0}; ///< requests queued for or being served by this context: never culled then
            std::atomic<std::int64_t> last_activity{0}; ///< steady clock, milliseconds
            /// When it was last claimed or released, on the manager's use counter: orders contexts for reclaiming
            /// (milliseconds tie for requests served in the same one).
            std::atomic<std::uint64_t> last_use{0};
            /// Its front closed while a cell ran: the sweeper frees it once idle. Under m_contexts_mutex.
            bool disposing = false;
        };
        using table = std::map<std::string, std::unique_ptr<slot>>;

        /// The key's context, created on first use, held (not culled or reclaimed) until `release`. At the cap
        /// the least recently used idle unnamed note is reclaimed to make room; throws
        /// `[session.too_many_contexts]` when none can be.
        slot& claim(const resolved_key& resolved);
        void release(slot& held);
        /// Under m_contexts_mutex.
        bool idle_locked(slot& held, std::int64_t& last_activity);
        table::iterator reclaimable_locked();
        /// Takes the context out of the table, remembering why for its note's next cell. Under m_contexts_mutex.
        std::unique_ptr<slot> reclaim_locked(table::iterator it, const std::string& why);

        /// Kernel-level magics that act on contexts rather than in one (`%note`, `%contexts`; `%reset_context` is
        /// left to the context): true when the request has been answered. (session/session_magics.cpp)
        bool serve_magic(const client_request& request, const request_identity& who, const magic_cell& cell);
        /// The requester's context's execution count so far (0 without a context): what a magic is numbered.
        int executions_of(const request_identity& who);

        /// The sweeper: with --cull-idle frees every context idle that long; the kind may end unnamed notes'
        /// contexts idle for its reclaim time (isolated: --reclaim-idle-workers).
        void sweep_idle_contexts();
        std::chrono::milliseconds sweep_period() const;
        void stop_sweeper();
        /// Starts the sweeper if it does not run (it frees disposed contexts even without culling).
        void ensure_sweeper();

        binding_config m_binding;
        key_resolver m_keys;
        client_port& m_port;
        std::unique_ptr<context_kind> p_kind;

        std::mutex m_contexts_mutex;
        table m_contexts;
        std::vector<std::unique_ptr<slot>> m_to_free; ///< disposed contexts the sweeper frees; under m_contexts_mutex
        /// Keys of the last 4096 reclaimed notes -> what their next cell is told.
        recent_map<std::string> m_reclaimed{4096};
        std::atomic<std::uint64_t> m_uses{0}; ///< numbers every claim and release (least recently used first)

        std::mutex m_sweeper_mutex;
        std::condition_variable m_sweeper_wake;
        bool m_sweeper_stop = false;
        std::thread m_sweeper; ///< frees idle contexts (see sweep_idle_contexts); joined in stop()
    };

    /// Who sent a request: header `session` and `username`, metadata `atrium_note`.
    request_identity identity_of(const nlohmann::json& header, const nlohmann::json& metadata);
}
