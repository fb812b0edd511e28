// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

typedef struct _object PyObject; // as Python.h has it, which is not included here

namespace atrium
{
    /// Installs Atrium's SIGINT handler. Call after Python has started (Python installs its own first).
    /// While a cell runs, SIGINT raises KeyboardInterrupt in it (waking blocking calls such as
    /// time.sleep); while the kernel is idle, SIGINT is ignored so no stale interrupt hits the next cell.
    void install_interrupt_handler();

    /// Python's own handler for SIGINT (a new reference; what `signal.getsignal(SIGINT)` returns in a cell): it
    /// raises KeyboardInterrupt as Python's default does, except where it would do harm or be lost, and there the
    /// interrupt waits until the code has left, up to 1 s (then it is raised where the code is):
    /// - inside importlib's own frames: a KeyboardInterrupt raised between a lock's acquire and its `try` leaves
    ///   the import lock (or a module's lock) held for good, and every other thread's next import blocks forever
    ///   (CPython's importlib is not safe against asynchronous exceptions);
    /// - inside IPython's pre-cell event callbacks (`EventManager.trigger` of pre_execute and pre_run_cell, run
    ///   just before a cell's code), which catch KeyboardInterrupt and print it: the cell would run to its end.
    PyObject* new_python_interrupt_handler();

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

    /// An isolated worker's mode: SIGINT only wakes the main thread (a blocking call returns EINTR), and raises
    /// KeyboardInterrupt only for an interrupt requested with `interrupt_next_scope` or
    /// `interrupt_running_or_next`. The kernel asks its worker by message, never by a signal of its own: one
    /// request, one KeyboardInterrupt. (With the kernel's SIGINT beside the message, a cell could take both, the
    /// second landing in the handling of the first: IPython's traceback display, or the reply.)
    void raise_requested_interrupts_only();

    /// The next interruptible_scope starts interrupted (KeyboardInterrupt at its first bytecode): an interrupt
    /// that reached the process before the cell it was meant for began. An isolated worker's cells are
    /// pipelined, so the kernel shows a cell started (execute_input) a moment before the worker runs it.
    void interrupt_next_scope();
    /// From another thread, while a cell is between its start and its end: interrupts it once, whether or not
    /// its scope is armed yet (then it starts interrupted), by SIGINT to the main thread. Call it under the lock
    /// that guards which cell runs, which the main thread takes before starting the next: a signal still on its
    /// way then lands between cells, where it raises nothing. The caller clears what is left with
    /// `forget_next_scope_interrupt` once the cell has ended.
    void interrupt_running_or_next();
    void forget_next_scope_interrupt();

    /// True once SIGINT has hit the running cell (checked by waits that Python cannot interrupt).
    bool interrupt_pending();

    /// Waits on `changed` until `done()`; false when the running cell is interrupted first (SIGINT, or
    /// `stopped()`). SIGINT only sets a flag and cannot notify, so the wait wakes every 50 ms to look.
    template <class Done, class Stopped>
    bool wait_unless_interrupted(std::unique_lock<std::mutex>& lock, std::condition_variable& changed, Done done,
                                 Stopped stopped)
    {
        while (!done())
        {
            if (stopped() || interrupt_pending())
                return false;
            changed.wait_for(lock, std::chrono::milliseconds(50));
        }
        return true;
    }
}
