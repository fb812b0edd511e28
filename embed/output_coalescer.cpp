// SPDX-License-Identifier: MIT
#include "embed/output_coalescer.hpp"

#include <algorithm>

namespace atrium
{
    output_coalescer::output_coalescer(emit_fn emit, std::size_t chunk_bytes)
        : m_emit(std::move(emit))
        , m_chunk_bytes(chunk_bytes)
    {
    }

    bool output_coalescer::write(std::string_view stream_name, std::string_view text)
    {
        if (text.empty())
        {
            return false;
        }
        std::lock_guard<std::mutex> lock(m_mutex);
        if (!m_pending.empty() && m_stream != stream_name)
        {
            flush_locked();
        }
        bool was_empty = m_pending.empty();
        if (was_empty)
        {
            // One allocation per chunk instead of a doubling series of copies.
            m_pending.reserve(std::min(m_chunk_bytes, std::max<std::size_t>(text.size(), 64 * 1024)));
        }
        m_stream.assign(stream_name);
        m_pending.append(text);
        if (m_pending.size() >= m_chunk_bytes)
        {
            flush_locked();
            return false;
        }
        return was_empty;
    }

    void output_coalescer::flush()
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        flush_locked();
    }

    void output_coalescer::in_order(const std::function<void()>& publish)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        flush_locked();
        publish();
    }

    bool output_coalescer::has_pending() const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return !m_pending.empty();
    }

    void output_coalescer::flush_locked()
    {
        if (m_pending.empty())
        {
            return;
        }
        std::string text;
        text.swap(m_pending);
        m_emit(m_stream, std::move(text));
    }
}
