// SPDX-License-Identifier: MIT
#include "session/recent_map.hpp"

#include <catch2/catch.hpp>

using namespace atrium;

TEST_CASE("recent maps keep their newest entries")
{
    recent_map<std::string> map(3);
    map.put("a", "1");
    map.put("b", "2");
    map.put("c", "3");
    SECTION("past the limit the oldest goes")
    {
        map.put("d", "4");
        CHECK(map.size() == 3);
        CHECK_FALSE(map.find("a"));
        REQUIRE(map.find("d"));
        CHECK(*map.find("d") == "4");
    }
    SECTION("putting a key again makes it the newest, with its new value")
    {
        map.put("a", "1 again");
        map.put("d", "4");
        CHECK_FALSE(map.find("b"));
        REQUIRE(map.find("a"));
        CHECK(*map.find("a") == "1 again");
    }
    SECTION("an erased key makes room and leaves no trace in the age order")
    {
        map.erase("b");
        map.erase("never-put");
        map.put("d", "4"); // room: nothing goes
        CHECK(map.size() == 3);
        CHECK(map.find("a"));
        // A key put, erased and put again is as new as its last put: no older record of it evicts it.
        map.erase("a");
        map.put("a", "back");
        map.put("e", "5"); // the oldest is now c
        CHECK_FALSE(map.find("c"));
        REQUIRE(map.find("a"));
        CHECK(*map.find("a") == "back");
    }
}
