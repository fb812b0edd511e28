// SPDX-License-Identifier: MIT
#include "session/idle_tracker.hpp"

#include <catch2/catch.hpp>

using atrium::idle_tracker;
using namespace std::chrono_literals;

TEST_CASE("idle tracking")
{
    idle_tracker tracker;
    const auto t0 = idle_tracker::clock::time_point{} + 1000s;
    tracker.touch("note:a", t0);
    tracker.touch("note:b", t0 + 30s);

    SECTION("keys untouched for longer than the timeout are idle")
    {
        CHECK(tracker.idle_since(t0 + 60s, 60s).empty()); // exactly the timeout is not longer than it
        CHECK(tracker.idle_since(t0 + 61s, 60s) == std::vector<std::string>{"note:a"});
        CHECK(tracker.idle_since(t0 + 91s, 60s) == std::vector<std::string>{"note:a", "note:b"});
    }
    SECTION("a touch restarts the idle period")
    {
        tracker.touch("note:a", t0 + 50s);
        CHECK(tracker.idle_since(t0 + 80s, 60s).empty());
        CHECK(tracker.idle_since(t0 + 111s, 60s) == std::vector<std::string>{"note:a", "note:b"});
        CHECK(tracker.last_activity("note:a") == t0 + 50s);
    }
    SECTION("an older touch arriving late does not move time back")
    {
        tracker.touch("note:b", t0);
        CHECK(tracker.last_activity("note:b") == t0 + 30s);
    }
    SECTION("busy keys are never idle")
    {
        tracker.busy("note:a", true);
        CHECK(tracker.is_busy("note:a"));
        CHECK(tracker.idle_since(t0 + 1000s, 60s) == std::vector<std::string>{"note:b"});
        tracker.busy("note:a", false);
        tracker.touch("note:a", t0 + 1000s);
        CHECK(tracker.idle_since(t0 + 1030s, 60s) == std::vector<std::string>{"note:b"});
        CHECK(tracker.idle_since(t0 + 1061s, 60s) == std::vector<std::string>{"note:a", "note:b"});
    }
    SECTION("a key only marked busy has no activity to measure and is never reported")
    {
        tracker.busy("note:c", true);
        tracker.busy("note:c", false);
        CHECK_FALSE(tracker.last_activity("note:c"));
        CHECK(tracker.idle_since(t0 + 10000s, 60s) == std::vector<std::string>{"note:a", "note:b"});
        CHECK(tracker.keys() == std::vector<std::string>{"note:a", "note:b", "note:c"});
    }
    SECTION("a zero timeout means culling is off")
    {
        CHECK(tracker.idle_since(t0 + 10000s, 0s).empty());
        CHECK(tracker.idle_since(t0 + 10000s, -5s).empty());
    }
    SECTION("forgotten keys are gone")
    {
        tracker.forget("note:a");
        tracker.forget("never-seen");
        CHECK(tracker.keys() == std::vector<std::string>{"note:b"});
        CHECK_FALSE(tracker.last_activity("note:a"));
        CHECK_FALSE(tracker.is_busy("note:a"));
        CHECK(tracker.idle_since(t0 + 1000s, 60s) == std::vector<std::string>{"note:b"});
    }
}
