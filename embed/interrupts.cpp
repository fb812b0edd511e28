// SPDX-License-Identifier: MIT
#include "embed/interrupts.hpp"

#include <Python.h>

#include <pthread.h>

#include <chrono>
#include <csignal>
#include <string_view>

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

        constexpr auto longest_deferral = std::chrono::seconds(1);
        /// When the interrupt now waiting for importlib to finish was first deferred (steady clock; 0: none).
        /// Read and written by the Python handler only, under the GIL.
        std::chrono::steady_clock::rep g_deferred_since = 0;

        /// True for a frame of `<frozen importlib._bootstrap>` or `<frozen importlib._bootstrap_external>`.
        bool in_import_machinery(PyObject* frame)
        {
            if (frame == nullptr || !PyFrame_Check(frame))
                return false;
            PyCodeObject* code = PyFrame_GetCode(reinterpret_cast<PyFrameObject*>(frame));
            PyObject* filename = PyObject_GetAttrString(reinterpret_cast<PyObject*>(code), "co_filename");
            Py_DECREF(code);
            if (filename == nullptr)
            {
                PyErr_Clear();
                return false;
            }
            const char* text = PyUnicode_Check(filename) ? PyUnicode_AsUTF8(filename) : nullptr;
            const bool inside = text != nullptr && std::string_view(text).rfind("<frozen importlib.", 0) == 0;
            if (text == nullptr)
                PyErr_Clear();
            Py_DECREF(filename);
            return inside;
        }

        /// handler(signum, frame), as Python calls a signal handler (new_python_interrupt_handler).
        PyObject* on_python_sigint(PyObject*, PyObject* const* args, Py_ssize_t count)
        {
            const auto now = std::chrono::steady_clock::now().time_since_epoch();
            if (count >= 2 && in_import_machinery(args[1]))
            {
                if (g_deferred_since == 0)
                    g_deferred_since = now.count();
                const auto deferred = now - std::chrono::steady_clock::duration(g_deferred_since);
                if (deferred < longest_deferral)
                {
                    // Tripped again: Python calls this handler at its next check, until the code is out of importlib.
                    PyErr_SetInterruptEx(SIGINT);
                    Py_RETURN_NONE;
                }
            }
            g_deferred_since = 0;
            PyErr_SetNone(PyExc_KeyboardInterrupt);
            return nullptr;
        }

        PyMethodDef g_python_handler = {"atrium_interrupt_handler",
                                        reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(on_python_sigint)),
                                        METH_FASTCALL,
                                        "Raises KeyboardInterrupt, once the running code is out of importlib."};

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

    PyObject* new_python_interrupt_handler()
    {
        return PyCFunction_New(&g_python_handler, nullptr);
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
