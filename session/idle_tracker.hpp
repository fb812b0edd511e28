// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace atrium
{
    /// Last activity per context key, to find contexts to cull. Times are passed in, never read from a
    /// clock here, so callers decide what "now" is and tests need no sleeps. Thread-safe.
    class idle_tracker
    {
    public:
        using clock = std::chrono::steady_clock;

        /// Records activity at `now`; creates the key. Times only move forward: an older `now` is ignored.
        void touch(const std::string& key, clock::time_point now);
        /// A busy key is never idle. Touch the key when its work ends: the idle period counts from the
        /// last touch. Creates the key, but a key never touched is never reported idle.
        void busy(const std::string& key, bool is_busy);
        /// Keys neither busy nor touched within the last `timeout` (strictly longer), sorted.
        /// A timeout of zero or less means culling is off and returns nothing.
        std::vector<std::string> idle_since(clock::time_point now, clock::duration timeout) const;
        void forget(const std::string& key);

        std::optional<clock::time_point> last_activity(const std::string& key) const;
        bool is_busy(const std::string& key) const;
        std::vector<std::string> keys() const;

    private:
        struct activity
        {
            std::optional<clock::time_point> last;
            bool busy = false;
        };

        mutable std::mutex m_mutex;
        std::map<std::string, activity> m_activity;
    };
}
