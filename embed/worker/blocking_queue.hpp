// SPDX-License-Identifier: MIT
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>

namespace atrium
{
    /// A FIFO one thread waits on while others push.
    template <class T>
    class blocking_queue
    {
    public:
        void push(T item)
        {
            {
                std::lock_guard<std::mutex> lock(m_mutex);
                m_items.push_back(std::move(item));
            }
            m_ready.notify_one();
        }

        T pop()
        {
            std::unique_lock<std::mutex> lock(m_mutex);
            m_ready.wait(lock, [this] { return !m_items.empty(); });
            T item = std::move(m_items.front());
            m_items.pop_front();
            return item;
        }

    private:
        std::mutex m_mutex;
        std::condition_variable m_ready;
        std::deque<T> m_items;
    };
}
