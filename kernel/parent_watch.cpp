// SPDX-License-Identifier: MIT
#include "kernel/parent_watch.hpp"

#include "common/signal_free_thread.hpp"

#include <unistd.h>

#include <chrono>
#include <iostream>

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
                        // std::cerr, not fd 2: fd 2 is captured for cells, std::cerr is the kernel's log.
                        std::cerr << "[atrium] parent process " << parent << " exited; shutting down" << std::endl;
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
