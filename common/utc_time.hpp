// SPDX-License-Identifier: MIT
#pragma once

#include <string>

namespace atrium
{
    /// ISO 8601 UTC with microseconds, e.g. `2026-11-22T04:50:01.123456Z`: message dates and a cell's `started`.
    std::string iso8601_utc_now();
}
