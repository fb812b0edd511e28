// SPDX-License-Identifier: MIT
#include "common/history_store.hpp"

#include <catch2/catch.hpp>

using atrium::history_store;

TEST_CASE("history entries keep the execution counts they ran under")
{
    history_store store(7);
    store.append(1, "a = 1");
    store.append(3, "b = 2");
    store.append(4, "a + b");

    SECTION("tail returns the newest n in order")
    {
        auto tail = store.tail(2);
        REQUIRE(tail.size() == 2);
        CHECK(tail[0].line == 3);
        CHECK(tail[1].line == 4);
        CHECK(tail[1].session == 7);
        CHECK(store.tail(10).size() == 3);
        CHECK(store.tail(0).empty());
    }
    SECTION("range is by line number, stop exclusive, session 0 meaning the current one")
    {
        auto range = store.range(0, 2, 5);
        REQUIRE(range.size() == 2);
        CHECK(range[0].input == "b = 2");
        CHECK(store.range(7, 1, 2).size() == 1);
        CHECK(store.range(3, 1, 10).empty());
    }
    SECTION("search globs whole inputs, keeps the newest n, and can drop duplicates")
    {
        store.append(5, "a + b");
        CHECK(store.search("a*", 0, false).size() == 3);
        auto unique = store.search("a*", 0, true);
        REQUIRE(unique.size() == 2);
        CHECK(unique.back().line == 5);
        auto newest = store.search("*", 1, false);
        REQUIRE(newest.size() == 1);
        CHECK(newest[0].line == 5);
    }
    SECTION("clear forgets everything")
    {
        store.clear();
        CHECK(store.tail(10).empty());
    }
}

TEST_CASE("glob matching")
{
    using atrium::glob_match;
    CHECK(glob_match("*", ""));
    CHECK(glob_match("a?c", "abc"));
    CHECK_FALSE(glob_match("a?c", "ac"));
    CHECK(glob_match("*b*", "aaabccc"));
    CHECK_FALSE(glob_match("*b", "abc"));
    CHECK(glob_match("import *", "import os"));
}
