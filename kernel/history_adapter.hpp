// SPDX-License-Identifier: MIT
#pragma once

#include "session/history_store.hpp"

#include <xeus/xhistory_manager.hpp>

namespace atrium
{
    /// Answers xeus's history requests from a history_store. Storing is the interpreter's job (it knows
    /// the real execution counts), so `store_inputs` from xeus's core is ignored.
    class history_adapter final : public xeus::xhistory_manager
    {
    public:
        explicit history_adapter(const history_store& store);

    private:
        void configure_impl() override;
        void store_inputs_impl(int, int, const std::string&, const std::string&) override;
        nl::json get_tail_impl(int n, bool raw, bool output) const override;
        nl::json get_range_impl(int session, int start, int stop, bool raw, bool output) const override;
        nl::json search_impl(const std::string& pattern, bool raw, bool output, int n, bool unique) const override;

        const history_store& m_store;
    };
}
