// SPDX-License-Identifier: MIT
#include "session/worker_message_check.hpp"

#include <catch2/catch.hpp>

using namespace atrium::worker_message_check;
using nlohmann::json;

TEST_CASE("worker messages: every field the kernel reads has its type")
{
    json publish = {{"type", "publish"}, {"q", 3}, {"msg_type", "stream"}, {"parent", {{"msg_id", "m"}}},
                    {"content", json::object()}, {"metadata", json::object()}, {"cell_id", 2}};
    CHECK(problem(publish).empty());
    for (auto [field, bad] : std::vector<std::pair<std::string, json>>{
             {"q", "x"}, {"parent", 5}, {"cell_id", "x"}, {"msg_type", 7}, {"content", json::array()}})
    {
        json broken = publish;
        broken[field] = bad;
        CHECK_FALSE(problem(broken).empty());
    }
    json bad_parent = publish;
    bad_parent["parent"]["msg_id"] = 1;
    CHECK(problem(bad_parent) == "`parent.msg_id` is not a string");
    CHECK_FALSE(problem(json::array()).empty());
    CHECK_FALSE(problem({{"type", "input_request"}, {"prompt", 7}}).empty());
    CHECK_FALSE(problem({{"type", "comm_opened"}, {"comm_id", "c"}}).empty());
    CHECK(problem({{"type", "pong"}}).empty());
}

TEST_CASE("cell replies: an object content with a string status")
{
    json reply = {{"type", "reply"}, {"id", 1}, {"content", {{"status", "ok"}}}, {"after", 4}, {"paused", false}};
    CHECK(reply_problem(reply).empty());
    CHECK(reply_problem({{"type", "reply"}, {"id", 1}, {"content", json::array()}}) == "`content` is not an object");
    CHECK(reply_problem({{"type", "reply"}, {"id", 1}, {"content", {{"status", 1}}}}) ==
          "`content.status` is not a string");
    json late = reply;
    late["after"] = "x";
    CHECK_FALSE(reply_problem(late).empty());
    late = reply;
    late["type"] = "publish";
    CHECK_FALSE(reply_problem(late).empty());
}
