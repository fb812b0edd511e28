// SPDX-License-Identifier: MIT
#pragma once

#include <mutex>
#include <string>
#include <vector>

namespace atrium
{
    /// One stored cell input, numbered as the user saw it (`In[line]`).
    struct history_entry
    {
        int session;
        int line;
        std::string input;
    };

    /// The input history of one context, answering the three history_request access types.
    /// Line numbers are the execution counts the cells ran under, not positions in the list.
    class history_store
    {
    public:
        explicit history_store(int session_number = 1);

        void append(int line, std::string input);
        /// Forgets every entry (the context was reset).
        void clear();

        std::vector<history_entry> tail(int n) const;
        /// `session` 0 (or negative, relative) means the current session; `stop` is exclusive as in IPython.
        std::vector<history_entry> range(int session, int start, int stop) const;
        /// Glob pattern (`*`, `?`) matched against whole inputs, newest last, at most `n` (n <= 0: all).
        std::vector<history_entry> search(const std::string& pattern, int n, bool unique) const;

        int session_number() const noexcept;

    private:
        int m_session;
        mutable std::mutex m_mutex;
        std::vector<history_entry> m_entries;
    };

    bool glob_match(const std::string& pattern, const std::string& text);
}
