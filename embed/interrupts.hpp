// SPDX-License-Identifier: MIT
#pragma once

namespace atrium
{
    /// Installs Atrium's SIGINT handler. Call after Python has started (Python installs its own first).
    /// While a cell runs, SIGINT raises KeyboardInterrupt in it (waking blocking calls such as
    /// time.sleep); while the kernel is idle, SIGINT is ignored so no stale interrupt hits the next cell.
    void install_interrupt_handler();

    /// Marks the main thread as running user code for its lifetime. On any other thread (a scoped context's
    /// worker) it does nothing: Python runs signal handlers on the main thread only, so SIGINT cannot reach
    /// those cells, and arming it would raise KeyboardInterrupt in whatever the main thread runs next.
    class interruptible_scope
    {
    public:
        interruptible_scope();
        ~interruptible_scope(); ///< Discards an interrupt that arrived too late to matter. Needs the GIL.
        interruptible_scope(const interruptible_scope&) = delete;
        interruptible_scope& operator=(const interruptible_scope&) = delete;

    private:
        bool m_armed;
    };

    /// True once SIGINT has hit the running cell (checked by waits that Python cannot interrupt).
    bool interrupt_pending();
}
