// SPDX-License-Identifier: MIT
#include "session/binding.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace atrium;
using namespace std::chrono_literals;

namespace
{
    /// A fake environment: tests never read or change the real one.
    getenv_function environment(std::map<std::string, std::string> variables)
    {
        return [variables = std::move(variables)](const char* name) -> const char*
        {
            auto found = variables.find(name);
            return found == variables.end() ? nullptr : found->second.c_str();
        };
    }
}

TEST_CASE("binding modes and scopes")
{
    SECTION("the default is one shared context, never culled")
    {
        binding_config config;
        CHECK(config.mode == binding_mode::shared);
        CHECK(config.scope == binding_scope::note);
        CHECK(config.cull_idle_after == 0ms);
        CHECK_FALSE(config.operator_view);
        CHECK(describe(config) == "shared");
    }
    SECTION("names parse both ways, ignoring case")
    {
        for (auto mode : {binding_mode::shared, binding_mode::scoped, binding_mode::isolated})
        {
            CHECK(parse_mode(to_string(mode)) == mode);
        }
        for (auto scope : {binding_scope::note, binding_scope::user})
        {
            CHECK(parse_scope(to_string(scope)) == scope);
        }
        CHECK(parse_mode("Scoped") == binding_mode::scoped);
        CHECK(parse_scope("USER") == binding_scope::user);
    }
    SECTION("unknown names give an error with a stable id and the expected values")
    {
        CHECK_THROWS_AS(parse_mode("foo"), binding_error);
        CHECK_THROWS_AS(parse_mode("foo"), std::invalid_argument);
        CHECK_THROWS_WITH(parse_mode("foo"),
                          "[binding.bad_mode] unknown mode 'foo' (expected shared, scoped or isolated)");
        CHECK_THROWS_WITH(parse_mode(""), Catch::StartsWith("[binding.bad_mode]"));
        CHECK_THROWS_WITH(parse_scope("team"),
                          Catch::StartsWith("[binding.bad_scope] unknown scope 'team'") &&
                              Catch::Contains("note or user"));
    }
    SECTION("only scoped or isolated contexts per user are access-controlled")
    {
        CHECK_FALSE(is_per_user({binding_mode::shared, binding_scope::user, 0ms, false}));
        CHECK_FALSE(is_per_user({binding_mode::scoped, binding_scope::note, 0ms, false}));
        CHECK(is_per_user({binding_mode::scoped, binding_scope::user, 0ms, false}));
        CHECK(is_per_user({binding_mode::isolated, binding_scope::user, 0ms, false}));
    }
    SECTION("describe names what matters for the mode")
    {
        CHECK(describe({binding_mode::shared, binding_scope::user, 0ms, false}) == "shared");
        CHECK(describe({binding_mode::scoped, binding_scope::user, 90s, true}) ==
              "scoped/user, cull after 90 s idle, operator view");
        CHECK(describe({binding_mode::isolated, binding_scope::note, 1500ms, false}) ==
              "isolated/note, cull after 1500 ms idle");
    }
}

TEST_CASE("idle cull periods")
{
    SECTION("whole and fractional seconds")
    {
        CHECK(parse_cull_seconds("0") == 0ms);
        CHECK(parse_cull_seconds("90") == 90s);
        CHECK(parse_cull_seconds("0.5") == 500ms);
        CHECK(parse_cull_seconds(".25") == 250ms);
        CHECK(parse_cull_seconds("3.") == 3s);
        CHECK(parse_cull_seconds("000000000042") == 42s);
        CHECK(parse_cull_seconds("999999999") == std::chrono::seconds(999999999));
    }
    SECTION("a positive period never rounds down to 'never'")
    {
        CHECK(parse_cull_seconds("0.0001") == 1ms);
        CHECK(parse_cull_seconds("1.0001") == 1001ms);
        CHECK(parse_cull_seconds("0.0000") == 0ms);
    }
    SECTION("anything but a non-negative decimal is refused")
    {
        for (const char* bad :
             {"", ".", "-1", "+1", "1e3", "inf", "nan", "0x10", " 5", "5 ", "1.2.3", "5s", "1000000000"})
        {
            CAPTURE(bad);
            CHECK_THROWS_WITH(parse_cull_seconds(bad), Catch::StartsWith("[binding.bad_cull]"));
        }
    }
}

TEST_CASE("operator view values")
{
    for (const char* yes : {"1", "true", "yes", "TRUE", "Yes"})
    {
        CHECK(parse_operator_view(yes));
    }
    for (const char* no : {"0", "false", "no", "No"})
    {
        CHECK_FALSE(parse_operator_view(no));
    }
    CHECK_THROWS_WITH(parse_operator_view("maybe"), Catch::StartsWith("[binding.bad_operator_view]"));
    CHECK_THROWS_WITH(parse_operator_view("2"), Catch::StartsWith("[binding.bad_operator_view]"));
}

TEST_CASE("binding from the environment")
{
    SECTION("nothing set keeps the defaults")
    {
        auto config = binding_from_environment(environment({}));
        CHECK(config.mode == binding_mode::shared);
        CHECK(config.cull_idle_after == 0ms);
    }
    SECTION("empty variables count as unset")
    {
        auto config =
            binding_from_environment(environment({{"ATRIUM_MODE", ""}, {"ATRIUM_CULL_IDLE_SECONDS", ""}}));
        CHECK(config.mode == binding_mode::shared);
    }
    SECTION("every variable is read")
    {
        auto config = binding_from_environment(environment({{"ATRIUM_MODE", "scoped"},
                                                            {"ATRIUM_SCOPE", "user"},
                                                            {"ATRIUM_CULL_IDLE_SECONDS", "600"},
                                                            {"ATRIUM_OPERATOR_VIEW", "yes"}}));
        CHECK(config.mode == binding_mode::scoped);
        CHECK(config.scope == binding_scope::user);
        CHECK(config.cull_idle_after == 600s);
        CHECK(config.operator_view);
    }
    SECTION("a bad value names its variable after the error id")
    {
        CHECK_THROWS_WITH(binding_from_environment(environment({{"ATRIUM_MODE", "foo"}})),
                          Catch::StartsWith("[binding.bad_mode] unknown mode 'foo'") &&
                              Catch::EndsWith("in ATRIUM_MODE"));
        CHECK_THROWS_WITH(binding_from_environment(environment({{"ATRIUM_SCOPE", "x"}})),
                          Catch::StartsWith("[binding.bad_scope]") && Catch::EndsWith("in ATRIUM_SCOPE"));
        CHECK_THROWS_WITH(binding_from_environment(environment({{"ATRIUM_CULL_IDLE_SECONDS", "-5"}})),
                          Catch::StartsWith("[binding.bad_cull]") &&
                              Catch::EndsWith("in ATRIUM_CULL_IDLE_SECONDS"));
        CHECK_THROWS_WITH(binding_from_environment(environment({{"ATRIUM_OPERATOR_VIEW", "sure"}})),
                          Catch::StartsWith("[binding.bad_operator_view]"));
        CHECK_THROWS_AS(binding_from_environment(environment({{"ATRIUM_OPERATOR_VIEW", "sure"}})),
                        binding_error);
    }
}
