// SPDX-License-Identifier: MIT
#pragma once

#include "common/history_store.hpp"

#include <nlohmann/json.hpp>

namespace atrium
{
    /// The history_reply content for a history_request's content (tail, range or search), answered from one
    /// context's history with the real session and line numbers.
    nlohmann::json history_reply(const history_store& history, const nlohmann::json& request);
}
