// SPDX-License-Identifier: MIT
#include "embed/flush_timer.hpp"

#include "embed/output_channel.hpp"
#include "common/signal_free_thread.hpp"


namespace atrium
{
    flush_timer& flush_timer::instance()
    {
        static flush_timer timer(std::chrono::milliseconds(10));
        return timer;
    }

    flush_timer::flush_timer(std::chrono::milliseconds delay)
        : m_delay(delay)
    {
        m_thread = start_signal_free_thread([this] { run(); });
    }

    flush_timer::~flush_timer()
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_stop = true;
        }
        m_wake.notify_one();
        m_thread.join();
    }

    void flush_timer::arm(output_channel& channel)
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_armed.insert(&channel);
        }
        m_wake.notify_one();
    }

    void flush_timer::disarm(output_channel& channel)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_armed.erase(&channel);
    }

    void flush_timer::run()
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        while (!m_stop)
        {
            m_wake.wait(lock, [&] { return m_stop || !m_armed.empty(); });
            if (m_stop)
                break;
            // Let more text accumulate for one delay, then send whatever is pending.
            m_wake.wait_for(lock, m_delay, [&] { return m_stop; });
            std::set<output_channel*> due;
            due.swap(m_armed);
            for (output_channel* channel : due)
                channel->flush();
        }
    }
}
