// SPDX-License-Identifier: MIT
#include "kernel/request_check.hpp"

#include <initializer_list>
#include <utility>

namespace atrium
{
    namespace
    {
        enum class kind
        {
            string,
            boolean,
            integer,
            object
        };

        bool has_kind(const nlohmann::json& value, kind k)
        {
            switch (k)
            {
            case kind::string:
                return value.is_string();
            case kind::boolean:
                return value.is_boolean();
            case kind::integer:
                return value.is_number_integer();
            case kind::object:
                return value.is_object();
            }
            return false;
        }

        const char* kind_name(kind k)
        {
            switch (k)
            {
            case kind::string:
                return "a string";
            case kind::boolean:
                return "a boolean";
            case kind::integer:
                return "an integer";
            case kind::object:
                return "an object";
            }
            return "?";
        }

        /// Checks optional fields: absent is fine, present must have the kind.
        std::string check(const nlohmann::json& content, std::initializer_list<std::pair<const char*, kind>> fields)
        {
            for (const auto& [name, k] : fields)
            {
                auto it = content.find(name);
                if (it != content.end() && !it->is_null() && !has_kind(*it, k))
                {
                    return std::string("[protocol.bad_content] '") + name + "' must be " + kind_name(k);
                }
            }
            return {};
        }
    }

    std::string request_content_problem(const std::string& msg_type, const nlohmann::json& content)
    {
        if (msg_type == "execute_request")
        {
            if (!content.contains("code"))
            {
                return "[protocol.bad_content] execute_request needs 'code'";
            }
            return check(content, {{"code", kind::string},
                                   {"silent", kind::boolean},
                                   {"store_history", kind::boolean},
                                   {"allow_stdin", kind::boolean},
                                   {"stop_on_error", kind::boolean},
                                   {"user_expressions", kind::object}});
        }
        if (msg_type == "complete_request" || msg_type == "inspect_request")
        {
            return check(content, {{"code", kind::string}, {"cursor_pos", kind::integer}, {"detail_level", kind::integer}});
        }
        if (msg_type == "is_complete_request")
        {
            return check(content, {{"code", kind::string}});
        }
        if (msg_type == "history_request")
        {
            return check(content, {{"hist_access_type", kind::string},
                                   {"n", kind::integer},
                                   {"session", kind::integer},
                                   {"start", kind::integer},
                                   {"stop", kind::integer},
                                   {"pattern", kind::string},
                                   {"raw", kind::boolean},
                                   {"output", kind::boolean},
                                   {"unique", kind::boolean}});
        }
        if (msg_type == "shutdown_request")
        {
            return check(content, {{"restart", kind::boolean}});
        }
        if (msg_type == "comm_info_request")
        {
            return check(content, {{"target_name", kind::string}});
        }
        if (msg_type == "comm_open" || msg_type == "comm_msg" || msg_type == "comm_close")
        {
            return check(content, {{"comm_id", kind::string}, {"target_name", kind::string}});
        }
        return {};
    }

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
