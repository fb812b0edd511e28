// SPDX-License-Identifier: MIT
#include "common/worker_wire.hpp"

#include <catch2/catch.hpp>

using namespace atrium;

namespace
{
    /// A connected kernel–worker pair of sockets over inproc.
    struct channel
    {
        zmq::context_t context{1};
        zmq::socket_t kernel{context, zmq::socket_type::pair};
        zmq::socket_t worker{context, zmq::socket_type::pair};

        channel()
        {
            kernel.bind("inproc://wire");
            worker.connect("inproc://wire");
        }

        std::optional<worker_message> receive(worker_wire& wire)
        {
            zmq::pollitem_t item{kernel.handle(), 0, ZMQ_POLLIN, 0};
            zmq::poll(&item, 1, std::chrono::milliseconds(1000));
            return wire.receive(kernel);
        }
    };
}

TEST_CASE("worker channel framing")
{
    channel c;
    std::string key = make_worker_key();
    worker_wire worker_side(key, "link");
    worker_wire kernel_side(key, "link");

    SECTION("a signed message arrives with its payload")
    {
        worker_side.send(c.worker, {{"type", "call"}, {"op", "pool.put"}}, std::string(1 << 20, 'x'));
        auto message = c.receive(kernel_side);
        REQUIRE(message);
        CHECK(message->type() == "call");
        CHECK(message->header["op"] == "pool.put");
        CHECK(message->blob.size() == (1u << 20));
    }
    SECTION("keys are fresh and long")
    {
        CHECK(key.size() == 64);
        CHECK(make_worker_key() != key);
    }
    SECTION("every message is one frame")
    {
        worker_side.send(c.worker, {{"type", "reply"}}, "payload");
        std::vector<zmq::message_t> frames;
        zmq::pollitem_t item{c.kernel.handle(), 0, ZMQ_POLLIN, 0};
        zmq::poll(&item, 1, std::chrono::milliseconds(1000));
        REQUIRE(worker_wire::read_frames(c.kernel, frames));
        CHECK(frames.size() == 1);
        CHECK(worker_wire::unverified_header(frames).value()["type"] == "reply");
        CHECK(kernel_side.verify(frames).blob == "payload");
    }
    SECTION("another key, a tampered header or payload, bad framing and replays are refused")
    {
        worker_wire stranger(make_worker_key(), "link");
        stranger.send(c.worker, {{"type", "publish"}});
        CHECK_THROWS_WITH(c.receive(kernel_side), Catch::Contains("[worker.bad_message]"));

        const std::string header = "{\"type\":\"publish\",\"n\":1}";
        auto send_raw = [&c](const std::string& frame)
        { c.worker.send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::none); };
        auto refusal = [&c, &kernel_side]() -> std::string
        {
            try
            {
                c.receive(kernel_side);
            }
            catch (const worker_wire_error& e)
            {
                return e.what();
            }
            return "accepted";
        };

        send_raw(worker_wire::pack("deadbeef", header, ""));
        CHECK_THAT(refusal(), Catch::StartsWith("[worker.bad_message]") && Catch::Contains("signature"));
        send_raw(worker_wire::pack("", header, ""));
        CHECK_THAT(refusal(), Catch::Contains("missing or wrong signature"));

        // Lengths: a frame too short for its prefixes, lengths past its end, over their bounds, bytes after it.
        const std::string good = worker_wire::pack("deadbeef", header, "blob");
        send_raw("only one frame");
        CHECK_THAT(refusal(), Catch::Contains("truncated") && Catch::Contains("shorter than its length prefixes"));
        for (std::size_t cut : {good.size() - 1, good.size() - 4, std::size_t{30}})
        {
            send_raw(good.substr(0, cut));
            CHECK_THAT(refusal(), Catch::StartsWith("[worker.bad_message] truncated"));
        }
        std::string long_signature = good;
        long_signature[3] = 9; // says 9 bytes of signature: the header's length prefix is read one byte late
        send_raw(long_signature);
        CHECK_THAT(refusal(), Catch::StartsWith("[worker.bad_message]"));
        std::string past_end = good;
        past_end[4 + 8 + 7] = static_cast<char>(200); // a header of 200 bytes in a frame with far fewer left
        send_raw(past_end);
        CHECK_THAT(refusal(), Catch::Contains("the header of 200 bytes runs past the end of the frame"));
        std::string huge_signature = good;
        huge_signature[0] = 1; // 2^24 + 8 bytes of signature
        send_raw(huge_signature);
        CHECK_THAT(refusal(), Catch::Contains("oversize signature"));
        std::string huge_header = good;
        huge_header[4 + 8] = 1; // 2^56 + ... bytes of header
        send_raw(huge_header);
        CHECK_THAT(refusal(), Catch::Contains("oversize header"));
        std::string huge_blob = good;
        huge_blob[4 + 8 + 8 + header.size()] = static_cast<char>(0x7f);
        send_raw(huge_blob);
        CHECK_THAT(refusal(), Catch::Contains("oversize blob"));
        std::string odd_reference = good; // the top bit says "in the output ring", but 4 bytes are no reference
        odd_reference[4 + 8 + 8 + header.size()] = static_cast<char>(0x80);
        send_raw(odd_reference);
        CHECK_THAT(refusal(), Catch::Contains("a ring reference of 4 bytes, not 16"));
        send_raw(good + "x");
        CHECK_THAT(refusal(), Catch::Contains("1 stray bytes after the blob"));
        CHECK_FALSE(worker_wire::unverified_header(std::vector<zmq::message_t>{}).has_value());
        CHECK_FALSE(worker_wire::unverified_header(std::string_view("short")).has_value());

        // A genuine message with an extra frame, or split back into the old three frames, is refused.
        zmq::context_t context(1);
        zmq::socket_t tap_in(context, zmq::socket_type::pair), tap_out(context, zmq::socket_type::pair);
        tap_in.bind("inproc://tap");
        tap_out.connect("inproc://tap");
        auto capture = [&](worker_wire& wire, nlohmann::json message)
        {
            wire.send(tap_out, std::move(message));
            zmq::message_t frame;
            (void)tap_in.recv(frame);
            REQUIRE_FALSE(frame.more());
            return std::string(static_cast<const char*>(frame.data()), frame.size());
        };
        const std::string extra = capture(worker_side, {{"type", "reply"}, {"id", 1}});
        c.worker.send(zmq::buffer(extra.data(), extra.size()), zmq::send_flags::sndmore);
        c.worker.send(zmq::str_buffer(""), zmq::send_flags::none);
        CHECK_THAT(refusal(), Catch::Contains("expected 1 frame, got 2"));
        c.worker.send(zmq::str_buffer("sig"), zmq::send_flags::sndmore);
        c.worker.send(zmq::buffer(header), zmq::send_flags::sndmore);
        c.worker.send(zmq::str_buffer(""), zmq::send_flags::none);
        CHECK_THAT(refusal(), Catch::Contains("expected 1 frame, got 3"));

        // A genuine message, captured and sent again, is a replay.
        const std::string captured = capture(worker_side, {{"type", "reply"}});
        send_raw(captured);
        send_raw(captured);
        CHECK(c.receive(kernel_side)->type() == "reply");
        CHECK_THAT(refusal(), Catch::Contains("replayed"));

        // A genuine message of the same worker's other channel is refused too.
        worker_wire other_channel(key, "cells");
        other_channel.send(c.worker, {{"type", "execute"}, {"id", 7}});
        CHECK_THAT(refusal(), Catch::Contains("signature"));

        // A signed header without a `type` string is refused.
        send_raw(worker_side.seal_text("{\"type\":5}", ""));
        CHECK_THAT(refusal(), Catch::Contains("`type` string"));

        // Any byte changed in a signed frame, signature included, and the frame is refused.
        const std::string sealed = worker_side.seal_text("{\"type\":\"reply\"}", "payload");
        for (std::size_t at = 4; at < sealed.size(); ++at)
        {
            std::string changed = sealed;
            changed[at] = static_cast<char>(changed[at] ^ 0x01);
            send_raw(changed);
            CAPTURE(at);
            CHECK_THAT(refusal(), Catch::StartsWith("[worker.bad_message]"));
        }
        send_raw(sealed); // the frame itself was good
        CHECK(c.receive(kernel_side)->blob == "payload");

        // The channel still works after refusals.
        worker_side.send(c.worker, {{"type", "pong"}});
        CHECK(c.receive(kernel_side)->type() == "pong");
    }
    SECTION("each sender signs under a salt of its own, so no two share a GCM nonce")
    {
        worker_wire second_sender(key, "link");
        const std::string first = worker_side.seal_text("{\"type\":\"a\"}", "");
        const std::string second = second_sender.seal_text("{\"type\":\"a\"}", "");
        // The same message number (1) and bytes: only the salt (and so the key and the tag) differs.
        CHECK(first.substr(4, channel_mac::salt_bytes) != second.substr(4, channel_mac::salt_bytes));
        CHECK(first.substr(4 + channel_mac::salt_bytes, channel_mac::number_bytes) ==
              second.substr(4 + channel_mac::salt_bytes, channel_mac::number_bytes));
        CHECK(first.substr(4 + channel_mac::salt_bytes + channel_mac::number_bytes, channel_mac::tag_bytes) !=
              second.substr(4 + channel_mac::salt_bytes + channel_mac::number_bytes, channel_mac::tag_bytes));
        // Both are genuine, but a receiver has one peer: it keeps to the first salt it verified.
        CHECK(kernel_side.open(first).type() == "a");
        CHECK_THROWS_WITH(kernel_side.open(second), Catch::Contains("wrong signature"));
        worker_wire other_receiver(key, "link");
        CHECK(other_receiver.open(second).type() == "a");
        // A sender's own message sent back to it is refused: it is not its peer's.
        worker_wire fresh(key, "link");
        CHECK_THROWS_WITH(fresh.open(fresh.seal_text("{\"type\":\"a\"}", "")), Catch::Contains("wrong signature"));
    }
    SECTION("a blob of any size is signed and checked whole")
    {
        std::string blob(3 << 20, 'y');
        blob.back() = 'z';
        std::string frame = worker_side.seal(nlohmann::json{{"type", "publish"}}, blob);
        CHECK(kernel_side.open(frame).blob == blob);
        frame.back() = 'y';
        worker_wire fresh_receiver(key, "link");
        CHECK_THROWS_WITH(fresh_receiver.open(frame), Catch::Contains("wrong signature"));
    }
    SECTION("an empty key is refused")
    {
        CHECK_THROWS_WITH(worker_wire("", "link"), Catch::Contains("[worker.no_key]"));
    }
}
