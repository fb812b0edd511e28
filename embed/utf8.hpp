// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <string_view>

namespace atrium
{
    /// Returns `bytes` with every ill-formed UTF-8 sequence replaced by U+FFFD, so that output a cell
    /// writes as raw bytes can always travel in a JSON message.
    std::string repair_utf8(std::string_view bytes);
}
