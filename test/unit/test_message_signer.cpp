// SPDX-License-Identifier: MIT
#include "common/message_signer.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>

using atrium::message_signer;

TEST_CASE("HMAC-SHA256 signatures match the reference value")
{
    // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?" split across the four frames.
    message_signer signer("hmac-sha256", "Jefe");
    CHECK(signer.sign("what do ", "ya want ", "for ", "nothing?") ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("verification")
{
    message_signer signer("hmac-sha256", "secret");
    std::string good = signer.sign("h", "p", "m", "c");
    CHECK(signer.verify(good, "h", "p", "m", "c"));
    CHECK_FALSE(signer.verify(good, "h", "p", "m", "C"));
    std::string flipped = good;
    flipped[10] = flipped[10] == 'a' ? 'b' : 'a';
    CHECK_FALSE(signer.verify(flipped, "h", "p", "m", "c"));
    CHECK_FALSE(signer.verify(good.substr(0, 20), "h", "p", "m", "c"));
    CHECK_FALSE(signer.verify("", "h", "p", "m", "c"));
}

TEST_CASE("an empty key disables signing")
{
    message_signer signer("hmac-sha256", "");
    CHECK_FALSE(signer.enabled());
    CHECK(signer.sign("h", "p", "m", "c").empty());
    CHECK(signer.verify("anything", "h", "p", "m", "c"));
}

TEST_CASE("unsupported schemes are refused with a clear error")
{
    CHECK_THROWS_WITH(message_signer("rsa", "k"), Catch::Contains("unsupported signature scheme"));
    CHECK_THROWS_WITH(message_signer("hmac-nonsense", "k"), Catch::Contains("unknown digest"));
}

TEST_CASE("replay guard")
{
    atrium::replay_guard guard(2);
    CHECK(guard.first_sighting("a"));
    CHECK_FALSE(guard.first_sighting("a"));
    CHECK(guard.first_sighting("b"));
    CHECK(guard.first_sighting("c")); // evicts "a"
    CHECK(guard.first_sighting("a"));
}

TEST_CASE("one replay guard serves two threads")
{
    // The kernel's main thread (shell) and I/O thread (control, stdin) share a guard; the live fuzzer found
    // their unguarded pushes corrupting the heap.
    atrium::replay_guard guard; // holds all 40000: nothing is evicted between a sighting and its replay
    std::atomic<int> first{0};
    auto hammer = [&](char tag)
    {
        for (int i = 0; i < 20000; ++i)
        {
            std::string signature = tag + std::to_string(i);
            if (guard.first_sighting(signature))
                ++first;
            if (guard.first_sighting(signature))
                ++first; // a replay right after: must be refused
        }
    };
    std::thread a(hammer, 'a');
    std::thread b(hammer, 'b');
    a.join();
    b.join();
    CHECK(first.load() == 40000);
}
