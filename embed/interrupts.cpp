// SPDX-License-Identifier: MIT
#include "embed/interrupts.hpp"

#include <Python.h>

#include <pthread.h>

#include <csignal>

namespace atrium
{
    namespace
    {
        volatile std::sig_atomic_t g_running = 0;
        volatile std::sig_atomic_t g_pending = 0;
        volatile std::sig_atomic_t g_interrupt_next = 0; ///< interrupt_next_scope()

        /// The running scope takes the interrupt that waited for a scope: KeyboardInterrupt at the next bytecode.
        void raise_interrupt_meant_for_next()
        {
            g_interrupt_next = 0;
            g_pending = 1;
            PyErr_SetInterruptEx(SIGINT);
        }

        pthread_t g_main_thread; ///< the thread that installed the handler: Python's main thread

        void on_sigint(int)
        {
            // Async-signal-safe work only: two flags and CPython's documented signal-safe entry point.
            if (g_running)
            {
                g_pending = 1;
                PyErr_SetInterruptEx(SIGINT);
            }
        }
    }

    void install_interrupt_handler()
    {
        g_main_thread = pthread_self();
        struct sigaction action = {};
        action.sa_handler = on_sigint;
        sigemptyset(&action.sa_mask);
        action.sa_flags = 0; // no SA_RESTART: a sleeping cell must wake with EINTR
        sigaction(SIGINT, &action, nullptr);
        // A blocked SIGINT is inherited through exec as well: unblock it here, on the thread it is meant for.
        sigset_t interrupt_only;
        sigemptyset(&interrupt_only);
        sigaddset(&interrupt_only, SIGINT);
        pthread_sigmask(SIG_UNBLOCK, &interrupt_only, nullptr);
    }

    interruptible_scope::interruptible_scope()
        : m_armed(pthread_equal(pthread_self(), g_main_thread) != 0)
    {
        if (!m_armed)
            return;
        g_pending = 0;
        g_running = 1;
        if (g_interrupt_next)
            raise_interrupt_meant_for_next();
    }

    void interrupt_next_scope()
    {
        g_interrupt_next = 1;
    }

    void interrupt_running_or_next()
    {
        // Both: whichever of the armed scope (now) or the scope to come (at its start) takes it.
        g_interrupt_next = 1;
        if (g_running)
            raise_interrupt_meant_for_next();
    }

    void forget_next_scope_interrupt()
    {
        g_interrupt_next = 0;
    }

    interruptible_scope::~interruptible_scope()
    {
        if (!m_armed)
            return;
        g_running = 0;
        if (g_pending)
        {
            // Runs the tripped handler now and drops its KeyboardInterrupt: the cell is already over.
            PyObject *type, *value, *traceback;
            PyErr_Fetch(&type, &value, &traceback);
            if (PyErr_CheckSignals() != 0)
                PyErr_Clear();
            PyErr_Restore(type, value, traceback);
            g_pending = 0;
        }
    }

    bool interrupt_pending()
    {
        return g_pending != 0;
    }
}
