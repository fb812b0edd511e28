// SPDX-License-Identifier: MIT
#include "common/comm_id.hpp"

#include "common/error_ids.hpp"

namespace atrium
{
    std::string comm_id_problem(const std::string& comm_id)
    {
        if (comm_id.empty() || comm_id.size() > limits::guid_length)
        {
            return std::string(error_id::comm_bad_id) + " 'comm_id' must be 1 to " +
                   std::to_string(limits::guid_length) + " bytes, not " + std::to_string(comm_id.size());
        }
        return {};
    }
}
