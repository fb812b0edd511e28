// SPDX-License-Identifier: MIT
#include "session/worker_message_check.hpp"

#include <cstdint>
#include <initializer_list>

namespace atrium::worker_message_check
{
    namespace
    {
        using json = nlohmann::json;
        enum class kind
        {
            string,
            unsigned_number,
            boolean,
            object,
            any
        };

        bool is(const json& value, kind expected)
        {
            switch (expected)
            {
            case kind::string:
                return value.is_string();
            case kind::unsigned_number: // parsed text gives unsigned; a non-negative signed one reads alike
                return value.is_number_unsigned() || (value.is_number_integer() && value.get<std::int64_t>() >= 0);
            case kind::boolean:
                return value.is_boolean();
            case kind::object:
                return value.is_object();
            case kind::any:
                return true;
            }
            return false;
        }

        const char* name_of(kind expected)
        {
            switch (expected)
            {
            case kind::string:
                return "a string";
            case kind::unsigned_number:
                return "an unsigned integer";
            case kind::boolean:
                return "a boolean";
            case kind::object:
                return "an object";
            case kind::any:
                return "present";
            }
            return "?";
        }

        struct field
        {
            const char* name;
            kind expected;
            bool required;
        };

        std::string check(const json& object, std::initializer_list<field> fields, const std::string& where = "")
        {
            for (const field& f : fields)
            {
                auto it = object.find(f.name);
                if (it == object.end())
                {
                    if (f.required)
                        return "no `" + where + f.name + "`";
                    continue;
                }
                if (!is(*it, f.expected))
                    return "`" + where + f.name + "` is not " + name_of(f.expected);
            }
            return "";
        }
    }

    std::string problem(const json& header)
    {
        if (!header.is_object())
            return "the header is not an object";
        if (std::string why = check(header, {{"type", kind::string, true}, {"q", kind::unsigned_number, false}});
            !why.empty())
            return why;
        const std::string type = header["type"].get<std::string>();
        if (type == "publish")
        {
            if (std::string why = check(header, {{"msg_type", kind::string, true},
                                                 {"parent", kind::object, true},
                                                 {"content", kind::object, true},
                                                 {"metadata", kind::object, true},
                                                 {"cell_id", kind::unsigned_number, false}});
                !why.empty())
                return why;
            return check(header["parent"], {{"msg_id", kind::string, false}}, "parent.");
        }
        if (type == "input_request")
            return check(header, {{"prompt", kind::string, false},
                                  {"password", kind::boolean, false},
                                  {"parent_id", kind::string, false},
                                  {"cell_id", kind::unsigned_number, false}});
        if (type == "reply")
            return check(header, {{"id", kind::unsigned_number, true}, {"content", kind::object, true}});
        if (type == "comm_opened")
            return check(header, {{"comm_id", kind::string, true}, {"target_name", kind::string, true}});
        if (type == "comm_closed")
            return check(header, {{"comm_id", kind::string, true}});
        if (type == "comm_target")
            return check(header, {{"target_name", kind::string, true}});
        if (type == "call")
            return check(header, {{"id", kind::unsigned_number, true},
                                  {"op", kind::string, false},
                                  {"args", kind::object, false}});
        if (type == "comm_handled")
            return check(header, {{"id", kind::unsigned_number, true}});
        return "";
    }

    std::string reply_problem(const json& header)
    {
        if (!header.is_object())
            return "the header is not an object";
        if (std::string why = check(header, {{"type", kind::string, true},
                                             {"id", kind::unsigned_number, true},
                                             {"content", kind::object, true},
                                             {"after", kind::unsigned_number, false},
                                             {"paused", kind::boolean, false}});
            !why.empty())
            return why;
        if (header["type"] != "reply")
            return "a " + header["type"].get<std::string>() + " message, not a reply";
        return check(header["content"], {{"status", kind::string, true}}, "content.");
    }
}
