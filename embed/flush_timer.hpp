// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace atrium
{
    class output_channel;

    /// Flushes output channels a short delay after text becomes pending, so `print` in a long loop shows up
    /// while the cell runs. One thread serves every channel of the process: a kernel with a thousand notes
    /// does not need a thousand timer threads.
    class flush_timer
    {
    public:
        static flush_timer& instance();

        explicit flush_timer(std::chrono::milliseconds delay);
        ~flush_timer();
        flush_timer(const flush_timer&) = delete;
        flush_timer& operator=(const flush_timer&) = delete;

        void arm(output_channel& channel);
        /// After this returns, the timer never touches `channel` again (a flush in progress has finished).
        void disarm(output_channel& channel);

    private:
        void run();

        std::chrono::milliseconds m_delay;
        std::mutex m_mutex; ///< held while flushing, so disarm waits for a flush of its channel
        std::condition_variable m_wake;
        std::set<output_channel*> m_armed;
        bool m_stop = false;
        std::thread m_thread; // owned here, joined in the destructor
    };
}
