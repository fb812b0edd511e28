// SPDX-License-Identifier: MIT
#include "common/utc_time.hpp"

#include <ctime>

namespace atrium
{
    namespace
    {
        /// Writes `value` as exactly `width` decimal digits ending just before `end`.
        void put_digits(char* end, long value, int width)
        {
            for (int i = 0; i < width; ++i)
            {
                *--end = static_cast<char>('0' + value % 10);
                value /= 10;
            }
        }
    }

    std::string iso8601_utc_now()
    {
        timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        std::tm parts;
        gmtime_r(&now.tv_sec, &parts);
        // Digits written by hand: snprintf's format parsing was ~4k instructions a date, and every message has one.
        std::string text = "0000-00-00T00:00:00.000000Z";
        char* p = text.data();
        put_digits(p + 4, parts.tm_year + 1900, 4);
        put_digits(p + 7, parts.tm_mon + 1, 2);
        put_digits(p + 10, parts.tm_mday, 2);
        put_digits(p + 13, parts.tm_hour, 2);
        put_digits(p + 16, parts.tm_min, 2);
        put_digits(p + 19, parts.tm_sec, 2);
        put_digits(p + 26, now.tv_nsec / 1000, 6);
        return text;
    }
}
