// SPDX-License-Identifier: MIT
#pragma once

#include <vector>

namespace atrium
{
    /// One module of the Python runtime (embed/python), compiled into the binary by the build.
    struct runtime_source
    {
        const char* module_name;
        const char* text;
        bool is_package;
    };

    /// In load order: each module only imports those before it.
    const std::vector<runtime_source>& runtime_sources();
}
