// SPDX-License-Identifier: MIT
#pragma once

#include "common/history_store.hpp"
#include "session/abort_line.hpp"
#include "session/context.hpp"
#include "session/context_kind.hpp"
#include "session/context_sink.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

namespace atrium
{
    class client_port;
    class context_scheduler;
    class execution_context;

    /// A context in the kernel process: a Python namespace of its own (embed/execution_context.hpp).
    ///
    /// Shared and scoped differ only in scheduling: without a scheduler (shared) cells run on the main thread,
    /// as the process's `__main__`, and stop_on_error and exit() act on the whole kernel; with one (scoped) each
    /// context's cells run in their own order on the scheduler's threads, side by side with other contexts, and
    /// stop_on_error and exit() act on this context only.
    class inprocess_context final : public context
    {
    public:
        inprocess_context(std::string key, client_port& port, context_scheduler* scheduler, bool per_user);
        ~inprocess_context() override;

    private:
        void execute_impl(client_request_ptr request, std::uint64_t sequence, bool reset_magic,
                          release_fn release) override;
        void quick_impl(client_request_ptr request, release_fn release) override;
        void comm_impl(const std::string& msg_type, nlohmann::json forwarded, nlohmann::json parent_header) override;
        int input_match_impl(const std::string& parent_msg_id, const std::string& session) override;
        void answer_input_impl(const std::string& value) override;
        void interrupt_impl() override;
        void reset_impl() override;
        void tell_next_cell_impl(std::string notice) override;
        bool ended_impl() const override;
        bool idle_impl(std::int64_t& last_activity) override;
        bool running_impl() override;
        int executions_impl() override;
        snapshot describe_impl(int claims) override;
        void detach_impl() override;
        void flush_impl() override;

        /// run_execute, releases the context, then answers; a failure still gets a reply and still releases.
        void execute_in(const client_request_ptr& request, std::uint64_t sequence, const release_fn& release);
        /// Runs the cell; returns how to answer it, which touches only the request and the port (the context may
        /// be gone by then).
        std::function<void()> run_execute(const client_request_ptr& request, std::uint64_t sequence);
        /// A fresh namespace, count and history; runs in this context's own order.
        void reset_namespace();

        const std::string m_key;
        client_port& m_port;
        context_scheduler* const p_scheduler; ///< null: shared, cells on the main thread
        const bool m_per_user;
        /// Told on stderr at the start of the next cell. Cell thread only (set before the first cell).
        std::string m_notice;
        context_sink m_sink;
        /// Held while `p_context` is replaced (a reset, on the cell's thread) and while another thread uses it
        /// (quick requests on the main thread, interrupts on the I/O thread); taken before the GIL, never after.
        /// Without it a complete_request racing a reset used a destroyed context (SIGSEGV, test/fuzz/live_fuzz.py).
        std::mutex m_context_mutex;
        std::unique_ptr<execution_context> p_context;
        history_store m_history;
        /// stop_on_error of this context's queue (scoped; shared aborts the server's one queue). Shared with the
        /// settle hook of a failed cell's reply, which may run after the context is gone.
        const std::shared_ptr<abort_line> m_aborts = std::make_shared<abort_line>();
        std::atomic<bool> m_running{false};
        std::atomic<bool> m_reset_requested{false}; ///< by a control message: done before its next cell
        /// Ended by exit() and not used since.
        std::atomic<bool> m_ended{false};
    };

    /// Shared (one context, the process's `__main__`, cells on the main thread; `scheduler` null) or scoped
    /// (a context per key, each on the scheduler's threads).
    class inprocess_kind final : public context_kind
    {
    public:
        inprocess_kind(client_port& port, bool scoped, std::size_t max_contexts, bool per_user);
        ~inprocess_kind() override;

        std::unique_ptr<context> make_context(const std::string& key) override;
        std::size_t cap() const override;
        std::string cap_flags() const override;
        std::int64_t reclaim_idle_ms() const override;
        remote_comms* comms() override;
        std::string describe_lines() const override;
        std::string extra_heading() const override;
        std::string extra_columns(const context::snapshot& snapshot) const override;
        bool ends_contexts_at_shutdown() const override;
        void shutdown() override;

    private:
        client_port& m_port;
        std::unique_ptr<context_scheduler> p_scheduler; ///< scoped: one worker thread per busy context
        std::size_t m_max_contexts;
        bool m_per_user;
    };

    /// The key of the context whose cell runs on this thread, or empty: comms a cell creates belong to it.
    const std::string& running_context_key();
}
