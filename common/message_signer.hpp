// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

namespace atrium
{
    /// Signs and verifies the four JSON frames of a Jupyter message (HMAC, hex digest).
    /// An empty key disables signing, as the protocol allows.
    class message_signer
    {
    public:
        /// `scheme` is `hmac-<digest>` (e.g. `hmac-sha256`); throws std::invalid_argument otherwise.
        message_signer(const std::string& scheme, const std::string& key);
        ~message_signer();
        message_signer(const message_signer&) = delete;
        message_signer& operator=(const message_signer&) = delete;

        bool enabled() const noexcept;
        std::string sign(std::string_view header, std::string_view parent_header, std::string_view metadata,
                         std::string_view content) const;
        /// Constant-time comparison: the time taken does not depend on where a forged signature differs.
        bool verify(std::string_view signature, std::string_view header, std::string_view parent_header,
                    std::string_view metadata, std::string_view content) const;

    private:
        struct impl;
        std::unique_ptr<impl> p_impl;
    };

    /// Remembers recent signatures so a captured message cannot be replayed (as jupyter_client's
    /// digest history does). Bounded: the oldest signatures are forgotten first. Any thread: the main thread
    /// (shell) and the I/O thread (control, stdin) share one guard, so a message replayed across channels is
    /// still refused. (Unguarded, their interleaved pushes corrupted the heap: found by test/fuzz/live_fuzz.py.)
    class replay_guard
    {
    public:
        explicit replay_guard(std::size_t capacity = 1 << 16);
        /// True the first time a signature is seen, false for a replay.
        bool first_sighting(const std::string& signature);

    private:
        std::size_t m_capacity;
        std::mutex m_mutex;
        std::deque<std::string> m_order;
        std::unordered_set<std::string> m_seen;
    };
}
