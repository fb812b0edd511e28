// SPDX-License-Identifier: MIT
#pragma once

#include "session/context.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace atrium
{
    class remote_comms;

    /// What the contexts of one kind share and how the session manager treats them: chosen once, from the
    /// binding, by make_context_kind (session/session_manager.cpp). In-process kinds (shared, scoped) are
    /// session/inprocess_context.hpp; the isolated kind is session/isolated_kind.hpp.
    class context_kind
    {
    public:
        virtual ~context_kind() = default;

        /// A new context for `key`. Main thread, under the session manager's table lock.
        virtual std::unique_ptr<context> make_context(const std::string& key) = 0;
        /// Contexts a kernel keeps at most.
        virtual std::size_t cap() const = 0;
        /// The flags that set cap(), for the `[session.too_many_contexts]` message.
        virtual std::string cap_flags() const = 0;
        /// An unnamed context idle this long ends (its worker with it); 0: only at the cap.
        virtual std::int64_t reclaim_idle_ms() const = 0;
        /// Where clients' comm messages go when comms live in the contexts' own processes; nullptr when they
        /// live in the kernel's (xeus's comm registry, served by kernel/).
        virtual remote_comms* comms() = 0;
        /// Lines %contexts shows before its table (the compute context, the warm pool), and the heading of its
        /// extra columns.
        virtual std::string describe_lines() const = 0;
        virtual std::string extra_heading() const = 0;
        /// The extra columns of one context's row.
        virtual std::string extra_columns(const context::snapshot& snapshot) const = 0;
        /// At shutdown: contexts holding processes are ended before Python's exit hooks run.
        virtual bool ends_contexts_at_shutdown() const = 0;
        /// At shutdown, after the contexts the kind ends: its threads and processes stop.
        virtual void shutdown() = 0;
    };
}
