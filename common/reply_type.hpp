// SPDX-License-Identifier: MIT
#pragma once

#include <string>

namespace atrium
{
    /// `execute_request` -> `execute_reply`; anything without the `_request` suffix is returned unchanged.
    std::string reply_type_for(const std::string& request_type);
}
