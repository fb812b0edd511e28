// SPDX-License-Identifier: MIT
#include "kernel/json_writer.hpp"

#include "embed/utf8.hpp"

#include <charconv>
#include <cstdint>
#include <cstring>

namespace atrium
{
    namespace
    {
        struct plain_table
        {
            bool plain[256];
            constexpr plain_table()
                : plain()
            {
                for (int c = 0; c < 256; ++c)
                    plain[c] = c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
            }
        };
        constexpr plain_table plain_bytes;

        /// Bytes copied verbatim: printable ASCII other than the quote and the backslash.
        bool is_plain(unsigned char c)
        {
            return plain_bytes.plain[c];
        }

        /// True when none of the 8 bytes at `p` needs escaping or UTF-8 checking (word-at-a-time test).
        bool all_plain(const char* p)
        {
            constexpr std::uint64_t ones = 0x0101010101010101ULL;
            constexpr std::uint64_t highs = 0x8080808080808080ULL;
            std::uint64_t x;
            std::memcpy(&x, p, sizeof(x));
            auto has_zero_byte = [&](std::uint64_t v) { return (v - ones) & ~v & highs; };
            std::uint64_t control = (x - ones * 0x20) & ~x & highs;
            std::uint64_t quote = has_zero_byte(x ^ (ones * '"'));
            std::uint64_t backslash = has_zero_byte(x ^ (ones * '\\'));
            return ((x & highs) | control | quote | backslash) == 0;
        }

        /// How many bytes of the ill-formed sequence at `i` one U+FFFD stands for: the longest prefix that could
        /// still have begun a well-formed sequence (Unicode's "maximal subpart"), at least one byte. This is what
        /// nlohmann's dump does with error_handler_t::replace: a string cut inside a character costs one U+FFFD,
        /// not one per byte (found by test/fuzz/fuzz_json).
        std::size_t ill_formed_length(const std::string& s, std::size_t i)
        {
            auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
            unsigned char lead = byte(i);
            std::size_t length = 0;
            unsigned char low = 0x80, high = 0xBF;
            if (lead >= 0xC2 && lead <= 0xDF)
                length = 2;
            else if (lead >= 0xE0 && lead <= 0xEF)
            {
                length = 3;
                low = lead == 0xE0 ? 0xA0 : 0x80;
                high = lead == 0xED ? 0x9F : 0xBF;
            }
            else if (lead >= 0xF0 && lead <= 0xF4)
            {
                length = 4;
                low = lead == 0xF0 ? 0x90 : 0x80;
                high = lead == 0xF4 ? 0x8F : 0xBF;
            }
            if (length == 0 || i + 1 >= s.size() || byte(i + 1) < low || byte(i + 1) > high)
                return 1;
            std::size_t k = 2;
            while (k < length && i + k < s.size() && byte(i + k) >= 0x80 && byte(i + k) <= 0xBF)
                ++k;
            return k;
        }

        void write_string(const std::string& text, std::string& out)
        {
            static const char hex[] = "0123456789abcdef";
            out.reserve(out.size() + text.size() + 2);
            out.push_back('"');
            std::size_t i = 0;
            const std::size_t size = text.size();
            while (i < size)
            {
                std::size_t run = i;
                while (run + 8 <= size && all_plain(text.data() + run))
                    run += 8;
                while (run < size && is_plain(static_cast<unsigned char>(text[run])))
                    ++run;
                out.append(text, i, run - i);
                i = run;
                if (i == size)
                    break;
                unsigned char c = static_cast<unsigned char>(text[i]);
                if (c >= 0x80)
                {
                    std::size_t length = utf8_sequence_length(text, i);
                    if (length == 0)
                    {
                        out.append("\xEF\xBF\xBD");
                        i += ill_formed_length(text, i);
                    }
                    else
                    {
                        out.append(text, i, length);
                        i += length;
                    }
                    continue;
                }
                switch (c)
                {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\n': out.append("\\n"); break;
                case '\t': out.append("\\t"); break;
                case '\r': out.append("\\r"); break;
                case '\b': out.append("\\b"); break;
                case '\f': out.append("\\f"); break;
                default:
                    out.append("\\u00");
                    out.push_back(hex[c >> 4]);
                    out.push_back(hex[c & 0x0f]);
                }
                ++i;
            }
            out.push_back('"');
        }
    }

    void write_json(const nlohmann::json& value, std::string& out)
    {
        switch (value.type())
        {
        case nlohmann::json::value_t::object:
        {
            out.push_back('{');
            bool first = true;
            for (auto it = value.begin(); it != value.end(); ++it)
            {
                if (!first)
                    out.push_back(',');
                first = false;
                write_string(it.key(), out);
                out.push_back(':');
                write_json(it.value(), out);
            }
            out.push_back('}');
            break;
        }
        case nlohmann::json::value_t::array:
        {
            out.push_back('[');
            bool first = true;
            for (const auto& item : value)
            {
                if (!first)
                    out.push_back(',');
                first = false;
                write_json(item, out);
            }
            out.push_back(']');
            break;
        }
        case nlohmann::json::value_t::string:
            write_string(value.get_ref<const std::string&>(), out);
            break;
        case nlohmann::json::value_t::boolean:
            out.append(value.get<bool>() ? "true" : "false");
            break;
        case nlohmann::json::value_t::null:
            out.append("null");
            break;
        case nlohmann::json::value_t::number_integer:
        case nlohmann::json::value_t::number_unsigned:
        {
            // Integers (execution counts) are in every reply: written in place rather than through a dump string.
            char digits[24];
            auto written = value.is_number_unsigned()
                               ? std::to_chars(digits, digits + sizeof(digits), value.get<std::uint64_t>())
                               : std::to_chars(digits, digits + sizeof(digits), value.get<std::int64_t>());
            out.append(digits, written.ptr);
            break;
        }
        default:
            out.append(value.dump()); // floats, binary: nlohmann's format is the reference
        }
    }

    void write_json_string(const std::string& text, std::string& out)
    {
        write_string(text, out);
    }

    std::string to_json(const nlohmann::json& value)
    {
        std::string out;
        write_json(value, out);
        return out;
    }

    bool json_identical(const nlohmann::json& a, const nlohmann::json& b)
    {
        if (a.type() != b.type())
            return false;
        if (a.is_object() || a.is_array())
        {
            if (a.size() != b.size())
                return false;
            for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j)
                if ((a.is_object() && i.key() != j.key()) || !json_identical(*i, *j))
                    return false;
            return true;
        }
        return a == b;
    }
}
