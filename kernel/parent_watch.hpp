// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <thread>

namespace atrium
{
    /// Ends the kernel when the process that launched it dies (its parent becomes another process, such
    /// as init): a client that crashed or was killed must not leave a kernel running forever.
    class parent_watch
    {
    public:
        parent_watch();
        ~parent_watch();
        parent_watch(const parent_watch&) = delete;
        parent_watch& operator=(const parent_watch&) = delete;

    private:
        std::atomic<bool> m_stop{false};
        std::thread m_thread; // owned here, joined in the destructor
    };
}
