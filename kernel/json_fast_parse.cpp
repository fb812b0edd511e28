// SPDX-License-Identifier: MIT
#include "kernel/json_fast_parse.hpp"

#include <cstdint>

namespace atrium
{
    namespace
    {
        class fast_parser
        {
        public:
            explicit fast_parser(std::string_view text)
                : m_p(text.data())
                , m_end(text.data() + text.size())
            {
            }

            /// The whole text as one value, or false.
            bool document(nlohmann::json& out)
            {
                skip_blanks();
                if (!value(out))
                    return false;
                skip_blanks();
                return m_p == m_end;
            }

        private:
            void skip_blanks()
            {
                while (m_p != m_end && (*m_p == ' ' || *m_p == '\n' || *m_p == '\r' || *m_p == '\t'))
                    ++m_p;
            }

            bool literal(std::string_view word)
            {
                if (static_cast<std::size_t>(m_end - m_p) < word.size() || std::string_view(m_p, word.size()) != word)
                    return false;
                m_p += word.size();
                return true;
            }

            /// A string of printable ASCII without escapes; the opening quote is at m_p.
            bool string(std::string_view& out)
            {
                const char* begin = ++m_p;
                while (m_p != m_end)
                {
                    const auto c = static_cast<unsigned char>(*m_p);
                    if (c == '"')
                    {
                        out = std::string_view(begin, static_cast<std::size_t>(m_p - begin));
                        ++m_p;
                        return true;
                    }
                    if (c < 0x20 || c >= 0x7f || c == '\\')
                        return false; // escapes and other bytes: nlohmann decides
                    ++m_p;
                }
                return false;
            }

            bool number(nlohmann::json& out)
            {
                const bool negative = *m_p == '-';
                if (negative)
                    ++m_p;
                const char* digits = m_p;
                while (m_p != m_end && *m_p >= '0' && *m_p <= '9')
                    ++m_p;
                const std::size_t count = static_cast<std::size_t>(m_p - digits);
                if (count == 0 || count > 18 || (count > 1 && digits[0] == '0'))
                    return false; // no digits, beyond what int64 surely holds, or a leading zero
                if (m_p != m_end && (*m_p == '.' || *m_p == 'e' || *m_p == 'E'))
                    return false; // a float: nlohmann's conversion is the reference
                std::uint64_t value = 0;
                for (const char* d = digits; d != m_p; ++d)
                    value = value * 10 + static_cast<std::uint64_t>(*d - '0');
                if (negative)
                    out = -static_cast<std::int64_t>(value);
                else
                    out = value;
                return true;
            }

            bool value(nlohmann::json& out)
            {
                if (m_p == m_end || ++m_depth > max_depth)
                    return false;
                bool ok = false;
                switch (*m_p)
                {
                case '{': ok = object(out); break;
                case '[': ok = array(out); break;
                case '"':
                {
                    std::string_view text;
                    ok = string(text);
                    if (ok)
                        out = std::string(text);
                    break;
                }
                case 't': ok = literal("true"); out = true; break;
                case 'f': ok = literal("false"); out = false; break;
                case 'n': ok = literal("null"); out = nullptr; break;
                default: ok = *m_p == '-' || (*m_p >= '0' && *m_p <= '9') ? number(out) : false;
                }
                --m_depth;
                return ok;
            }

            bool object(nlohmann::json& out)
            {
                ++m_p;
                out = nlohmann::json::object();
                skip_blanks();
                if (m_p != m_end && *m_p == '}')
                {
                    ++m_p;
                    return true;
                }
                while (true)
                {
                    std::string_view key;
                    if (m_p == m_end || *m_p != '"' || !string(key))
                        return false;
                    skip_blanks();
                    if (m_p == m_end || *m_p != ':')
                        return false;
                    ++m_p;
                    skip_blanks();
                    // operator[]: a repeated key keeps its last value, as nlohmann's parser does.
                    if (!value(out[std::string(key)]))
                        return false;
                    if (auto end = after_member('}'); end != member_end::another)
                        return end == member_end::closed;
                }
            }

            bool array(nlohmann::json& out)
            {
                ++m_p;
                out = nlohmann::json::array();
                skip_blanks();
                if (m_p != m_end && *m_p == ']')
                {
                    ++m_p;
                    return true;
                }
                while (true)
                {
                    out.push_back(nullptr);
                    if (!value(out.back()))
                        return false;
                    if (auto end = after_member(']'); end != member_end::another)
                        return end == member_end::closed;
                }
            }

            enum class member_end
            {
                another,
                closed,
                malformed
            };

            /// After an object's member or an array's element: `close` ends it, a comma announces another.
            member_end after_member(char close)
            {
                skip_blanks();
                if (m_p == m_end)
                    return member_end::malformed;
                if (*m_p == close)
                {
                    ++m_p;
                    return member_end::closed;
                }
                if (*m_p != ',')
                    return member_end::malformed;
                ++m_p;
                skip_blanks();
                return member_end::another;
            }

            static constexpr int max_depth = 512;
            const char* m_p;
            const char* m_end;
            int m_depth = 0;
        };
    }

    std::optional<nlohmann::json> parse_json_fast(std::string_view text)
    {
        nlohmann::json result;
        fast_parser parser(text);
        if (!parser.document(result))
            return std::nullopt;
        return result;
    }
}
