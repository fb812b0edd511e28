// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace atrium
{
    /// Unsigned integers as the worker channels write them (lengths, message numbers, ring positions): the
    /// `width` low bytes of `value`, most significant first.
    inline void append_big_endian(std::string& out, std::uint64_t value, std::size_t width)
    {
        for (std::size_t shift = width; shift-- > 0;)
            out.push_back(static_cast<char>((value >> (8 * shift)) & 0xff));
    }

    /// The inverse, over all of `bytes` (at most 8 of them).
    inline std::uint64_t read_big_endian(std::string_view bytes)
    {
        std::uint64_t value = 0;
        for (char byte : bytes)
            value = (value << 8) | static_cast<unsigned char>(byte);
        return value;
    }
}
