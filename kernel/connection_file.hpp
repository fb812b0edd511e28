// SPDX-License-Identifier: MIT
#pragma once

#include <xeus/xkernel_configuration.hpp>

#include <string>

namespace atrium
{
    /// Reads a Jupyter connection file, throwing std::runtime_error with a precise message when it is
    /// missing, not JSON, or lacks a field (xeus's loader would silently use empty ports).
    xeus::xconfiguration read_connection_file(const std::string& path);
}
