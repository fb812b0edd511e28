// SPDX-License-Identifier: MIT
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace atrium
{
    /// Why a request's content cannot be handled (wrong field types), or empty when it can.
    /// xeus's kernel core reads fields with `json::value`, which throws on a type mismatch and then
    /// sends no reply at all; checking first lets the client get an error reply instead of silence.
    std::string request_content_problem(const std::string& msg_type, const nlohmann::json& content);

    /// `execute_request` -> `execute_reply`; anything without the `_request` suffix is returned unchanged.
    std::string reply_type_for(const std::string& request_type);
}
