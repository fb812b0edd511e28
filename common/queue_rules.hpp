// SPDX-License-Identifier: MIT
#pragma once

#include <nlohmann/json.hpp>

namespace atrium::queue_rules
{
    /// A boolean field of a request's content; absent, null or not a boolean reads as `fallback`.
    inline bool flag(const nlohmann::json& content, const char* name, bool fallback)
    {
        auto it = content.find(name);
        return it != content.end() && it->is_boolean() ? it->get<bool>() : fallback;
    }

    /// The execute_request with this `content` ended with `reply` as an error that must abort the requests
    /// queued behind it: `stop_on_error` (default true) and not `silent`. One rule for the kernel, which
    /// answers the aborted requests, and an isolated worker, which must not run the ones already sent to it.
    inline bool stops_queue(const nlohmann::json& content, const nlohmann::json& reply)
    {
        return reply.value("status", "error") == "error" && flag(content, "stop_on_error", true) &&
               !flag(content, "silent", false);
    }

    /// `reply` carries exit()'s ask_exit payload without keep_kernel.
    inline bool asks_to_end(const nlohmann::json& reply)
    {
        auto payload = reply.find("payload");
        if (payload == reply.end() || !payload->is_array())
            return false;
        for (const nlohmann::json& item : *payload)
            if (item.is_object() && item.value("source", "") == "ask_exit" && !flag(item, "keepkernel", false))
                return true;
        return false;
    }
}
