// SPDX-License-Identifier: MIT
#include "common/history_store.hpp"

#include <algorithm>
#include <set>

namespace atrium
{
    history_store::history_store(int session_number)
        : m_session(session_number)
    {
    }

    void history_store::append(int line, std::string input)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_entries.push_back({m_session, line, std::move(input)});
    }

    void history_store::clear()
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_entries.clear();
    }

    std::vector<history_entry> history_store::tail(int n) const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (n <= 0)
        {
            return {};
        }
        auto count = std::min<std::size_t>(static_cast<std::size_t>(n), m_entries.size());
        return {m_entries.end() - static_cast<std::ptrdiff_t>(count), m_entries.end()};
    }

    std::vector<history_entry> history_store::range(int session, int start, int stop) const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        std::vector<history_entry> result;
        if (session > 0 && session != m_session)
        {
            return result;
        }
        for (const auto& entry : m_entries)
        {
            if (entry.line >= start && (stop <= 0 || entry.line < stop))
            {
                result.push_back(entry);
            }
        }
        return result;
    }

    std::vector<history_entry> history_store::search(const std::string& pattern, int n, bool unique) const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        std::vector<history_entry> result;
        std::set<std::string> seen;
        // Walk newest first so `n` keeps the most recent matches, then restore chronological order.
        for (auto it = m_entries.rbegin(); it != m_entries.rend(); ++it)
        {
            if (n > 0 && static_cast<int>(result.size()) >= n)
            {
                break;
            }
            if (!glob_match(pattern, it->input) || (unique && !seen.insert(it->input).second))
            {
                continue;
            }
            result.push_back(*it);
        }
        std::reverse(result.begin(), result.end());
        return result;
    }

    int history_store::session_number() const noexcept
    {
        return m_session;
    }

    bool glob_match(const std::string& pattern, const std::string& text)
    {
        // Iterative matcher with single-star backtracking: linear in practice, no recursion on long inputs.
        std::size_t p = 0, t = 0, star = std::string::npos, resume = 0;
        while (t < text.size())
        {
            if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t]))
            {
                ++p;
                ++t;
            }
            else if (p < pattern.size() && pattern[p] == '*')
            {
                star = p++;
                resume = t;
            }
            else if (star != std::string::npos)
            {
                p = star + 1;
                t = ++resume;
            }
            else
            {
                return false;
            }
        }
        while (p < pattern.size() && pattern[p] == '*')
        {
            ++p;
        }
        return p == pattern.size();
    }
}
