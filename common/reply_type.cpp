// SPDX-License-Identifier: MIT
#include "common/reply_type.hpp"

namespace atrium
{
    std::string reply_type_for(const std::string& request_type)
    {
        const std::string suffix = "_request";
        if (request_type.size() > suffix.size() &&
            request_type.compare(request_type.size() - suffix.size(), suffix.size(), suffix) == 0)
        {
            return request_type.substr(0, request_type.size() - suffix.size()) + "_reply";
        }
        return request_type;
    }
}
