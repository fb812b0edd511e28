// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace atrium::fuzz
{
    /// The harnesses' input format, chosen so seeds can be written by hand: parts separated by NUL bytes
    /// (JSON frames never contain a raw NUL). An empty input is one empty part.
    inline std::vector<std::string> split_parts(const std::uint8_t* data, std::size_t size)
    {
        std::vector<std::string> parts(1);
        for (std::size_t i = 0; i < size; ++i)
        {
            if (data[i] == 0)
                parts.emplace_back();
            else
                parts.back().push_back(static_cast<char>(data[i]));
        }
        return parts;
    }

    /// A broken invariant is a finding: report it and abort so libFuzzer saves the input.
    inline void require(bool condition, const char* what)
    {
        if (!condition)
        {
            std::fprintf(stderr, "invariant broken: %s\n", what);
            std::abort();
        }
    }
}
