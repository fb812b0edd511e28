// SPDX-License-Identifier: MIT
#include "kernel/history_adapter.hpp"

namespace atrium
{
    namespace
    {
        nl::json reply(const std::vector<history_entry>& entries, bool output)
        {
            nl::json history = nl::json::array();
            for (const auto& entry : entries)
            {
                // Outputs are not recorded; the protocol's [input, output] pair carries null for them.
                nl::json input = output ? nl::json::array({entry.input, nullptr}) : nl::json(entry.input);
                history.push_back({entry.session, entry.line, std::move(input)});
            }
            return {{"status", "ok"}, {"history", std::move(history)}};
        }
    }

    history_adapter::history_adapter(const history_store& store)
        : m_store(store)
    {
    }

    void history_adapter::configure_impl()
    {
    }

    void history_adapter::store_inputs_impl(int, int, const std::string&, const std::string&)
    {
    }

    nl::json history_adapter::get_tail_impl(int n, bool, bool output) const
    {
        return reply(m_store.tail(n), output);
    }

    nl::json history_adapter::get_range_impl(int session, int start, int stop, bool, bool output) const
    {
        return reply(m_store.range(session, start, stop), output);
    }

    nl::json history_adapter::search_impl(const std::string& pattern, bool, bool output, int n, bool unique) const
    {
        return reply(m_store.search(pattern, n, unique), output);
    }
}
