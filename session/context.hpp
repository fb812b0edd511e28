// SPDX-License-Identifier: MIT
#pragma once

#include "session/client_request.hpp"

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

namespace atrium
{
    /// One note's (or user's) interpreter context, whatever its kind: in-process (session/inprocess_context.hpp,
    /// shared and scoped) or a worker process (session/isolated_context.hpp). The session manager owns every
    /// context and asks it only through this interface; a new kind of context is one new class.
    ///
    /// Threads: execute, quick and comm come from the main thread; interrupt and reset from the I/O thread;
    /// the rest from any thread. A context answers its requests itself (through the client_port it was made with).
    class context
    {
    public:
        /// Hands the session manager's claim back (session_manager::release): from then on the context may be
        /// culled or reclaimed, so whoever calls it touches only the request afterwards.
        using release_fn = std::function<void()>;

        /// What %contexts shows of one context.
        struct snapshot
        {
            bool running = false;
            int queued = 0;
            int executions = 0;
            pid_t pid = 0;                     ///< its worker process; 0 in-process or without a worker
            std::uint64_t resident_bytes = 0;  ///< of that worker
        };

        virtual ~context() = default;
        context(const context&) = delete;
        context& operator=(const context&) = delete;

        /// Runs or queues an execute_request in this context's order; `reset_magic` marks `%reset_context`, done
        /// in that order too. Calls `release` exactly once, before the reply when it runs here.
        void execute(client_request_ptr request, std::uint64_t sequence, bool reset_magic, release_fn release)
        {
            execute_impl(std::move(request), sequence, reset_magic, std::move(release));
        }
        /// complete, inspect, is_complete and history requests, answered (busy, reply, idle) from this context.
        /// Calls `release` exactly once.
        void quick(client_request_ptr request, release_fn release)
        {
            quick_impl(std::move(request), std::move(release));
        }
        /// A client's comm_open / comm_msg / comm_close for a comm this context owns, when comms live in the
        /// context (isolated); its idle status is published once handled (busy was published by the caller).
        void comm(const std::string& msg_type, nlohmann::json forwarded, nlohmann::json parent_header)
        {
            comm_impl(msg_type, std::move(forwarded), std::move(parent_header));
        }
        /// How well an input_reply fits this context's pending prompt (pending_prompt::match); 0 for none.
        int input_match(const std::string& parent_msg_id, const std::string& session)
        {
            return input_match_impl(parent_msg_id, session);
        }
        void answer_input(const std::string& value)
        {
            answer_input_impl(value);
        }
        /// KeyboardInterrupt in the running cell, also inside blocking calls; ends a pending input(). Any thread.
        void interrupt()
        {
            interrupt_impl();
        }
        /// A control request's reset: the running cell ends and the next one runs in a fresh context. Any thread.
        void reset()
        {
            reset_impl();
        }
        /// `notice` (a line on stderr) opens this context's next cell: why its earlier state is gone. Any thread.
        void tell_next_cell(std::string notice)
        {
            tell_next_cell_impl(std::move(notice));
        }
        /// Ended by exit() and not used since: it holds nothing any more, so it may be reclaimed even when named.
        bool ended() const
        {
            return ended_impl();
        }
        /// True when no cell runs or waits here; moves `last_activity` (steady clock, ms) to the context's own
        /// latest activity when that is later. Called under the session manager's table lock.
        bool idle(std::int64_t& last_activity)
        {
            return idle_impl(last_activity);
        }
        /// A cell runs (or, in a worker, waits to): what an interrupt from a server reaches.
        bool running()
        {
            return running_impl();
        }
        /// Cells run so far (what a magic answered by the session manager is numbered).
        int executions()
        {
            return executions_impl();
        }
        /// `claims`: requests the session manager has handed this context and not had back.
        snapshot describe(int claims)
        {
            return describe_impl(claims);
        }
        /// Taken out of the session manager's table (under its lock); destroyed later, outside it.
        void detach()
        {
            detach_impl();
        }
        /// At shutdown, after Python's exit hooks: buffered output reaches the clients.
        void flush()
        {
            flush_impl();
        }

    protected:
        context() = default;

    private:
        virtual void execute_impl(client_request_ptr request, std::uint64_t sequence, bool reset_magic,
                                  release_fn release) = 0;
        virtual void quick_impl(client_request_ptr request, release_fn release) = 0;
        virtual void comm_impl(const std::string& msg_type, nlohmann::json forwarded, nlohmann::json parent_header) = 0;
        virtual int input_match_impl(const std::string& parent_msg_id, const std::string& session) = 0;
        virtual void answer_input_impl(const std::string& value) = 0;
        virtual void interrupt_impl() = 0;
        virtual void reset_impl() = 0;
        virtual void tell_next_cell_impl(std::string notice) = 0;
        virtual bool ended_impl() const = 0;
        virtual bool idle_impl(std::int64_t& last_activity) = 0;
        virtual bool running_impl() = 0;
        virtual int executions_impl() = 0;
        virtual snapshot describe_impl(int claims) = 0;
        virtual void detach_impl() {}
        virtual void flush_impl() {}
    };
}
