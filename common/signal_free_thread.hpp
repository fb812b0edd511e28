// SPDX-License-Identifier: MIT
#pragma once

#include <pthread.h>
#include <signal.h>

#include <thread>
#include <utility>

namespace atrium
{
    /// Starts a thread that never receives signals: SIGINT is meant for the main thread, where it interrupts
    /// the running cell. The mask is set before the thread exists (threads inherit their creator's mask), so
    /// there is no moment in which a process-wide signal could land in the new thread; the caller's own mask
    /// is restored before this returns.
    template <class F>
    std::thread start_signal_free_thread(F&& body)
    {
        sigset_t blocked, previous;
        sigfillset(&blocked);
        pthread_sigmask(SIG_BLOCK, &blocked, &previous);
        std::thread thread(std::forward<F>(body));
        pthread_sigmask(SIG_SETMASK, &previous, nullptr);
        return thread;
    }
}
