// SPDX-License-Identifier: MIT
#include "embed/utf8.hpp"

namespace atrium
{
    /// RFC 3629: no surrogates, no overlong forms, nothing above U+10FFFF.
    std::size_t utf8_sequence_length(std::string_view s, std::size_t i)
    {
            auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
            unsigned char lead = byte(i);
            if (lead < 0x80)
                return 1;
            std::size_t length;
            unsigned char low = 0x80, high = 0xBF;
            if (lead >= 0xC2 && lead <= 0xDF)
                length = 2;
            else if (lead >= 0xE0 && lead <= 0xEF)
            {
                length = 3;
                if (lead == 0xE0)
                    low = 0xA0;
                if (lead == 0xED)
                    high = 0x9F;
            }
            else if (lead >= 0xF0 && lead <= 0xF4)
            {
                length = 4;
                if (lead == 0xF0)
                    low = 0x90;
                if (lead == 0xF4)
                    high = 0x8F;
            }
            else
                return 0;
            if (i + length > s.size())
                return 0;
            if (byte(i + 1) < low || byte(i + 1) > high)
                return 0;
            for (std::size_t k = 2; k < length; ++k)
            {
                if (byte(i + k) < 0x80 || byte(i + k) > 0xBF)
                    return 0;
            }
            return length;
    }

    std::string repair_utf8(std::string_view bytes)
    {
        std::string result;
        result.reserve(bytes.size());
        std::size_t i = 0;
        while (i < bytes.size())
        {
            std::size_t length = utf8_sequence_length(bytes, i);
            if (length == 0)
            {
                result.append("\xEF\xBF\xBD");
                ++i;
            }
            else
            {
                result.append(bytes.substr(i, length));
                i += length;
            }
        }
        return result;
    }
}
