// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <string>

namespace atrium
{
    namespace limits
    {
        /// xeus 2.4's `xguid` is `xtl::xfixed_string<55>` with the *silent* error policy: a longer string
        /// (a comm id, a routing identity) is copied past its 56-byte buffer. That was the comm_msg SIGSEGV.
        inline constexpr std::size_t guid_length = 55;
    }

    /// `[comm.bad_id] ...` unless `comm_id` is 1 to 55 bytes; empty when it is. Used for ids from clients and
    /// from cells alike (in the kernel and in a worker), so a comm a cell opens can always be addressed by a client.
    std::string comm_id_problem(const std::string& comm_id);
}
