// SPDX-License-Identifier: MIT
#include "kernel/message_header.hpp"

#include <catch2/catch.hpp>

#include <regex>
#include <set>

TEST_CASE("headers carry every protocol field")
{
    auto header = atrium::make_message_header("status", "alice", "s1");
    CHECK(header["msg_type"] == "status");
    CHECK(header["username"] == "alice");
    CHECK(header["session"] == "s1");
    CHECK(header["version"] == "5.3");
    CHECK(std::regex_match(header["date"].get<std::string>(),
                           std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")));
}

TEST_CASE("message ids are unique")
{
    std::set<std::string> ids;
    for (int i = 0; i < 10000; ++i)
        ids.insert(atrium::make_message_header("x", "u", "s")["msg_id"].get<std::string>());
    CHECK(ids.size() == 10000);
}

TEST_CASE("dates are ISO 8601 UTC with microseconds, zero-padded")
{
    for (int i = 0; i < 100; ++i)
        CHECK(std::regex_match(atrium::iso8601_utc_now(), std::regex(R"(20\d\d-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-6]\d\.\d{6}Z)")));
}
