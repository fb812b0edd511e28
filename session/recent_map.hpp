// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace atrium
{
    /// A map that keeps its newest `limit` entries: putting a key again makes it the newest, and past the limit
    /// the oldest goes. For what the kernel remembers about clients that never say goodbye. Not thread-safe:
    /// its owner locks.
    template <class Value>
    class recent_map
    {
    public:
        explicit recent_map(std::size_t limit)
            : m_limit(std::max<std::size_t>(limit, 1))
        {
        }

        void put(const std::string& key, Value value)
        {
            auto [it, inserted] = m_entries.try_emplace(key);
            if (!inserted)
                m_by_age.erase(it->second.stamp);
            it->second = {std::move(value), ++m_next_stamp};
            m_by_age.emplace(it->second.stamp, key);
            if (m_entries.size() > m_limit)
            {
                auto oldest = m_by_age.begin();
                m_entries.erase(oldest->second);
                m_by_age.erase(oldest);
            }
        }

        /// The key's value, or nullptr.
        const Value* find(const std::string& key) const
        {
            auto it = m_entries.find(key);
            return it == m_entries.end() ? nullptr : &it->second.value;
        }

        void erase(const std::string& key)
        {
            auto it = m_entries.find(key);
            if (it == m_entries.end())
                return;
            m_by_age.erase(it->second.stamp);
            m_entries.erase(it);
        }

        std::size_t size() const noexcept
        {
            return m_entries.size();
        }

    private:
        struct entry
        {
            Value value;
            std::uint64_t stamp = 0; ///< its place in m_by_age
        };

        const std::size_t m_limit;
        std::map<std::string, entry> m_entries;
        std::map<std::uint64_t, std::string> m_by_age;
        std::uint64_t m_next_stamp = 0;
    };
}
