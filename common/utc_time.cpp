// SPDX-License-Identifier: MIT
#include "common/utc_time.hpp"

#include <cstdio>
#include <ctime>

namespace atrium
{
    std::string iso8601_utc_now()
    {
        timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        std::tm parts;
        gmtime_r(&now.tv_sec, &parts);
        char buffer[40];
        std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", parts.tm_year + 1900,
                      parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                      now.tv_nsec / 1000);
        return buffer;
    }
}
