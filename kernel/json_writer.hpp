// SPDX-License-Identifier: MIT
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace atrium
{
    /// Serialises `value` exactly as `value.dump(-1, ' ', false, error_handler_t::replace)` would, several
    /// times faster for long strings: runs of plain bytes are copied in bulk instead of byte by byte.
    /// Stream messages carry megabytes of text, so this is the kernel's hottest path.
    void write_json(const nlohmann::json& value, std::string& out);
    std::string to_json(const nlohmann::json& value);
}
