// SPDX-License-Identifier: MIT
#include "session/note_name.hpp"

#include <cstdint>

namespace atrium
{
    namespace
    {
        // The name is not quoted: it may be megabytes long or not printable, and errors go into replies.
        [[noreturn]] void refuse(const std::string& why)
        {
            throw session_error("[session.bad_note_name] a note name " + why +
                                " (expected 1 to 128 printable characters without spaces)");
        }

        /// Decodes one UTF-8 sequence at `pos` (advancing it); returns -1 for an ill-formed one.
        std::int32_t next_code_point(const std::string& text, std::size_t& pos)
        {
            const auto lead = static_cast<unsigned char>(text[pos++]);
            int extra = 0;
            if (lead < 0x80)
            {
                return lead;
            }
            else if (lead >= 0xC2 && lead <= 0xDF)
            {
                extra = 1;
            }
            else if (lead >= 0xE0 && lead <= 0xEF)
            {
                extra = 2;
            }
            else if (lead >= 0xF0 && lead <= 0xF4)
            {
                extra = 3;
            }
            else
            {
                return -1;
            }
            const std::int32_t smallest[] = {0, 0x80, 0x800, 0x10000};
            const std::int32_t least = smallest[extra];
            std::int32_t cp = lead & (0x3F >> extra);
            for (; extra > 0; --extra)
            {
                if (pos >= text.size() || (static_cast<unsigned char>(text[pos]) & 0xC0) != 0x80)
                {
                    return -1;
                }
                cp = (cp << 6) | (static_cast<unsigned char>(text[pos++]) & 0x3F);
            }
            // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
            if (cp < least || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            {
                return -1;
            }
            return cp;
        }

        bool is_whitespace(std::int32_t cp)
        {
            // Unicode White_Space outside the control ranges.
            return cp == 0x20 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
                   cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
        }

        bool is_control_or_invisible(std::int32_t cp)
        {
            // C0, DEL and C1 controls; zero-width characters, bidirectional overrides and the BOM, which
            // would let two different names look alike.
            return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0xAD || (cp >= 0x200B && cp <= 0x200F) ||
                   (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x206F) || cp == 0xFEFF;
        }
    }

    void check_note_name(const std::string& name)
    {
        if (name.empty())
        {
            refuse("is empty");
        }
        // Measured before decoding, so a huge name costs nothing; 4 bytes is the longest UTF-8 character.
        if (name.size() > 4 * max_note_name_length)
        {
            refuse("is longer than 128 characters");
        }
        std::size_t characters = 0;
        for (std::size_t pos = 0; pos < name.size(); ++characters)
        {
            const std::int32_t cp = next_code_point(name, pos);
            if (cp < 0)
            {
                refuse("is not valid UTF-8");
            }
            if (is_control_or_invisible(cp))
            {
                refuse("contains a control or invisible character");
            }
            if (is_whitespace(cp))
            {
                refuse("contains whitespace");
            }
        }
        if (characters > max_note_name_length)
        {
            refuse("is longer than 128 characters");
        }
    }
}
