// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace atrium
{
    /// A session request Atrium refuses; `what()` starts with a stable id such as `[session.bad_note_name]`.
    struct session_error : std::invalid_argument
    {
        using std::invalid_argument::invalid_argument;
    };

    constexpr std::size_t max_note_name_length = 128;

    /// Throws `session_error` `[session.bad_note_name]` unless `name` is 1 to 128 characters of UTF-8 with
    /// no whitespace, control or invisible (format) characters. Names come from clients and end up in keys,
    /// replies and logs, so anything that could hide or spoof text is refused.
    void check_note_name(const std::string& name);
}
