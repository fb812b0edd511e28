// SPDX-License-Identifier: MIT
#include "kernel/json_writer.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>

using nlohmann::json;

namespace
{
    std::string reference(const json& value)
    {
        return value.dump(-1, ' ', false, json::error_handler_t::replace);
    }
}

TEST_CASE("output is byte-identical to nlohmann's dump")
{
    std::vector<json> samples = {
        json::object(),
        json::array(),
        {{"name", "stdout"}, {"text", "line 1\nline 2\t\"quoted\" back\\slash\r\b\f"}},
        {{"control", std::string("\x01\x1f\x7f", 3)}, {"nul", std::string("a\0b", 3)}},
        {{"utf8", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"}},
        {{"numbers", {1, -2, 3.5, 1e300, 0}}, {"flags", {true, false, nullptr}}},
        // Integers are written in place, not through dump: its limits and signs.
        {{"limits", {std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max(),
                     std::numeric_limits<std::uint64_t>::max(), -0.0, 1.0}}},
        {{"nested", {{"a", {{"b", json::array({"c", json::object()})}}}}}},
        {{"bad utf8", "\xFF\xFE ok \xC3"}},
        // Found by test/fuzz/fuzz_json: a character cut short is one U+FFFD in nlohmann's dump, not one per byte.
        {{"cut", "\xFF\xFE ok \xE2\x82"}},
        {{"cut inside", "\xE2\x82b \xF0\x9F\x98 \xE2\x82\xE2\x82\xAC \xED\xA0\x80 \xC0\xAF \xF4\x90\x80"}},
    };
    for (const auto& sample : samples)
    {
        CHECK(atrium::to_json(sample) == reference(sample));
    }
}

TEST_CASE("a megabyte of text round-trips")
{
    std::string text;
    for (int i = 0; i < 1000; ++i)
        text += std::to_string(i) + std::string(1000, 'x') + "\n";
    json message = {{"name", "stdout"}, {"text", text}};
    CHECK(json::parse(atrium::to_json(message))["text"] == text);
}
