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
    SECTION("another key, a tampered header or payload, missing frames and replays are refused")
    {
        worker_wire stranger(make_worker_key(), "link");
        stranger.send(c.worker, {{"type", "publish"}});
        CHECK_THROWS_WITH(c.receive(kernel_side), Catch::Contains("[worker.bad_message]"));

        c.worker.send(zmq::str_buffer("deadbeef"), zmq::send_flags::sndmore);
        c.worker.send(zmq::str_buffer("{\"type\":\"publish\",\"n\":1}"), zmq::send_flags::sndmore);
        c.worker.send(zmq::str_buffer(""), zmq::send_flags::none);
        CHECK_THROWS_WITH(c.receive(kernel_side), Catch::Contains("signature"));

        c.worker.send(zmq::str_buffer("only one frame"), zmq::send_flags::none);
        CHECK_THROWS_WITH(c.receive(kernel_side), Catch::Contains("3 frames"));

        // A genuine message, captured and sent again, is a replay.
        zmq::context_t context(1);
        zmq::socket_t tap_in(context, zmq::socket_type::pair), tap_out(context, zmq::socket_type::pair);
        tap_in.bind("inproc://tap");
        tap_out.connect("inproc://tap");
        worker_side.send(tap_out, {{"type", "reply"}});
        std::vector<zmq::message_t> captured;
        for (bool more = true; more;)
        {
            zmq::message_t frame;
            (void)tap_in.recv(frame);
            more = frame.more();
            captured.push_back(std::move(frame));
        }
        for (int round = 0; round < 2; ++round)
        {
            for (std::size_t i = 0; i < captured.size(); ++i)
                c.worker.send(zmq::buffer(captured[i].data(), captured[i].size()),
                              i + 1 < captured.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
        }
        CHECK(c.receive(kernel_side)->type() == "reply");
        CHECK_THROWS_WITH(c.receive(kernel_side), Catch::Contains("replayed"));

        // A genuine message of the same worker's other channel is refused too.
        worker_wire other_channel(key, "cells");
        other_channel.send(c.worker, {{"type", "execute"}, {"id", 7}});
        CHECK_THROWS_WITH(c.receive(kernel_side), Catch::Contains("signature"));

        // The channel still works after refusals.
        worker_side.send(c.worker, {{"type", "pong"}});
        CHECK(c.receive(kernel_side)->type() == "pong");
    }
    SECTION("an empty key is refused")
    {
        CHECK_THROWS_WITH(worker_wire("", "link"), Catch::Contains("[worker.no_key]"));
    }
}
