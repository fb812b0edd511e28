// SPDX-License-Identifier: MIT
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <algorithm>
#include <map>
#include <optional>

namespace atrium
{
    /// The worker's queue of pipelined cells: the kernel sends a note's cells without waiting for replies,
    /// numbered (`cell` = 1, 2, 3 ...) per worker, some on the cells channel and some (those it had queued) through
    /// the link, so they may arrive out of order; they run strictly in that order.
    ///
    /// After a cell that stops the queue (an error under stop_on_error, or exit()) the worker pauses: it runs
    /// nothing until the kernel, which has answered the cells behind the failure itself, says `resume` with the
    /// last number it had sent by then. Those cells are dropped; any later one runs. So exactly the cells the
    /// kernel had sent before it saw the failure are skipped, whatever channel or order they came in.
    /// Main thread of the worker only.
    class cell_order
    {
    public:
        /// An `execute` (numbered in `cell`) or a `resume` (with `through`) message; false for one without its
        /// number, which is never run.
        bool add(nlohmann::json message)
        {
            auto number = [&message](const char* name) -> std::optional<std::uint64_t>
            {
                auto it = message.find(name);
                if (it == message.end() || !it->is_number_unsigned())
                    return std::nullopt;
                return it->get<std::uint64_t>();
            };
            if (message.value("type", "") == "resume")
            {
                auto through = number("through");
                if (!through)
                    return false;
                m_paused = false;
                m_skip_through = std::max(m_skip_through, *through);
                return true;
            }
            auto n = number("cell");
            if (!n || *n == 0)
                return false;
            if (*n > m_done)
                m_waiting.emplace(*n, std::move(message));
            return true;
        }

        /// The next cell to run, if it has arrived and the queue is not paused; skipped cells are dropped.
        std::optional<nlohmann::json> next()
        {
            while (!m_paused && !m_waiting.empty() && m_waiting.begin()->first == m_done + 1)
            {
                auto first = m_waiting.begin();
                nlohmann::json cell = std::move(first->second);
                m_waiting.erase(first);
                ++m_done;
                if (m_done > m_skip_through)
                    return cell;
            }
            if (!m_paused && m_done < m_skip_through)
            {
                // Skipped cells still on their way are dropped when they come.
                while (!m_waiting.empty() && m_waiting.begin()->first <= m_skip_through)
                    m_waiting.erase(m_waiting.begin());
                m_done = m_skip_through;
                return next();
            }
            return std::nullopt;
        }

        /// The cell just run stopped the queue: nothing more runs until `resume`.
        void pause() noexcept
        {
            m_paused = true;
        }

        bool paused() const noexcept
        {
            return m_paused;
        }

    private:
        std::map<std::uint64_t, nlohmann::json> m_waiting; ///< arrived, by number
        std::uint64_t m_done = 0;                          ///< every cell up to this number ran or was skipped
        std::uint64_t m_skip_through = 0;
        bool m_paused = false;
    };
}
