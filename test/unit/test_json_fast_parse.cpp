// SPDX-License-Identifier: MIT
#include "kernel/json_fast_parse.hpp"
#include "kernel/json_writer.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

using nlohmann::json;

namespace
{
    /// What the fast parser gives must be what nlohmann gives; when it declines, nothing is lost.
    void check_against_nlohmann(const std::string& text)
    {
        auto fast = atrium::parse_json_fast(text);
        json reference = json::parse(text, nullptr, /*allow_exceptions=*/false);
        if (fast)
        {
            INFO(text);
            REQUIRE_FALSE(reference.is_discarded());
            CHECK(atrium::json_identical(*fast, reference));
        }
    }
}

TEST_CASE("the fast parser reads a request as nlohmann does")
{
    const std::string header = R"({"date": "2026-11-27T12:00:00.000000Z", "msg_id": "a1b2-3", )"
                               R"("msg_type": "execute_request", "session": "s", "username": "", "version": "5.3"})";
    const std::string content = R"({"code":"pass","silent":false,"store_history":true,"user_expressions":{},)"
                                R"("allow_stdin":true,"stop_on_error":true,"n":[1,-2,0,-0,123456789012345678]})";
    for (const std::string& text : {header, content})
    {
        auto fast = atrium::parse_json_fast(text);
        REQUIRE(fast);
        CHECK(atrium::json_identical(*fast, json::parse(text)));
    }
    CHECK(atrium::parse_json_fast(content)->at("n")[0].is_number_unsigned());
    CHECK(atrium::parse_json_fast(content)->at("n")[1].is_number_integer());
    CHECK(atrium::parse_json_fast(R"({"a":1,"a":2})")->at("a") == 2); // the last of repeated keys
}

TEST_CASE("the fast parser declines what it does not read itself")
{
    for (const char* text : {R"({"a":"\n"})", "{\"a\":\"caf\xC3\xA9\"}", R"({"a":1.5})", R"({"a":1e3})",
                             R"({"a":1234567890123456789})", R"({"a":01})", R"({"a":1,})", R"({"a" 1})", "{",
                             R"({"a":tru})", R"({"a":"x)", "\xEF\xBB\xBF{}", R"({"a":-})", "{} x", "",
                             "{\"a\":\"\x7f\"}"})
    {
        INFO(text);
        CHECK_FALSE(atrium::parse_json_fast(text));
    }
    CHECK(atrium::parse_json_fast(" \t\r\n{ \"a\" : [ ] , \"b\" : { } } \n"));
}

TEST_CASE("the fast parser agrees with nlohmann on mutated requests")
{
    // Random edits of JSON-like text: wherever the fast parser accepts, nlohmann accepts the same value.
    const std::vector<std::string> seeds = {
        R"({"code":"pass","silent":false,"n":[1,-2,{"x":null}],"t":true})",
        R"([{"a":[]},{"b":{}},"s",0,-1,18446744073709551615])",
        R"({"msg_id":"x","msg_type":"status","username":"","session":"y"})",
    };
    const std::string alphabet = "{}[]\",:-0123456789.eE truefalsn\\\t\nab\x7f\xC3";
    std::mt19937 random(42);
    for (int i = 0; i < 200000; ++i)
    {
        std::string text = seeds[random() % seeds.size()];
        int edits = 1 + static_cast<int>(random() % 3);
        for (int e = 0; e < edits && !text.empty(); ++e)
        {
            std::size_t at = random() % text.size();
            char c = alphabet[random() % alphabet.size()];
            switch (random() % 3)
            {
            case 0: text[at] = c; break;
            case 1: text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), c); break;
            default: text.erase(at, 1);
            }
        }
        check_against_nlohmann(text);
    }
}
