// SPDX-License-Identifier: MIT
#include "kernel/parent_watch.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

namespace atrium
{
    parent_watch::parent_watch()
    {
        pid_t parent = getppid();
        if (parent == 1)
        {
            return; // started by init or a daemon manager: no launcher to outlive
        }
        sigset_t blocked, previous;
        sigfillset(&blocked);
        pthread_sigmask(SIG_BLOCK, &blocked, &previous);
        m_thread = std::thread(
            [this, parent]
            {
                while (!m_stop.load())
                {
                    if (getppid() != parent)
                    {
                        std::fprintf(stderr, "[atrium] parent process %d exited; shutting down\n", parent);
                        std::fflush(stderr);
                        _exit(1);
                    }
                    std::this_thread::sleep_for(std::chrono::milliseconds(500));
                }
            });
        pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    }

    parent_watch::~parent_watch()
    {
        m_stop.store(true);
        if (m_thread.joinable())
        {
            m_thread.join();
        }
    }
}
