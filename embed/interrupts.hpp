// SPDX-License-Identifier: MIT
#pragma once

namespace atrium
{
    /// Installs Atrium's SIGINT handler. Call after Python has started (Python installs its own first).
    /// While a cell runs, SIGINT raises KeyboardInterrupt in it (waking blocking calls such as
    /// time.sleep); while the kernel is idle, SIGINT is ignored so no stale interrupt hits the next cell.
    void install_interrupt_handler();

    /// Marks the calling (main) thread as running user code for its lifetime.
    class interruptible_scope
    {
    public:
        interruptible_scope();
        ~interruptible_scope(); ///< Discards an interrupt that arrived too late to matter. Needs the GIL.
        interruptible_scope(const interruptible_scope&) = delete;
        interruptible_scope& operator=(const interruptible_scope&) = delete;
    };

    /// True once SIGINT has hit the running cell (checked by waits that Python cannot interrupt).
    bool interrupt_pending();
}
