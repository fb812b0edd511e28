// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>

namespace atrium
{
    /// Raises this process's soft limit on open descriptors to its hard limit (workers and their channels need
    /// several each, and the usual soft limit of 1024 runs out first) and returns the limit now in force.
    std::size_t raise_descriptor_limit();

    /// Descriptors the kernel holds per live isolated worker (its channel's sockets, exit descriptor, relay's
    /// eventfd), with room to spare: about 6 were measured, 16 are planned for.
    inline constexpr std::size_t descriptors_per_worker = 16;
    /// Descriptors the kernel needs besides its workers (Jupyter sockets, ZeroMQ, Python, the Dask client).
    inline constexpr std::size_t descriptors_reserved = 512;
}
