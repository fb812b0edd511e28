// SPDX-License-Identifier: MIT
#include "embed/interrupts.hpp"

#include <Python.h>

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <string>
#include <string_view>

namespace atrium
{
    namespace
    {
        // Lock-free atomics (async-signal-safe), sequentially consistent: a scope starting on the main thread
        // (stores g_running, then loads g_interrupt_next) and the link thread interrupting it (stores
        // g_interrupt_next, then loads g_running) must not both read the old value. With plain volatile flags
        // the CPU may let each load pass the other thread's store (x86 store buffers) and the interrupt is lost:
        // the cell runs to its end (seen about once in 600 interrupted cells on a loaded machine).
        std::atomic<int> g_running{0};
        std::atomic<int> g_pending{0};
        std::atomic<int> g_interrupt_next{0}; ///< a requested interrupt not raised yet
        std::atomic<int> g_requested_only{0}; ///< raise_requested_interrupts_only()
        static_assert(std::atomic<int>::is_always_lock_free, "a signal handler uses these");

        /// The running scope takes the requested interrupt, if no one took it yet: KeyboardInterrupt at the next
        /// bytecode. Whoever exchanges the request away raises it, so it is raised once.
        void raise_interrupt_meant_for_next()
        {
            if (g_interrupt_next.exchange(0) == 0)
                return;
            g_pending = 1;
            PyErr_SetInterruptEx(SIGINT);
        }

        pthread_t g_main_thread; ///< the thread that installed the handler: Python's main thread

        constexpr auto longest_deferral = std::chrono::seconds(1);
        /// When the interrupt now waiting for importlib to finish was first deferred (steady clock; 0: none).
        /// Read and written by the Python handler only, under the GIL.
        std::chrono::steady_clock::rep g_deferred_since = 0;

        /// The code object's `attribute` (co_filename, co_name) as UTF-8; empty when it has none.
        std::string code_text(PyFrameObject* frame, const char* attribute)
        {
            PyCodeObject* code = PyFrame_GetCode(frame);
            PyObject* value = PyObject_GetAttrString(reinterpret_cast<PyObject*>(code), attribute);
            Py_DECREF(code);
            const char* text = value != nullptr && PyUnicode_Check(value) ? PyUnicode_AsUTF8(value) : nullptr;
            std::string result = text != nullptr ? text : "";
            if (text == nullptr)
                PyErr_Clear();
            Py_XDECREF(value);
            return result;
        }

        /// True for a frame of `<frozen importlib._bootstrap>` or `<frozen importlib._bootstrap_external>`.
        bool in_import_machinery(PyObject* frame)
        {
            if (frame == nullptr || !PyFrame_Check(frame))
                return false;
            return code_text(reinterpret_cast<PyFrameObject*>(frame), "co_filename").rfind("<frozen importlib.", 0) == 0;
        }

        /// True when the frame runs under IPython's EventManager.trigger (an event callback, at any depth).
        bool in_event_callbacks(PyObject* frame)
        {
            if (frame == nullptr || !PyFrame_Check(frame))
                return false;
            constexpr std::string_view events_module = "/IPython/core/events.py";
            PyFrameObject* at = reinterpret_cast<PyFrameObject*>(frame);
            Py_INCREF(at);
            bool inside = false;
            for (int depth = 0; at != nullptr && depth < 64 && !inside; ++depth)
            {
                const std::string filename = code_text(at, "co_filename");
                inside = filename.size() >= events_module.size() &&
                         filename.compare(filename.size() - events_module.size(), events_module.size(),
                                          events_module) == 0 &&
                         code_text(at, "co_name") == "trigger";
                PyFrameObject* back = PyFrame_GetBack(at); // a new reference, or null
                Py_DECREF(at);
                at = back;
            }
            Py_XDECREF(at);
            return inside;
        }

        /// handler(signum, frame), as Python calls a signal handler (new_python_interrupt_handler).
        PyObject* on_python_sigint(PyObject*, PyObject* const* args, Py_ssize_t count)
        {
            const auto now = std::chrono::steady_clock::now().time_since_epoch();
            if (count >= 2 && (in_import_machinery(args[1]) || in_event_callbacks(args[1])))
            {
                if (g_deferred_since == 0)
                    g_deferred_since = now.count();
                const auto deferred = now - std::chrono::steady_clock::duration(g_deferred_since);
                if (deferred < longest_deferral)
                {
                    // Tripped again: Python calls this handler at its next check, until the code is out of there.
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
                                        "Raises KeyboardInterrupt, once the running code is out of importlib and IPython's event callbacks."};

        void on_sigint(int)
        {
            // Async-signal-safe work only: lock-free atomics and CPython's documented signal-safe entry point.
            if (!g_running)
                return;
            if (g_requested_only)
            {
                raise_interrupt_meant_for_next(); // the wake-up of a request (taken already, or now)
                return;
            }
            g_pending = 1;
            PyErr_SetInterruptEx(SIGINT);
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

    void raise_requested_interrupts_only()
    {
        g_requested_only = 1;
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
        raise_interrupt_meant_for_next(); // one requested before the scope began
    }

    void interrupt_next_scope()
    {
        g_interrupt_next = 1;
    }

    void interrupt_running_or_next()
    {
        // Raised on the main thread, by the signal's handler when the scope is armed, else by the scope's start:
        // Python notices an interrupt raised from another thread only at its next system call or thread switch
        // (not in a busy loop), and the signal also wakes a blocking call (time.sleep, a socket) with EINTR.
        g_interrupt_next = 1;
        // To the process's first thread, whose id is the pid: not pthread_kill(g_main_thread), whose id a worker
        // forked by a raw clone (the template's CLONE_PARENT) still holds from the template.
        syscall(SYS_tgkill, getpid(), getpid(), SIGINT);
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
