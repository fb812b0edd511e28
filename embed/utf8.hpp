// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <string_view>

namespace atrium
{
    /// Returns `bytes` with every ill-formed UTF-8 sequence replaced by U+FFFD, so that output a cell
    /// writes as raw bytes can always travel in a JSON message.
    std::string repair_utf8(std::string_view bytes);

    /// Length of the well-formed UTF-8 sequence starting at `bytes[i]`, or 0 when it is ill-formed.
    std::size_t utf8_sequence_length(std::string_view bytes, std::size_t i);
}
