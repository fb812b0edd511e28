// SPDX-License-Identifier: MIT
#include "kernel/wire_codec.hpp"

#include <catch2/catch.hpp>

using namespace atrium;

namespace
{
    frame_list signed_frames(const message_signer& signer, const std::string& header, const std::string& content)
    {
        frame_list frames{"client-id", std::string(delimiter)};
        frames.push_back(signer.sign(header, "{}", "{}", content));
        frames.insert(frames.end(), {header, "{}", "{}", content});
        return frames;
    }

    const std::string header = R"({"msg_id":"1","msg_type":"execute_request","session":"s","username":"u"})";
}

TEST_CASE("a well-formed signed message decodes")
{
    message_signer signer("hmac-sha256", "key");
    replay_guard replays;
    auto frames = signed_frames(signer, header, R"({"code":"1+1"})");
    frames.push_back("buffer");
    auto result = decode_message(frames, signer, replays);
    REQUIRE(result.message);
    CHECK(result.message->identities() == std::vector<std::string>{"client-id"});
    CHECK(result.message->header()["msg_type"] == "execute_request");
    CHECK(result.message->content()["code"] == "1+1");
    CHECK(result.message->buffers().size() == 1);
}

TEST_CASE("malformed frames are refused before any parsing")
{
    message_signer signer("hmac-sha256", "key");
    replay_guard replays;

    SECTION("no delimiter")
    {
        auto result = decode_message({"a", "b"}, signer, replays);
        CHECK(result.error.find("wire.no_delimiter") != std::string::npos);
    }
    SECTION("delimiter and signature with nothing after them")
    {
        auto result = decode_message({std::string(delimiter), "abc"}, signer, replays);
        CHECK_FALSE(result.message);
        CHECK(result.error.find("wire.truncated") != std::string::npos);
    }
    SECTION("a bad signature")
    {
        auto frames = signed_frames(signer, header, "{}");
        frames[2] = std::string(64, '0');
        CHECK(decode_message(frames, signer, replays).error.find("bad_signature") != std::string::npos);
    }
    SECTION("a signature of the wrong length")
    {
        auto frames = signed_frames(signer, header, "{}");
        frames[2] = frames[2].substr(0, 10);
        CHECK(decode_message(frames, signer, replays).error.find("bad_signature") != std::string::npos);
    }
    SECTION("a replayed message")
    {
        auto frames = signed_frames(signer, header, "{}");
        CHECK(decode_message(frames, signer, replays).message);
        CHECK(decode_message(frames, signer, replays).error.find("wire.replayed") != std::string::npos);
    }
    SECTION("signed but invalid JSON")
    {
        auto frames = signed_frames(signer, header, "{not json");
        CHECK(decode_message(frames, signer, replays).error.find("wire.bad_json") != std::string::npos);
    }
    SECTION("a routing identity longer than a xeus guid holds")
    {
        // xeus stores identities in 55-character fixed strings that silently overflow.
        auto frames = signed_frames(signer, header, "{}");
        frames[0] = std::string(56, 'r');
        CHECK(decode_message(frames, signer, replays).error.find("wire.bad_identity") != std::string::npos);
        frames = signed_frames(signer, header, "{}");
        frames[0] = std::string(55, 'r');
        CHECK(decode_message(frames, signer, replays).message);
    }
    SECTION("too many routing identities")
    {
        auto frames = signed_frames(signer, header, "{}");
        frames.insert(frames.begin(), 16, "id");
        CHECK(decode_message(frames, signer, replays).error.find("wire.bad_identity") != std::string::npos);
    }
    SECTION("a header without msg_type")
    {
        auto frames = signed_frames(signer, R"({"msg_id":"1"})", "{}");
        CHECK(decode_message(frames, signer, replays).error.find("wire.bad_header") != std::string::npos);
    }
}

TEST_CASE("without a key, deep nesting is still refused without recursion")
{
    message_signer signer("hmac-sha256", "");
    replay_guard replays;
    std::string deep(100000, '[');
    frame_list frames{std::string(delimiter), "", header, "{}", "{}", deep};
    CHECK(decode_message(frames, signer, replays).error.find("wire.bad_json") != std::string::npos);
}

TEST_CASE("nesting depth ignores brackets inside strings")
{
    CHECK_FALSE(nesting_exceeds(R"({"a": "[[[[[[[[[["})", 3));
    CHECK(nesting_exceeds("[[[[", 3));
    CHECK_FALSE(nesting_exceeds(R"({"a": "\"[[[["})", 3));
}

TEST_CASE("encoding signs what it sends and round-trips")
{
    message_signer signer("hmac-sha256", "key");
    replay_guard replays;
    xeus::xmessage message({"id"}, {{"msg_type", "status"}, {"msg_id", "x"}}, nl::json::object(), nl::json::object(),
                           {{"text", "caf\xC3\xA9"}}, {});
    auto frames = encode_message(message, signer);
    auto decoded = decode_message(frames, signer, replays);
    REQUIRE(decoded.message);
    CHECK(decoded.message->content()["text"] == "caf\xC3\xA9");
}
