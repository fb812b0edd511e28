// SPDX-License-Identifier: MIT
#include "kernel/request_check.hpp"

#include <initializer_list>
#include <optional>
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

        std::string problem(std::string_view id, const std::string& text)
        {
            return std::string(id) + " " + text;
        }

        /// The field, or nullptr when absent or null (both mean "use the default").
        const nlohmann::json* field(const nlohmann::json& object, const char* name)
        {
            auto it = object.find(name);
            return it == object.end() || it->is_null() ? nullptr : &*it;
        }

        /// Checks optional fields: absent is fine, present must have the kind. A null is refused too: the kernel
        /// reads these fields with `json::value(name, default)`, which throws on null rather than using the
        /// default (found by test/fuzz/live_fuzz.py: `"silent": null` got no execute_reply at all).
        std::string check(const nlohmann::json& content, std::initializer_list<std::pair<const char*, kind>> fields)
        {
            for (const auto& [name, k] : fields)
            {
                auto it = content.find(name);
                if (it != content.end() && !has_kind(*it, k))
                    return problem(error_id::bad_content, std::string("'") + name + "' must be " + kind_name(k));
            }
            return {};
        }

        /// A present string field no longer than `limit` bytes (the type is checked first, by `check`).
        std::string check_length(const nlohmann::json& content, const char* name, std::size_t limit,
                                 std::string_view id = error_id::too_long)
        {
            const nlohmann::json* value = field(content, name);
            if (value && value->is_string() && value->get_ref<const std::string&>().size() > limit)
            {
                return problem(id, std::string("'") + name + "' is longer than " + std::to_string(limit) + " bytes");
            }
            return {};
        }

        /// The value of an integer field as a signed 64-bit number; nullopt when it does not fit.
        std::optional<std::int64_t> as_int64(const nlohmann::json& value)
        {
            if (value.is_number_unsigned())
            {
                auto u = value.get<std::uint64_t>();
                if (u > static_cast<std::uint64_t>(INT64_MAX))
                    return std::nullopt;
                return static_cast<std::int64_t>(u);
            }
            return value.get<std::int64_t>();
        }

        std::string check_range(const nlohmann::json& content, const char* name, std::int64_t low, std::int64_t high)
        {
            const nlohmann::json* value = field(content, name);
            if (!value || !value->is_number_integer())
                return {};
            auto number = as_int64(*value);
            if (!number || *number < low || *number > high)
            {
                return problem(error_id::out_of_range, std::string("'") + name + "' must be between " +
                                                           std::to_string(low) + " and " + std::to_string(high));
            }
            return {};
        }

        /// The first non-empty problem.
        std::string first(std::initializer_list<std::string> problems)
        {
            for (const auto& p : problems)
            {
                if (!p.empty())
                    return p;
            }
            return {};
        }

        std::string check_execute(const nlohmann::json& content)
        {
            if (!content.contains("code"))
                return problem(error_id::bad_content, "execute_request needs 'code'");
            std::string p = first({check(content, {{"code", kind::string},
                                                   {"silent", kind::boolean},
                                                   {"store_history", kind::boolean},
                                                   {"allow_stdin", kind::boolean},
                                                   {"stop_on_error", kind::boolean},
                                                   {"user_expressions", kind::object}}),
                                   check_length(content, "code", limits::code_length)});
            if (!p.empty())
                return p;
            if (const nlohmann::json* expressions = field(content, "user_expressions"))
            {
                if (expressions->size() > limits::user_expression_count)
                {
                    return problem(error_id::too_long, "more than " + std::to_string(limits::user_expression_count) +
                                                           " user_expressions");
                }
                for (const auto& [name, expression] : expressions->items())
                {
                    if (!expression.is_string())
                        return problem(error_id::bad_content, "user_expressions values must be strings");
                    if (name.size() + expression.get_ref<const std::string&>().size() > limits::code_length)
                        return problem(error_id::too_long, "a user expression is too long");
                }
            }
            return {};
        }

        std::string check_code_and_cursor(const nlohmann::json& content, bool with_detail)
        {
            std::string p = first({check(content, {{"code", kind::string},
                                                   {"cursor_pos", kind::integer},
                                                   {"detail_level", kind::integer}}),
                                   check_length(content, "code", limits::code_length)});
            if (!p.empty())
                return p;
            // cursor_pos counts code points (protocol 5.2), or UTF-16 units from some browsers; either count is
            // at most the UTF-8 byte count, so this bound refuses only impossible positions.
            const nlohmann::json* code = field(content, "code");
            std::int64_t code_bytes = code ? static_cast<std::int64_t>(code->get_ref<const std::string&>().size()) : 0;
            return first({check_range(content, "cursor_pos", 0, code_bytes),
                          with_detail ? check_range(content, "detail_level", 0, 1) : std::string()});
        }

        std::string check_history(const nlohmann::json& content)
        {
            return first({check(content, {{"hist_access_type", kind::string},
                                           {"n", kind::integer},
                                           {"session", kind::integer},
                                           {"start", kind::integer},
                                           {"stop", kind::integer},
                                           {"pattern", kind::string},
                                           {"raw", kind::boolean},
                                           {"output", kind::boolean},
                                           {"unique", kind::boolean}}),
                          check_length(content, "hist_access_type", limits::header_field_length),
                          check_length(content, "pattern", limits::code_length),
                          check_range(content, "n", 0, limits::history_count),
                          check_range(content, "session", -limits::history_index, limits::history_index),
                          check_range(content, "start", -limits::history_index, limits::history_index),
                          check_range(content, "stop", -limits::history_index, limits::history_index)});
        }

        std::string check_comm(const std::string& msg_type, const nlohmann::json& content)
        {
            auto id = content.find("comm_id");
            if (id == content.end() || !id->is_string())
                return problem(error_id::comm_bad_id, msg_type + " needs a 'comm_id' string");
            std::string p = comm_id_problem(id->get_ref<const std::string&>());
            if (!p.empty())
                return p;
            auto target = content.find("target_name");
            bool needs_target = msg_type == "comm_open";
            if ((needs_target && target == content.end()) || (target != content.end() && !target->is_string()))
                return problem(error_id::comm_bad_target, msg_type + " needs a 'target_name' string");
            p = check_length(content, "target_name", limits::target_name_length, error_id::comm_bad_target);
            if (!p.empty())
                return p;
            const nlohmann::json* data = field(content, "data");
            if (data && !data->is_object())
                return problem(error_id::bad_content, "'data' must be an object");
            return {};
        }
    }

    std::string request_header_problem(const nlohmann::json& header, const nlohmann::json& parent_header)
    {
        static const char* const fields[] = {"msg_id", "msg_type", "session", "username", "version", "date"};
        for (const auto* which : {&header, &parent_header})
        {
            if (!which->is_object())
                return problem(error_id::wire_bad_header, "a header must be an object");
            for (const char* name : fields)
            {
                auto it = which->find(name);
                if (it == which->end())
                    continue;
                const nlohmann::json* value = &*it; // null too: read with json::value(name, ""), which throws on it
                if (!value->is_string())
                    return problem(error_id::wire_bad_header, std::string("'") + name + "' must be a string");
                if (value->get_ref<const std::string&>().size() > limits::header_field_length)
                {
                    return problem(error_id::wire_bad_header, std::string("'") + name + "' is longer than " +
                                                                  std::to_string(limits::header_field_length) +
                                                                  " bytes");
                }
            }
        }
        auto msg_type = header.find("msg_type");
        if (msg_type == header.end() || !msg_type->is_string() || msg_type->get_ref<const std::string&>().empty())
            return problem(error_id::wire_bad_header, "header has no msg_type string");
        return {};
    }

    std::string request_metadata_problem(const nlohmann::json& metadata)
    {
        if (!metadata.is_object())
            return problem(error_id::bad_content, "metadata must be an object");
        std::string p = check(metadata, {{"atrium_note", kind::string}});
        if (!p.empty())
            return p;
        return check_length(metadata, "atrium_note", limits::note_name_length);
    }

    std::string request_content_problem(const std::string& msg_type, const nlohmann::json& content)
    {
        if (!content.is_object())
            return problem(error_id::bad_content, "content must be an object");
        if (msg_type == "execute_request")
            return check_execute(content);
        if (msg_type == "complete_request")
            return check_code_and_cursor(content, false);
        if (msg_type == "inspect_request")
            return check_code_and_cursor(content, true);
        if (msg_type == "is_complete_request")
            return first({check(content, {{"code", kind::string}}), check_length(content, "code", limits::code_length)});
        if (msg_type == "history_request")
            return check_history(content);
        if (msg_type == "shutdown_request")
        {
            // A null restart is left to the shutdown handler, which decides what it means.
            const nlohmann::json* restart = field(content, "restart");
            return restart && !restart->is_boolean() ? problem(error_id::bad_content, "'restart' must be a boolean")
                                                     : std::string();
        }
        if (msg_type == "comm_info_request")
        {
            return first({check(content, {{"target_name", kind::string}}),
                          check_length(content, "target_name", limits::target_name_length, error_id::comm_bad_target)});
        }
        if (msg_type == "comm_open" || msg_type == "comm_msg" || msg_type == "comm_close")
            return check_comm(msg_type, content);
        if (msg_type == "input_reply")
            return first({check(content, {{"value", kind::string}}), check_length(content, "value", limits::code_length)});
        return {};
    }

    std::string request_problem(const nlohmann::json& header, const nlohmann::json& parent_header,
                                const nlohmann::json& metadata, const nlohmann::json& content)
    {
        std::string p = request_header_problem(header, parent_header);
        if (!p.empty())
            return p;
        p = request_metadata_problem(metadata);
        if (!p.empty())
            return p;
        return request_content_problem(header["msg_type"].get<std::string>(), content);
    }

    std::string channel_problem(std::string_view channel, const std::string& msg_type)
    {
        static const char* const control_types[] = {"kernel_info_request", "shutdown_request", "interrupt_request",
                                                    "debug_request", "atrium_reset_context_request"};
        bool allowed = true;
        if (channel == "control")
        {
            allowed = false;
            for (const char* type : control_types)
                allowed = allowed || msg_type == type;
        }
        else if (channel == "stdin")
        {
            allowed = msg_type == "input_reply";
        }
        if (allowed)
            return {};
        return problem(error_id::wrong_channel, msg_type + " is not accepted on the " + std::string(channel) + " channel");
    }

    bool has_no_reply(const std::string& msg_type)
    {
        return reply_type_for(msg_type) == msg_type;
    }
}
