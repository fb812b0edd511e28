// SPDX-License-Identifier: MIT
#pragma once

#include "kernel/kernel_options.hpp"
#include "session/binding.hpp"
#include "session/context_key.hpp"
#include "session/recent_map.hpp"

#include <xeus/xinterpreter.hpp>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace atrium
{
    class xeus_comm_bridge;
    class context_scheduler;
    class python_runtime;
    class remote_comms;
    struct isolated_environment;
    class cell_lane;
    class worker_pool;
    class zmq_server;
    struct context_state;
    struct magic_cell;

    /// The session manager on xeus's interpreter interface. Every request that belongs to a context is
    /// resolved from its header to a note or user key and served by that key's context: in `shared` mode one
    /// context on the main thread; in `scoped` mode one namespace per key, each running on a worker of its
    /// own so that contexts run side by side; in `isolated` mode one worker process per key, each with a relay
    /// thread in the kernel. Everything else (kernel_info, in-process comms) goes through xeus's core.
    class python_interpreter final : public xeus::xinterpreter
    {
    public:
        python_interpreter(binding_config binding, worker_settings workers);
        ~python_interpreter() override;

        /// Connects the session manager to the server: requests, stdin answers and interrupts.
        void attach_server(zmq_server& server);

        /// Runs Python's exit hooks; called once the server has stopped.
        void finish();

    private:
        bool route_request(xeus::xmessage& request, std::uint64_t sequence);
        bool route_stdin(const xeus::xmessage& message);
        bool route_control(const xeus::xmessage& message);
        void interrupt(const xeus::xmessage& request);
        /// Ends the context's pending input() and raises KeyboardInterrupt in its running cell.
        void interrupt_context(context_state& state);

        void serve_execute(std::shared_ptr<xeus::xmessage> request, std::uint64_t sequence);
        /// Runs the cell; returns how to answer it, which touches only the request (the context may be gone by then).
        std::function<void()> run_execute(context_state& state, const xeus::xmessage& request, std::uint64_t sequence);
        /// run_execute, releases the context, then answers; a failure still gets a reply and still releases.
        void execute_in(context_state& state, const xeus::xmessage& request, std::uint64_t sequence);
        void serve_quick(xeus::xmessage& request);
        /// Isolated mode: the client's comm messages go to the worker that owns the comm or its target.
        void serve_remote_comm(const xeus::xmessage& request);
        /// A comm_open for a target nobody registered: closed at once, as ipykernel does.
        void refuse_comm_open(const xeus::xmessage& request);
        /// Kernel-level magics that act on contexts rather than in one (`%note`, `%contexts`; `%reset_context`
        /// is left to the context): true when the request has been answered.
        bool serve_magic(const xeus::xmessage& request, const request_identity& who, const magic_cell& cell);
        /// The requester's context's execution count so far (0 without a context): what a magic is numbered.
        int executions_of(const request_identity& who);

        request_identity identity_of(const xeus::xmessage& request) const;
        /// The key's context, created on first use, held (not culled or reclaimed) until `release`. At the cap
        /// on contexts, the least recently used idle unnamed note is reclaimed to make room; throws
        /// `[session.too_many_contexts]` when none can be.
        context_state& claim(const resolved_key& resolved);
        void release(context_state& state);
        /// Contexts this kernel keeps at most: --max-contexts, and in isolated mode also --max-workers.
        std::size_t context_cap() const;
        /// Under m_contexts_mutex: the least recently used context that may be reclaimed (unnamed, idle, held by
        /// no request), or end().
        std::map<std::string, std::unique_ptr<context_state>>::iterator reclaimable_locked();
        /// Under m_contexts_mutex: takes the context out of the table, remembering why for its note's next cell.
        std::unique_ptr<context_state> reclaim_locked(std::map<std::string, std::unique_ptr<context_state>>::iterator it,
                                                      const std::string& why);
        bool idle_locked(context_state& state, std::int64_t& last_activity);
        /// A fresh namespace, count and history for one context; runs in that context's own order.
        void reset(context_state& state);
        void start_worker_pool();
        /// The sweeper: with --cull-idle frees every context idle that long; in isolated mode ends the workers of
        /// unnamed notes idle for --reclaim-idle-workers.
        void sweep_idle_contexts();
        std::chrono::milliseconds sweep_period() const;
        void stop_sweeper();
        std::string describe_contexts(const request_identity& who);

        void configure_impl() override;
        nl::json execute_request_impl(int execution_counter, const std::string& code, bool silent, bool store_history,
                                      nl::json user_expressions, bool allow_stdin) override;
        nl::json complete_request_impl(const std::string& code, int cursor_pos) override;
        nl::json inspect_request_impl(const std::string& code, int cursor_pos, int detail_level) override;
        nl::json is_complete_request_impl(const std::string& code) override;
        nl::json kernel_info_request_impl() override;
        void shutdown_request_impl() override;

        binding_config m_binding;
        worker_settings m_worker_settings;
        key_resolver m_keys;
        zmq_server* p_server = nullptr;
        std::unique_ptr<python_runtime> p_runtime;
        std::unique_ptr<xeus_comm_bridge> p_comms;
        std::unique_ptr<context_scheduler> p_scheduler; ///< scoped mode: one worker per busy context
        std::unique_ptr<cell_lane> p_lane;              ///< isolated mode: the main thread's channel to workers
        std::unique_ptr<worker_pool> p_workers;         ///< isolated mode: starts worker processes, keeps some warm
        std::unique_ptr<remote_comms> p_remote_comms;   ///< isolated mode: which worker owns which comm
        std::unique_ptr<isolated_environment> p_isolated; ///< isolated mode: what its contexts share
        nl::json m_kernel_info;

        std::mutex m_contexts_mutex;
        std::map<std::string, std::unique_ptr<context_state>> m_contexts;
        /// Keys of the last 4096 reclaimed notes -> what their next cell is told.
        recent_map<std::string> m_reclaimed{4096};
        std::atomic<std::uint64_t> m_uses{0}; ///< numbers every claim and release (least recently used first)

        std::mutex m_sweeper_mutex;
        std::condition_variable m_sweeper_wake;
        bool m_sweeper_stop = false;
        std::thread m_sweeper; ///< frees idle contexts (see sweep_idle_contexts); joined in finish()
    };
}
