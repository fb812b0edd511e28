// SPDX-License-Identifier: MIT
#include "kernel/parent_watch.hpp"

#include "session/signal_free_thread.hpp"

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
        m_thread = start_signal_free_thread(
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
