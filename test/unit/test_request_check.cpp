// SPDX-License-Identifier: MIT
#include "kernel/request_check.hpp"

#include <catch2/catch.hpp>

using atrium::request_content_problem;
using nlohmann::json;

namespace
{
    bool starts_with(const std::string& text, std::string_view prefix)
    {
        return text.compare(0, prefix.size(), prefix) == 0;
    }

    json header_of(const std::string& msg_type)
    {
        return {{"msg_id", "m1"}, {"msg_type", msg_type}, {"session", "s1"}, {"username", ""}, {"version", "5.3"}};
    }
}

TEST_CASE("request contents with wrong field types are named")
{
    CHECK(request_content_problem("execute_request", {{"code", "1"}}).empty());
    CHECK(request_content_problem("execute_request", {{"code", 42}}).find("'code' must be a string") !=
          std::string::npos);
    CHECK(request_content_problem("execute_request", json::object()).find("needs 'code'") != std::string::npos);
    CHECK(request_content_problem("execute_request", {{"code", ""}, {"silent", "yes"}}).find("silent") !=
          std::string::npos);
    CHECK(request_content_problem("complete_request", {{"code", "x"}, {"cursor_pos", "1"}}).find("cursor_pos") !=
          std::string::npos);
    CHECK(request_content_problem("history_request", {{"n", 3}}).empty());
    CHECK(request_content_problem("some_unknown_request", {{"x", 1}}).empty());
    CHECK(starts_with(request_content_problem("execute_request", json::array()), atrium::error_id::bad_content));
    // Found by the live fuzzer: the kernel reads these with json::value, which throws on null.
    CHECK(starts_with(request_content_problem("execute_request", {{"code", ""}, {"silent", nullptr}}),
                      atrium::error_id::bad_content));
    CHECK(starts_with(request_content_problem("complete_request", {{"code", ""}, {"cursor_pos", nullptr}}),
                      atrium::error_id::bad_content));
    CHECK(request_content_problem("shutdown_request", {{"restart", nullptr}}).empty());
    CHECK(starts_with(request_content_problem("shutdown_request", {{"restart", "yes"}}), atrium::error_id::bad_content));
}

TEST_CASE("comm ids are bounded by what a xeus guid holds")
{
    using atrium::error_id::comm_bad_id;
    for (const char* type : {"comm_open", "comm_msg", "comm_close"})
    {
        SECTION(type)
        {
            json content = {{"comm_id", std::string(55, 'c')}, {"target_name", "t"}, {"data", json::object()}};
            CHECK(request_content_problem(type, content).empty());
            for (std::size_t length : {56, 100, 1000, 10000})
            {
                content["comm_id"] = std::string(length, 'c');
                CHECK(starts_with(request_content_problem(type, content), comm_bad_id));
            }
            content["comm_id"] = "";
            CHECK(starts_with(request_content_problem(type, content), comm_bad_id));
            content["comm_id"] = 7;
            CHECK(starts_with(request_content_problem(type, content), comm_bad_id));
            content.erase("comm_id");
            CHECK(starts_with(request_content_problem(type, content), comm_bad_id));
        }
    }
    CHECK(atrium::comm_id_problem(std::string(55, 'x')).empty());
    CHECK(starts_with(atrium::comm_id_problem(std::string(56, 'x')), comm_bad_id));
}

TEST_CASE("comm targets and data are checked")
{
    using atrium::error_id::comm_bad_target;
    CHECK(starts_with(request_content_problem("comm_open", {{"comm_id", "a"}}), comm_bad_target));
    CHECK(starts_with(request_content_problem("comm_open", {{"comm_id", "a"}, {"target_name", 3}}), comm_bad_target));
    CHECK(starts_with(request_content_problem("comm_open", {{"comm_id", "a"},
                                                            {"target_name", std::string(atrium::limits::target_name_length + 1, 't')}}),
                      comm_bad_target));
    CHECK(request_content_problem("comm_msg", {{"comm_id", "a"}}).empty()); // only comm_open needs a target
    CHECK(starts_with(request_content_problem("comm_msg", {{"comm_id", "a"}, {"data", "text"}}),
                      atrium::error_id::bad_content));
    CHECK(starts_with(request_content_problem("comm_info_request",
                                              {{"target_name", std::string(atrium::limits::target_name_length + 1, 't')}}),
                      comm_bad_target));
    CHECK(request_content_problem("comm_info_request", json::object()).empty());
}

TEST_CASE("numbers are held to their protocol ranges")
{
    using atrium::error_id::out_of_range;
    CHECK(request_content_problem("complete_request", {{"code", "abc"}, {"cursor_pos", 3}}).empty());
    CHECK(starts_with(request_content_problem("complete_request", {{"code", "abc"}, {"cursor_pos", 4}}), out_of_range));
    CHECK(starts_with(request_content_problem("complete_request", {{"code", "abc"}, {"cursor_pos", -1}}), out_of_range));
    CHECK(starts_with(request_content_problem("inspect_request", {{"code", "abc"}, {"cursor_pos", UINT64_MAX}}),
                      out_of_range));
    // A browser counting UTF-16 units may point past the code points of an emoji, never past its bytes.
    CHECK(request_content_problem("complete_request", {{"code", "\xF0\x9F\x98\x80"}, {"cursor_pos", 2}}).empty());
    CHECK(request_content_problem("inspect_request", {{"code", "x"}, {"cursor_pos", 1}, {"detail_level", 1}}).empty());
    CHECK(starts_with(request_content_problem("inspect_request", {{"code", "x"}, {"detail_level", 2}}), out_of_range));
    CHECK(starts_with(request_content_problem("inspect_request", {{"code", "x"}, {"cursor_pos", 1.5}}),
                      atrium::error_id::bad_content));
    CHECK(starts_with(request_content_problem("history_request", {{"n", -1}}), out_of_range));
    CHECK(starts_with(request_content_problem("history_request", {{"n", atrium::limits::history_count + 1}}),
                      out_of_range));
    CHECK(request_content_problem("history_request", {{"session", -1}, {"start", 1}, {"stop", 3}}).empty());
    CHECK(starts_with(request_content_problem("history_request", {{"start", INT64_MIN}}), out_of_range));
    CHECK(starts_with(request_content_problem("history_request", {{"stop", 1LL << 40}}), out_of_range));
}

