// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>

namespace atrium
{
    /// stop_on_error for one queue of requests: after a failed cell, exactly the requests that reached the kernel
    /// before the failure's reply left it are aborted, never one the client sent after seeing that reply.
    ///
    /// Requests are numbered on arrival. The line is only known once the reply is on the wire (the server
    /// reports the newest arrival number read before it), but the queue may move on before that: from `hold()`
    /// until `settle()` every request is aborted, which is right because each was routed before the reply was
    /// written and so arrived before it. Any thread; `hold` and `settle` of one failure come in that order.
    class abort_line
    {
    public:
        /// A failed cell's reply is on its way to the client.
        void hold() noexcept
        {
            m_through.store(std::numeric_limits<std::uint64_t>::max());
        }

        /// That reply was written after requests up to `arrived_before` had arrived.
        void settle(std::uint64_t arrived_before) noexcept
        {
            m_through.store(arrived_before);
        }

        /// True for a request (by arrival number) that must be answered `aborted` rather than run.
        bool aborts(std::uint64_t sequence) const noexcept
        {
            return sequence <= m_through.load();
        }

    private:
        std::atomic<std::uint64_t> m_through{0};
    };
}
