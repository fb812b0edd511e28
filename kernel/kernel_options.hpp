// SPDX-License-Identifier: MIT
#pragma once

#include "session/binding.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace atrium
{
    /// How many contexts and workers a kernel keeps, and the limits of each worker.
    struct worker_settings
    {
        std::uint64_t memory_bytes = 0; ///< per worker address space; 0: unlimited
        std::uint64_t cpu_seconds = 0;  ///< per worker CPU time; 0: unlimited
        std::size_t warm = 1;           ///< workers kept started for new notes
        /// Live contexts at most (scoped and isolated); at the cap the least recently used idle unnamed note is
        /// reclaimed. About 40 KiB each when empty (docs/sessions.md).
        std::size_t max_contexts = 4096;
        /// Live worker processes at most (isolated; warm ones not counted). About 20 MiB each when idle.
        std::size_t max_workers = 128;
        /// Isolated: an unnamed note's worker idle this long is reclaimed; 0 never.
        std::uint64_t idle_worker_seconds = 3600;
    };

    /// "512M", "2G", "1048576" (bytes), with K/M/G/T suffixes (powers of 1024); throws usage_error.
    std::uint64_t parse_size(const std::string& text, const std::string& flag);

    struct kernel_options
    {
        std::string connection_file;
        /// The Dask scheduler `ctx` connects to (empty: a local cluster, or $ATRIUM_DASK_SCHEDULER).
        std::string dask_scheduler;
        /// Isolated mode's worker processes: limits and the warm pool's size.
        worker_settings workers;
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
    /// ATRIUM_MAX_WORKERS, ATRIUM_RECLAIM_IDLE_WORKERS). Environment variables are read through `getenv_fn` only for what no
    /// flag sets; a bad one is ignored with `--help` or `--version`. Errors carry the `[binding.*]` id.
    kernel_options parse_kernel_options(const std::vector<std::string>& args,
                                        const getenv_function& getenv_fn);
    /// As above, with the process environment.
    kernel_options parse_kernel_options(const std::vector<std::string>& args);

    std::string usage_text();
}
