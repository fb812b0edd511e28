// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstdint>

namespace atrium
{
    /// Milliseconds on the steady clock: when a context was last active, how long it has been idle.
    inline std::int64_t steady_now_ms()
    {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
    }
}