TEST_CASE("code and other strings are bounded")
{
    using atrium::error_id::too_long;
    std::string huge(atrium::limits::code_length + 1, 'x');
    CHECK(starts_with(request_content_problem("execute_request", {{"code", huge}}), too_long));
    CHECK(starts_with(request_content_problem("complete_request", {{"code", huge}}), too_long));
    CHECK(starts_with(request_content_problem("is_complete_request", {{"code", huge}}), too_long));
    CHECK(starts_with(request_content_problem("input_reply", {{"value", huge}}), too_long));
    CHECK(starts_with(request_content_problem("input_reply", {{"value", 1}}), atrium::error_id::bad_content));
    CHECK(starts_with(request_content_problem("execute_request", {{"code", ""}, {"user_expressions", {{"a", 1}}}}),
                      atrium::error_id::bad_content));
    json many = json::object();
    for (std::size_t i = 0; i <= atrium::limits::user_expression_count; ++i)
        many[std::to_string(i)] = "1";
    CHECK(starts_with(request_content_problem("execute_request", {{"code", ""}, {"user_expressions", many}}), too_long));
}

TEST_CASE("headers: known fields are bounded strings")
{
    using atrium::request_header_problem;
    using atrium::error_id::wire_bad_header;
    CHECK(request_header_problem(header_of("kernel_info_request"), json::object()).empty());
    for (const char* field : {"msg_id", "msg_type", "session", "username", "version", "date"})
    {
        SECTION(field)
        {
            json header = header_of("kernel_info_request");
            header[field] = 5;
            CHECK(starts_with(request_header_problem(header, json::object()), wire_bad_header));
            header[field] = std::string(atrium::limits::header_field_length + 1, 'h');
            CHECK(starts_with(request_header_problem(header, json::object()), wire_bad_header));
            // The parent header is read too (an input_reply is matched by its parent's msg_id).
            json parent = header_of("execute_request");
            parent[field] = json::array();
            CHECK(starts_with(request_header_problem(header_of("x"), parent), wire_bad_header));
        }
    }
    CHECK(starts_with(request_header_problem(header_of(""), json::object()), wire_bad_header));
    CHECK(starts_with(request_header_problem(json::object(), json::object()), wire_bad_header));
    CHECK(starts_with(request_header_problem({{"msg_type", "x"}, {"session", nullptr}}, json::object()), wire_bad_header));
}

TEST_CASE("the whole message: header, metadata, then content")
{
    using atrium::request_problem;
    json content = {{"comm_id", std::string(100, 'c')}};
    CHECK(starts_with(request_problem(header_of("comm_msg"), json::object(), json::object(), content),
                      atrium::error_id::comm_bad_id));
    CHECK(starts_with(request_problem(header_of("execute_request"), json::object(), {{"atrium_note", 3}}, {{"code", ""}}),
                      atrium::error_id::bad_content));
    CHECK(starts_with(request_problem(header_of("execute_request"), json::object(),
                                      {{"atrium_note", std::string(atrium::limits::note_name_length + 1, 'n')}},
                                      {{"code", ""}}),
                      atrium::error_id::too_long));
    CHECK(request_problem(header_of("execute_request"), json::object(), {{"atrium_note", "a"}}, {{"code", ""}}).empty());
}

TEST_CASE("control takes control requests, stdin only input_reply")
{
    using atrium::channel_problem;
    for (const char* type : {"kernel_info_request", "shutdown_request", "interrupt_request", "debug_request",
                             "atrium_reset_context_request"})
        CHECK(channel_problem("control", type).empty());
    for (const char* type : {"execute_request", "complete_request", "comm_open", "comm_msg", "input_reply", "x"})
        CHECK(starts_with(channel_problem("control", type), atrium::error_id::wrong_channel));
    CHECK(channel_problem("stdin", "input_reply").empty());
    CHECK(starts_with(channel_problem("stdin", "shutdown_request"), atrium::error_id::wrong_channel));
    CHECK(channel_problem("shell", "execute_request").empty());
}

TEST_CASE("reply names")
{
    CHECK(atrium::reply_type_for("execute_request") == "execute_reply");
    CHECK(atrium::reply_type_for("comm_info_request") == "comm_info_reply");
    CHECK(atrium::reply_type_for("comm_msg") == "comm_msg");
    CHECK(atrium::has_no_reply("comm_msg"));
    CHECK(atrium::has_no_reply("input_reply"));
    CHECK(!atrium::has_no_reply("kernel_info_request"));
}
