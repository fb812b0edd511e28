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

TEST_CASE("HMAC-SHA256 with keys longer than, and exactly, one block, and a long message")
{
    // RFC 4231 test case 6: a 131-byte key is hashed first.
    message_signer long_key("hmac-sha256", std::string(131, '\xaa'));
    CHECK(long_key.sign("Test Using Larger Than Block-Size Key", " - ", "Hash Key ", "First") ==
          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    // Reference values from Python's hmac module.
    message_signer block_key("hmac-sha256", std::string(64, 'k'));
    CHECK(block_key.sign("h", "p", "m", "c") == "073dc4d1cc9ea5dcc38b038a59be8b8b711295ea7ac5ac03ea3ae8976c56c0cb");
    message_signer signer("hmac-sha256", "Jefe");
    CHECK(signer.sign(std::string(300, 'x'), "", std::string(700, 'x'), "") ==
          "24f53a8abc955ac3ceb3eaa686c3fbe257035de0deb350ae3c815d7df0d758c6");
    // The keyed state is reused, never consumed: the same message signs the same twice.
    CHECK(signer.sign("a", "b", "c", "d") == signer.sign("a", "b", "c", "d"));
}

TEST_CASE("other digests go through OpenSSL's HMAC")
{
    // RFC 4231 test case 2 with SHA-512.
    message_signer signer("hmac-sha512", "Jefe");
    CHECK(signer.sign("what do ", "ya want ", "for ", "nothing?") ==
          "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a"
          "6b4b636e070a38bce737");
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
