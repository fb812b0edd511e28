// SPDX-License-Identifier: MIT
#include "session/idle_tracker.hpp"

namespace atrium
{
    void idle_tracker::touch(const std::string& key, clock::time_point now)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto& entry = m_activity[key];
        // Touches from several threads may arrive out of order; the newest one wins.
        if (!entry.last || *entry.last < now)
        {
            entry.last = now;
        }
    }

    void idle_tracker::busy(const std::string& key, bool is_busy)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_activity[key].busy = is_busy;
    }

    std::vector<std::string> idle_tracker::idle_since(clock::time_point now, clock::duration timeout) const
    {
        std::vector<std::string> idle;
        if (timeout <= clock::duration::zero())
        {
            return idle;
        }
        std::lock_guard<std::mutex> lock(m_mutex);
        for (const auto& [key, entry] : m_activity)
        {
            if (!entry.busy && entry.last && now - *entry.last > timeout)
            {
                idle.push_back(key);
            }
        }
        return idle;
    }

    void idle_tracker::forget(const std::string& key)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_activity.erase(key);
    }

    std::optional<idle_tracker::clock::time_point> idle_tracker::last_activity(const std::string& key) const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto found = m_activity.find(key);
        return found == m_activity.end() ? std::nullopt : found->second.last;
    }

    bool idle_tracker::is_busy(const std::string& key) const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto found = m_activity.find(key);
        return found != m_activity.end() && found->second.busy;
    }

    std::vector<std::string> idle_tracker::keys() const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        std::vector<std::string> result;
        result.reserve(m_activity.size());
        for (const auto& entry : m_activity)
        {
            result.push_back(entry.first);
        }
        return result;
    }
}
