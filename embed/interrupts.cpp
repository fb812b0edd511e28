// SPDX-License-Identifier: MIT
#include "embed/interrupts.hpp"

#include <Python.h>

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <string>
#include <string_view>

namespace atrium
{
    namespace
    {
        // Lock-free atomics: async-signal-safe, and shared by the main thread, its signal handler and the thread
        // that requests an interrupt (a request is taken, and raised, by exactly one exchange).
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

        /// The UTF-8 text of a str (borrowed from it), or an empty view; never leaves an exception set.
        std::string_view text_of(PyObject* value)
        {
            Py_ssize_t size = 0;
            const char* text =
                value != nullptr && PyUnicode_Check(value) ? PyUnicode_AsUTF8AndSize(value, &size) : nullptr;
            if (text == nullptr)
            {
                PyErr_Clear();
                return {};
            }
            return {text, static_cast<std::size_t>(size)};
        }

        /// True for a frame of `<frozen importlib._bootstrap>` or `<frozen importlib._bootstrap_external>`.
        bool in_import_machinery(PyObject* frame)
        {
            if (frame == nullptr || !PyFrame_Check(frame))
                return false;
            PyCodeObject* code = PyFrame_GetCode(reinterpret_cast<PyFrameObject*>(frame));
            const bool inside = text_of(code->co_filename).rfind("<frozen importlib.", 0) == 0;
            Py_DECREF(code);
            return inside;
        }

        /// True for IPython's EventManager.trigger running a `pre_*` event (pre_execute, pre_run_cell: just before
        /// a cell's code). Not the post_* ones: the cell has run by then, and an interrupt is for the next one.
        bool is_pre_event_trigger(PyFrameObject* frame)
        {
            constexpr std::string_view events_module = "/IPython/core/events.py";
            PyCodeObject* code = PyFrame_GetCode(frame);
            const std::string_view name = text_of(code->co_name);
            const std::string_view filename = name == "trigger" ? text_of(code->co_filename) : std::string_view();
            Py_DECREF(code);
            if (filename.size() < events_module.size() ||
                filename.substr(filename.size() - events_module.size()) != events_module)
                return false;
            PyObject* locals = PyFrame_GetLocals(frame);
            PyObject* event =
                locals != nullptr && PyDict_Check(locals) ? PyDict_GetItemString(locals, "event") : nullptr;
            const bool pre = text_of(event).rfind("pre_", 0) == 0;
            Py_XDECREF(locals);
            PyErr_Clear();
            return pre;
        }

        /// True when the frame runs under IPython's trigger of a pre_* event (an event callback, at any depth).
        bool in_pre_event_callbacks(PyObject* frame)
        {
            if (frame == nullptr || !PyFrame_Check(frame))
                return false;
            PyFrameObject* at = reinterpret_cast<PyFrameObject*>(frame);
            Py_INCREF(at);
            bool inside = false;
            for (int depth = 0; at != nullptr && depth < 256 && !inside; ++depth)
            {
                inside = is_pre_event_trigger(at);
                PyFrameObject* back = PyFrame_GetBack(at); // a new reference, or null (perhaps with an error set)
                Py_DECREF(at);
                at = back;
            }
            Py_XDECREF(at);
            PyErr_Clear(); // the handler must return None with no exception set
            return inside;
        }

        /// handler(signum, frame), as Python calls a signal handler (new_python_interrupt_handler).
        PyObject* on_python_sigint(PyObject*, PyObject* const* args, Py_ssize_t count)
        {
            const auto now = std::chrono::steady_clock::now().time_since_epoch();
            if (count >= 2 && (in_import_machinery(args[1]) || in_pre_event_callbacks(args[1])))
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
                                        "Raises KeyboardInterrupt, once the running code is out of importlib and "
                                        "IPython's pre-cell callbacks."};

        void on_sigint(int)
        {
            // Async-signal-safe work only: lock-free atomics and CPython's documented signal-safe entry point.
            const int saved_errno = errno; // PyErr_SetInterruptEx may write to a wakeup fd
            if (g_running && g_requested_only)
            {
                // The wake-up of a request, on the main thread only: Python notices an interrupt raised on another
                // thread (a process-wide SIGINT may land on a thread a cell started) only later.
                if (syscall(SYS_gettid) == getpid())
                    raise_interrupt_meant_for_next();
            }
            else if (g_running)
            {
                g_pending = 1;
                PyErr_SetInterruptEx(SIGINT);
            }
            errno = saved_errno;
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
