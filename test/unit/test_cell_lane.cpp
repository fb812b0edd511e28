// SPDX-License-Identifier: MIT
#include "session/worker/cell_lane.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace atrium;

namespace
{
    /// A worker's main-thread end of the cells channel: a DEALER that says hello with the name the kernel gave.
    struct fake_worker
    {
        zmq::context_t context{1};
        zmq::socket_t socket{context, zmq::socket_type::dealer};
        worker_wire wire;
        std::string name;

        fake_worker(const cell_lane& lane, const std::string& id, const std::string& key)
            : wire(key, "cells")
            , name(id)
        {
            socket.set(zmq::sockopt::linger, 0);
            socket.connect(lane.endpoint());
        }

        void hello()
        {
            wire.send(socket, {{"type", "hello"}, {"lane", name}});
        }

        std::optional<worker_message> receive()
        {
            zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
            zmq::poll(&item, 1, std::chrono::milliseconds(1000));
            return wire.receive(socket);
        }
    };

    /// Serves the lane (as the kernel's main thread does) until `done()` or a second has passed.
    template <class Done>
    void serve(cell_lane& lane, Done done)
    {
        for (int i = 0; i < 100 && !done(); ++i)
        {
            zmq::pollitem_t item{lane.socket().handle(), 0, ZMQ_POLLIN, 0};
            zmq::poll(&item, 1, std::chrono::milliseconds(10));
            lane.receive_all();
        }
    }
}

TEST_CASE("the cells channel")
{
    cell_lane lane;
    std::string key = make_worker_key();
    std::string id = lane.announce(key);
    std::vector<std::uint64_t> replies;
    lane.attach(id, [&](worker_message message) { replies.push_back(message.header.value("id", std::uint64_t{0})); });
    fake_worker worker(lane, id, key);

    SECTION("nothing goes to a worker before its signed hello; then cells go out and replies come in")
    {
        CHECK_FALSE(lane.proven(id));
        CHECK_FALSE(lane.send(id, {{"type", "execute"}, {"id", 1}}));
        worker.hello();
        serve(lane, [&] { return lane.proven(id); });
        REQUIRE(lane.proven(id));
        REQUIRE(lane.send(id, {{"type", "execute"}, {"id", 2}}));
        auto cell = worker.receive();
        REQUIRE(cell);
        CHECK(cell->header["id"] == 2);
        worker.wire.send(worker.socket, {{"type", "reply"}, {"id", 2}});
        serve(lane, [&] { return !replies.empty(); });
        CHECK(replies == std::vector<std::uint64_t>{2});
    }
    SECTION("a hello signed with another key, or for the link channel, proves nothing")
    {
        worker_wire stranger(make_worker_key(), "cells");
        stranger.send(worker.socket, {{"type", "hello"}, {"lane", id}});
        worker_wire link(key, "link");
        link.send(worker.socket, {{"type", "hello"}, {"lane", id}});
        // An unsigned claim whose `type` is not a string is read (unverified) without throwing.
        const std::string odd = worker_wire::pack("", "{\"type\":5,\"lane\":\"" + id + "\"}", "");
        worker.socket.send(zmq::buffer(odd.data(), odd.size()), zmq::send_flags::none);
        serve(lane, [] { return false; });
        CHECK_FALSE(lane.proven(id));
    }
    SECTION("once a worker has proven itself, another connection cannot speak or hear for it")
    {
        worker.hello();
        serve(lane, [&] { return lane.proven(id); });
        fake_worker intruder(lane, id, key); // even holding the key: a second hello for a proven name
        intruder.hello();
        intruder.wire.send(intruder.socket, {{"type", "reply"}, {"id", 9}});
        serve(lane, [] { return false; });
        CHECK(replies.empty());
        REQUIRE(lane.send(id, {{"type", "execute"}, {"id", 4}}));
        auto cell = worker.receive();
        REQUIRE(cell);
        CHECK(cell->header["id"] == 4);
        zmq::pollitem_t item{intruder.socket.handle(), 0, ZMQ_POLLIN, 0};
        CHECK(zmq::poll(&item, 1, std::chrono::milliseconds(200)) == 0);
    }
    SECTION("a forgotten worker's replies reach no one")
    {
        worker.hello();
        serve(lane, [&] { return lane.proven(id); });
        lane.forget(id);
        CHECK_FALSE(lane.proven(id));
        CHECK_FALSE(lane.send(id, {{"type", "execute"}, {"id", 3}}));
        worker.wire.send(worker.socket, {{"type", "reply"}, {"id", 3}});
        serve(lane, [] { return false; });
        CHECK(replies.empty());
    }
}
