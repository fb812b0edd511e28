// SPDX-License-Identifier: MIT
#pragma once

#include "session/binding.hpp"
#include "session/worker_settings.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace atrium
{
    /// "512M", "2G", "1048576" (bytes), with K/M/G/T suffixes (powers of 1024); throws usage_error.
    std::uint64_t parse_size(const std::string& text, const std::string& flag);

    struct kernel_options
    {
        std::string connection_file;
        /// The Dask scheduler `ctx` connects to (empty: a local cluster, or $ATRIUM_DASK_SCHEDULER).
        std::string dask_scheduler;
        /// Isolated mode's worker processes: limits and the warm pool's size.
        worker_settings workers;
        /// `--host`: serve many fronts (docs/host.md) instead of one connection file.
        bool host = false;
        /// `--host-socket`: the host's control socket (required with --host).
        std::string host_socket;
        /// `--host-linger`: seconds a host with no front stays up; negative: until stopped.
        int host_linger_seconds = 60;
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
    /// `--operator-view[=yes|no]`, and the worker flags `--worker-memory`, `--worker-cpu-seconds` and
    /// `--warm-workers` (environment: ATRIUM_WORKER_MEMORY, ATRIUM_WORKER_CPU_SECONDS, ATRIUM_WARM_WORKERS), and the
    /// lifecycle flags `--max-contexts`, `--max-workers`, `--reclaim-idle-workers` (ATRIUM_MAX_CONTEXTS,
    /// ATRIUM_MAX_WORKERS, ATRIUM_RECLAIM_IDLE_WORKERS) and `--preload` (ATRIUM_PRELOAD). Environment variables are read through `getenv_fn` only for what no
    /// flag sets; a bad one is ignored with `--help` or `--version`. Errors carry the `[binding.*]` id.
    kernel_options parse_kernel_options(const std::vector<std::string>& args,
                                        const getenv_function& getenv_fn);
    /// As above, with the process environment.
    kernel_options parse_kernel_options(const std::vector<std::string>& args);

    std::string usage_text();
}
