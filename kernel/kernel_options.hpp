// SPDX-License-Identifier: MIT
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace atrium
{
    struct kernel_options
    {
        std::string connection_file;
        bool show_help = false;
        bool show_version = false;
    };

    /// A command line Atrium cannot act on; the message says what was wrong and what is expected.
    struct usage_error : std::runtime_error
    {
        using std::runtime_error::runtime_error;
    };

    /// Parses `atrium -f FILE` (also `--connection-file FILE`, `--connection-file=FILE`, `--help`, `--version`).
    kernel_options parse_kernel_options(const std::vector<std::string>& args);

    std::string usage_text();
}
