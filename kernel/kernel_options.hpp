// SPDX-License-Identifier: MIT
#pragma once

#include "session/binding.hpp"

#include <stdexcept>
#include <string>
#include <vector>

namespace atrium
{
    struct kernel_options
    {
        std::string connection_file;
        /// The Dask scheduler `ctx` connects to (empty: a local cluster, or $ATRIUM_DASK_SCHEDULER).
        std::string dask_scheduler;
        bool show_help = false;
        bool show_version = false;
        /// The ATRIUM_* environment variables, overridden by the flags given.
        binding_config binding;
    };

    /// A command line Atrium cannot act on; the message says what was wrong and what is expected.
    struct usage_error : std::runtime_error
    {
        using std::runtime_error::runtime_error;
    };

    /// Parses `atrium -f FILE` (also `--connection-file FILE`, `--connection-file=FILE`, `--help`,
    /// `--version`) and the binding flags `--mode`, `--scope`, `--cull-idle` (each also `--flag=VALUE`) and
    /// `--operator-view[=yes|no]`. Environment variables are read through `getenv_fn` only for what no
    /// flag sets; a bad one is ignored with `--help` or `--version`. Errors carry the `[binding.*]` id.
    kernel_options parse_kernel_options(const std::vector<std::string>& args,
                                        const getenv_function& getenv_fn);
    /// As above, with the process environment.
    kernel_options parse_kernel_options(const std::vector<std::string>& args);

    std::string usage_text();
}
