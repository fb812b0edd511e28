// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace atrium
{
    /// Merges many small writes to one stream into few `stream` messages, without reordering them
    /// against anything else the same context publishes.
    ///
    /// Pending text is emitted when the stream name changes, when it reaches `chunk_bytes`, on `flush()`
    /// (a timer and the end of every request call it), and before any other message through `in_order`.
    /// `emit` runs under the coalescer's lock: that lock is what keeps stream chunks and other messages
    /// in the order the code produced them, even when a timer thread flushes.
    class output_coalescer
    {
    public:
        using emit_fn = std::function<void(const std::string& stream_name, std::string text)>;

        explicit output_coalescer(emit_fn emit, std::size_t chunk_bytes = 1 << 20);

        /// Returns true when this write turned an empty buffer into a pending one.
        bool write(std::string_view stream_name, std::string_view text);
        void flush();
        /// Emits all pending text, then runs `publish` before any later write can be emitted.
        void in_order(const std::function<void()>& publish);
        bool has_pending() const;

    private:
        void flush_locked();

        emit_fn m_emit;
        std::size_t m_chunk_bytes;
        mutable std::mutex m_mutex;
        std::string m_stream;
        std::string m_pending;
    };
}
