// SPDX-License-Identifier: MIT
#include "kernel/descriptor_limit.hpp"

#include <sys/resource.h>

namespace atrium
{
    std::size_t raise_descriptor_limit()
    {
        rlimit limit{};
        if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
            return 1024;
        if (limit.rlim_cur < limit.rlim_max)
        {
            rlimit raised = limit;
            raised.rlim_cur = limit.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
                limit = raised;
        }
        return limit.rlim_cur == RLIM_INFINITY ? static_cast<std::size_t>(1) << 20 : static_cast<std::size_t>(limit.rlim_cur);
    }
}
