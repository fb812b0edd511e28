// SPDX-License-Identifier: MIT
#include "kernel/request_check.hpp"

#include <catch2/catch.hpp>

using atrium::request_content_problem;

TEST_CASE("request contents with wrong field types are named")
{
    CHECK(request_content_problem("execute_request", {{"code", "1"}}).empty());
    CHECK(request_content_problem("execute_request", {{"code", 42}}).find("'code' must be a string") !=
          std::string::npos);
    CHECK(request_content_problem("execute_request", nlohmann::json::object()).find("needs 'code'") !=
          std::string::npos);
    CHECK(request_content_problem("execute_request", {{"code", ""}, {"silent", "yes"}}).find("silent") !=
          std::string::npos);
    CHECK(request_content_problem("complete_request", {{"code", "x"}, {"cursor_pos", "1"}}).find("cursor_pos") !=
          std::string::npos);
    CHECK(request_content_problem("history_request", {{"n", 3}}).empty());
    CHECK(request_content_problem("some_unknown_request", {{"x", 1}}).empty());
}

TEST_CASE("reply names")
{
    CHECK(atrium::reply_type_for("execute_request") == "execute_reply");
    CHECK(atrium::reply_type_for("comm_info_request") == "comm_info_reply");
    CHECK(atrium::reply_type_for("comm_msg") == "comm_msg");
}
