// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace atrium
{
    /// How many contexts and workers a kernel keeps, and the limits of each worker (parsed by
    /// kernel/kernel_options.hpp from flags and the environment).
    struct worker_settings
    {
        std::uint64_t memory_bytes = 0; ///< per worker address space; 0: unlimited
        std::uint64_t cpu_seconds = 0;  ///< per worker CPU time; 0: unlimited
        std::size_t warm = 1;           ///< workers kept started for new notes
        /// Modules the worker template imports before forking workers (comma-separated); "none": no template,
        /// each worker is spawned and starts Python itself (docs/sessions.md, "Worker template").
        std::string preload = "numpy,pandas";
        bool preload_given = false; ///< false: the default list, whose modules not installed are left out
        /// Live contexts at most (scoped and isolated); at the cap the least recently used idle unnamed note is
        /// reclaimed. About 40 KiB each when empty (docs/sessions.md).
        std::size_t max_contexts = 4096;
        /// Live worker processes at most (isolated; warm ones not counted). About 20 MiB each when idle.
        std::size_t max_workers = 128;
        /// Isolated: an unnamed note's worker idle this long is reclaimed; 0 never.
        std::uint64_t idle_worker_seconds = 3600;
    };
}
