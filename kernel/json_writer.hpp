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
    /// `text` as a JSON string (quoted, escaped, invalid UTF-8 replaced), as write_json writes string values.
    void write_json_string(const std::string& text, std::string& out);
    /// Equal and of the same types throughout, so that both serialise alike: nlohmann's == holds 1u, 1 and 1.0
    /// equal.
    bool json_identical(const nlohmann::json& a, const nlohmann::json& b);
}
