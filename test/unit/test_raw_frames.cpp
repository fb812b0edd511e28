// SPDX-License-Identifier: MIT
#include "common/raw_frames.hpp"

#include <catch2/catch.hpp>

using namespace atrium;
using nlohmann::json;

namespace
{
    json publish(json content, json metadata = json::object())
    {
        return {{"type", "publish"},
                {"parent", {{"msg_id", "m1"}}},
                {"msg_type", "display_data"},
                {"content", std::move(content)},
                {"metadata", std::move(metadata)}};
    }

    /// Lifts, signs and verifies over a real wire (so the blob really crosses as bytes), then restores.
    json round_trip(json message, std::string* blob_seen = nullptr)
    {
        std::string blob;
        raw_frames::lift(message, blob, {"content", "metadata"});
        if (blob_seen)
            *blob_seen = blob;
        zmq::context_t context{1};
        zmq::socket_t a{context, zmq::socket_type::pair}, b{context, zmq::socket_type::pair};
        a.bind("inproc://raw");
        b.connect("inproc://raw");
        worker_wire sender("k", "link"), receiver("k", "link");
        sender.send(b, message, blob);
        auto received = receiver.receive(a);
        REQUIRE(received);
        raw_frames::restore(received->header, std::move(received->blob), {"content", "metadata"});
        return received->header;
    }
}

TEST_CASE("raw frames: big strings cross as raw bytes and come back in place")
{
    const std::string big(raw_frames::min_bytes, 'x');

    SECTION("a stream chunk is the whole blob and the JSON keeps an empty slot")
    {
        json message = publish({{"name", "stdout"}, {"text", big}});
        std::string blob;
        json lifted = message;
        raw_frames::lift(lifted, blob, {"content", "metadata"});
        CHECK(blob == big);
        CHECK(lifted["content"]["text"] == "");
        CHECK(lifted["raw"] == json::parse(R"([{"path":["content","text"],"bytes":512}])"));
        CHECK(round_trip(message) == message);
    }

    SECTION("short strings stay in the JSON, and no list is added")
    {
        json message = publish({{"name", "stdout"}, {"text", std::string(raw_frames::min_bytes - 1, 'x')}});
        std::string blob;
        json lifted = message;
        raw_frames::lift(lifted, blob, {"content", "metadata"});
        CHECK(blob.empty());
        CHECK(lifted == message);
        CHECK(round_trip(message) == message);
    }

    SECTION("a display bundle with several big values, in arrays and metadata, with NULs and invalid UTF-8")
    {
        std::string bytes = big + std::string("\0\xff\xfe\n\x80", 5) + big;
        json message = publish({{"data", {{"text/plain", "short"}, {"image/png", bytes}, {"text/html", big + "<b>"}}},
                                {"transient", {{"display_id", "d"}}},
                                {"list", json::array({1, big + "a", json::array({big + "b"})})}},
                               {{"image/png", {{"width", 10}}}, {"note", big + "m"}});
        std::string blob;
        json back = round_trip(message, &blob);
        CHECK(blob.size() > 5 * raw_frames::min_bytes);
        CHECK(back == message);
        CHECK(back["content"]["data"]["image/png"].get<std::string>() == bytes);
    }

    SECTION("fields outside content and metadata are never lifted")
    {
        json message = publish({{"text", "t"}});
        message["parent"]["msg_id"] = big;
        std::string blob;
        json lifted = message;
        raw_frames::lift(lifted, blob, {"content", "metadata"});
        CHECK(blob.empty());
        CHECK(lifted == message);
    }
}

TEST_CASE("raw frames: a forged list is refused with its id, never followed")
{
    json message = publish({{"name", "stdout"}, {"text", ""}, {"data", {{"a", ""}, {"b", "full"}}}, {"n", json::array({""})}});
    auto refused = [&](json raw, std::string blob)
    {
        json copy = message;
        copy["raw"] = std::move(raw);
        try
        {
            raw_frames::restore(copy, std::move(blob), {"content", "metadata"});
        }
        catch (const worker_wire_error& e)
        {
            CHECK(std::string(e.what()).rfind("[worker.bad_message] raw frames: ", 0) == 0);
            return true;
        }
        return false;
    };
    auto entry = [](json path, json bytes) { return json{{"path", std::move(path)}, {"bytes", std::move(bytes)}}; };

    CHECK_FALSE(refused(json::array({entry({"content", "text"}, 3)}), "abc"));
    CHECK_FALSE(refused(json::array({entry({"content", "n", 0}, 1), entry({"content", "data", "a"}, 2)}), "abc"));
    CHECK(refused(json::array({entry({"content", "text"}, 3)}), "abcd"));          // bytes left over
    CHECK(refused(json::array({entry({"content", "text"}, 4)}), "abc"));           // past the end
    CHECK(refused(json::array({entry({"content", "text"}, 0)}), ""));              // empty frame
    CHECK(refused(json::array({entry({"content", "text"}, -1)}), "abc"));          // not unsigned
    CHECK(refused(json::array({entry({"content", "text"}, 1), entry({"content", "text"}, 1)}), "ab")); // twice
    CHECK(refused(json::array({entry({"content", "data", "b"}, 1)}), "a"));        // not an empty slot
    CHECK(refused(json::array({entry({"content", "missing"}, 1)}), "a"));          // no such key
    CHECK(refused(json::array({entry({"content", "n", 1}, 1)}), "a"));             // index past the end
    CHECK(refused(json::array({entry({"content", "n", "0"}, 1)}), "a"));           // key into an array
    CHECK(refused(json::array({entry({"content", 0}, 1)}), "a"));                  // index into an object
    CHECK(refused(json::array({entry({"parent", "msg_id"}, 1)}), "a"));            // outside the roots
    CHECK(refused(json::array({entry(json::array(), 1)}), "a"));                   // empty path
    CHECK(refused(json::array({entry("content", 1)}), "a"));                       // path not an array
    CHECK(refused(json::array({entry({"raw", 0, "path"}, 1)}), "a"));              // into the list itself
    CHECK(refused(json::array(), ""));                                             // empty list
    CHECK(refused(json::object(), ""));                                            // not a list
    CHECK(refused(json::array({1}), "a"));                                         // entry not an object
    json deep = json::array({"content"});
    for (std::size_t i = 0; i < raw_frames::max_depth; ++i)
        deep.push_back("k");
    CHECK(refused(json::array({entry(deep, 1)}), "a"));
    json many = json::array();
    for (std::size_t i = 0; i <= raw_frames::max_frames; ++i)
        many.push_back(entry({"content", "text"}, 1));
    CHECK(refused(many, std::string(raw_frames::max_frames + 1, 'a')));

    json plain = message;
    CHECK_THROWS_AS(raw_frames::restore(plain, "stray", {"content"}), worker_wire_error); // blob without a list
    raw_frames::restore(plain, "", {"content"});
    CHECK(plain == message);
}
