// SPDX-License-Identifier: MIT
#include "common/history_reply.hpp"

namespace atrium
{
    nlohmann::json history_reply(const history_store& history, const nlohmann::json& request)
    {
        std::string access = request.value("hist_access_type", "tail");
        bool output = request.value("output", false);
        std::vector<history_entry> entries;
        if (access == "range")
            entries = history.range(request.value("session", 0), request.value("start", 1), request.value("stop", 0));
        else if (access == "search")
            entries = history.search(request.value("pattern", "*"), request.value("n", 10), request.value("unique", false));
        else
            entries = history.tail(request.value("n", 10));

        nlohmann::json items = nlohmann::json::array();
        for (const auto& entry : entries)
        {
            // Outputs are not recorded; the protocol's [input, output] pair carries null for them.
            nlohmann::json input = output ? nlohmann::json::array({entry.input, nullptr}) : nlohmann::json(entry.input);
            items.push_back({entry.session, entry.line, std::move(input)});
        }
        return {{"status", "ok"}, {"history", std::move(items)}};
    }
}
