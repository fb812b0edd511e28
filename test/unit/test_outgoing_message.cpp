// SPDX-License-Identifier: MIT
#include "kernel/outgoing_message.hpp"

#include "kernel/message_header.hpp"

#include <catch2/catch.hpp>

using namespace atrium;

TEST_CASE("an outgoing message decodes as the message it stands for")
{
    message_signer signer("hmac-sha256", "key");
    replay_guard replays;
    parent_text parents;
    nl::json parent = {{"msg_id", "p1"}, {"msg_type", "execute_request"}, {"username", "u"}};
    header_text header = make_message_header_text("stream", "alice", "s\"1");
    outgoing_message message{{"client-id"}, header.json, parents.of(parent), nl::json::object(),
                             {{"name", "stdout"}, {"text", "caf\xC3\xA9 \xFF"}}, {{'b', 'u', 'f'}}};
    auto decoded = decode_message(encode_outgoing(std::move(message), signer), signer, replays);
    REQUIRE(decoded.message);
    CHECK(decoded.message->identities() == std::vector<std::string>{"client-id"});
    CHECK(decoded.message->header()["msg_id"] == header.msg_id);
    CHECK(decoded.message->header()["session"] == "s\"1");
    CHECK(decoded.message->parent_header() == parent);
    CHECK(decoded.message->content()["text"] == "caf\xC3\xA9 \xEF\xBF\xBD"); // invalid UTF-8 replaced
    CHECK(decoded.message->buffers().size() == 1);
}

TEST_CASE("a header's text holds what make_message_header holds")
{
    header_text text = make_message_header_text("status", "alice", "s1");
    nl::json parsed = nl::json::parse(text.json);
    nl::json object = make_message_header("status", "alice", "s1");
    CHECK(parsed["msg_id"] == text.msg_id);
    for (const char* key : {"msg_type", "username", "session", "version"})
        CHECK(parsed[key] == object[key]);
    CHECK(parsed.size() == object.size());
    CHECK(parsed["date"].get<std::string>().size() == object["date"].get<std::string>().size());
    CHECK(make_message_header_text("status", "alice", "s1").msg_id != text.msg_id);
}

TEST_CASE("parent texts are shared while the parent stays the same")
{
    parent_text parents;
    nl::json parent = {{"msg_id", "a"}, {"n", 1}};
    auto first = parents.of(parent);
    CHECK(*first == R"({"msg_id":"a","n":1})");
    CHECK(parents.of(parent) == first); // the same text, not a new one
    nl::json other = {{"msg_id", "b"}, {"n", 1}};
    CHECK(*parents.of(other) == R"({"msg_id":"b","n":1})");
    // nlohmann holds 1 and 1.0 equal; their texts differ, so the cached one must not be reused.
    nl::json as_float = {{"msg_id", "b"}, {"n", 1.0}};
    CHECK(*parents.of(as_float) == R"({"msg_id":"b","n":1.0})");
    CHECK(*parents.of(nl::json::object()) == "{}");
}
