// SPDX-License-Identifier: MIT
#include "embed/utf8.hpp"

#include <catch2/catch.hpp>

using atrium::repair_utf8;

TEST_CASE("valid UTF-8 passes unchanged")
{
    CHECK(repair_utf8("plain") == "plain");
    CHECK(repair_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
}

TEST_CASE("ill-formed bytes become U+FFFD")
{
    const std::string fffd = "\xEF\xBF\xBD";
    CHECK(repair_utf8("\xFF\xFE ok") == fffd + fffd + " ok");
    CHECK(repair_utf8("\xC3") == fffd);                            // truncated
    CHECK(repair_utf8("\xC0\xAF") == fffd + fffd);                 // overlong
    CHECK(repair_utf8("\xED\xA0\x80") == fffd + fffd + fffd);      // surrogate
    CHECK(repair_utf8("a\xF4\x90\x80\x80z") == "a" + fffd + fffd + fffd + fffd + "z"); // above U+10FFFF
}
