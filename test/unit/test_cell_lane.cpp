// SPDX-License-Identifier: MIT
#include "session/worker/cell_lane.hpp"

#include "common/cell_socket.hpp"

#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

using namespace atrium;

namespace
{
    /// A worker's main-thread end of the cells channel: a connection that says hello with the name it was given.
    struct fake_worker
    {
        int fd;
        worker_wire wire;
        std::string name;

        fake_worker(const cell_lane& lane, const std::string& id, const std::string& key,
                    const std::string& channel = "cells")
            : fd(cell_socket::connect_to(lane.endpoint()))
            , wire(key, channel)
            , name(id)
        {
        }
        ~fake_worker()
        {
            close(fd);
        }

        bool send(nlohmann::json header)
        {
            return cell_socket::send(fd, wire.seal(std::move(header))) == cell_socket::send_result::sent;
        }

        bool hello()
        {
            return send({{"type", "hello"}, {"lane", name}});
        }

        /// What came within `ms`: a message, nothing, or the kernel's end closed.
        cell_socket::receive_result receive(std::optional<worker_message>& message, int ms = 1000)
        {
            pollfd item{fd, POLLIN, 0};
            poll(&item, 1, ms);
            std::string datagram;
            auto result = cell_socket::receive(fd, datagram);
            if (result == cell_socket::receive_result::message)
                message = wire.open(datagram);
            return result;
        }

        std::optional<worker_message> receive()
        {
            std::optional<worker_message> message;
            receive(message);
            return message;
        }
    };

    /// Serves the lane (as the kernel's main thread does) until `done()` or a second has passed.
    template <class Done>
    void serve(cell_lane& lane, Done done)
    {
        for (int i = 0; i < 100 && !done(); ++i)
        {
            pollfd item{lane.fd(), POLLIN, 0};
            poll(&item, 1, 10);
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
        REQUIRE(worker.hello());
        serve(lane, [&] { return lane.proven(id); });
        REQUIRE(lane.proven(id));
        REQUIRE(lane.send(id, {{"type", "execute"}, {"id", 2}}));
        auto cell = worker.receive();
        REQUIRE(cell);
        CHECK(cell->header["id"] == 2);
        REQUIRE(worker.send({{"type", "reply"}, {"id", 2}}));
        serve(lane, [&] { return !replies.empty(); });
        CHECK(replies == std::vector<std::uint64_t>{2});
    }
    SECTION("a hello signed with another key, for the link channel, or not a hello, proves nothing and is hung up on")
    {
        fake_worker stranger(lane, id, make_worker_key());
        fake_worker wrong_channel(lane, id, key, "link");
        fake_worker odd(lane, id, key);
        fake_worker chatty(lane, id, key);
        REQUIRE(stranger.hello());
        REQUIRE(wrong_channel.hello());
        // An unsigned claim whose `type` is not a string is read (unverified) without throwing.
        const std::string claim = worker_wire::pack("", "{\"type\":5,\"lane\":\"" + id + "\"}", "");
        REQUIRE(cell_socket::send(odd.fd, claim) == cell_socket::send_result::sent);
        REQUIRE(chatty.send({{"type", "reply"}, {"id", 1}}));
        serve(lane, [] { return false; });
        CHECK_FALSE(lane.proven(id));
        CHECK(replies.empty());
        for (fake_worker* refused : {&stranger, &wrong_channel, &odd, &chatty})
        {
            std::optional<worker_message> nothing;
            CHECK(refused->receive(nothing) == cell_socket::receive_result::closed);
        }
        REQUIRE(worker.hello()); // the genuine worker still can
        serve(lane, [&] { return lane.proven(id); });
        CHECK(lane.proven(id));
    }
    SECTION("once a worker has proven itself, another connection cannot speak or hear for it")
    {
        REQUIRE(worker.hello());
        serve(lane, [&] { return lane.proven(id); });
        fake_worker intruder(lane, id, key); // even holding the key: a second hello for a proven name
        REQUIRE(intruder.hello());
        intruder.send({{"type", "reply"}, {"id", 9}}); // may already fail: the kernel hangs up
        serve(lane, [] { return false; });
        CHECK(replies.empty());
        REQUIRE(lane.send(id, {{"type", "execute"}, {"id", 4}}));
        auto cell = worker.receive();
        REQUIRE(cell);
        CHECK(cell->header["id"] == 4);
        std::optional<worker_message> nothing;
        CHECK(intruder.receive(nothing, 200) == cell_socket::receive_result::closed);
        CHECK_FALSE(nothing);
    }
    SECTION("a forgotten worker's connection is closed and its replies reach no one")
    {
        REQUIRE(worker.hello());
        serve(lane, [&] { return lane.proven(id); });
        lane.forget(id);
        CHECK_FALSE(lane.proven(id));
        CHECK_FALSE(lane.send(id, {{"type", "execute"}, {"id", 3}}));
        worker.send({{"type", "reply"}, {"id", 3}});
        serve(lane, [] { return false; });
        CHECK(replies.empty());
        std::optional<worker_message> nothing;
        CHECK(worker.receive(nothing) == cell_socket::receive_result::closed);
    }
    SECTION("a worker that hangs up is no longer proven, and nothing is sent to it")
    {
        REQUIRE(worker.hello());
        serve(lane, [&] { return lane.proven(id); });
        close(worker.fd);
        worker.fd = -1;
        serve(lane, [&] { return !lane.proven(id); });
        CHECK_FALSE(lane.proven(id));
        CHECK_FALSE(lane.send(id, {{"type", "execute"}, {"id", 5}}));
    }
    SECTION("a reply sent just before the worker hung up with cells unread still arrives")
    {
        REQUIRE(worker.hello());
        serve(lane, [&] { return lane.proven(id); });
        REQUIRE(lane.send(id, {{"type", "execute"}, {"id", 8}})); // never read: the kernel's end sees a reset
        REQUIRE(worker.send({{"type", "reply"}, {"id", 7}}));
        close(worker.fd);
        worker.fd = -1;
        serve(lane, [&] { return !replies.empty() && !lane.proven(id); });
        CHECK(replies == std::vector<std::uint64_t>{7});
        CHECK_FALSE(lane.proven(id));
    }
    SECTION("a datagram over the bound costs the worker its connection, and its handler hears why")
    {
        std::vector<std::string> broken;
        lane.attach(id, [&](worker_message message)
                    {
                        if (message.type() == "lane_broken")
                            broken.push_back(message.header.value("why", ""));
                    });
        REQUIRE(worker.hello());
        serve(lane, [&] { return lane.proven(id); });
        // Our own sender never sends one (cell_socket::send says too_large); a forged one needs a bigger buffer.
        CHECK(cell_socket::send(worker.fd, std::string(cell_socket::max_datagram_bytes + 1, 'x')) ==
              cell_socket::send_result::too_large);
        int buffer = 4 << 20; // SO_SNDBUFFORCE needs CAP_NET_ADMIN; SO_SNDBUF is capped by wmem_max instead
        if (setsockopt(worker.fd, SOL_SOCKET, SO_SNDBUFFORCE, &buffer, sizeof buffer) != 0)
            setsockopt(worker.fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
        const std::string huge(cell_socket::max_datagram_bytes + 1, 'x');
        REQUIRE(::send(worker.fd, huge.data(), huge.size(), MSG_DONTWAIT) == static_cast<ssize_t>(huge.size()));
        serve(lane, [&] { return !broken.empty(); });
        REQUIRE(broken.size() == 1);
        CHECK_THAT(broken[0], Catch::Contains("[worker.bad_message] a datagram over"));
        CHECK_FALSE(lane.proven(id));
    }
    SECTION("a cell too large for a datagram, or one more than its queue holds, is left to the slow way")
    {
        REQUIRE(worker.hello());
        serve(lane, [&] { return lane.proven(id); });
        CHECK_FALSE(lane.send(id, {{"type", "execute"}, {"id", 6}, {"code", std::string(4 << 20, 'x')}}));
        int sent = 0;
        while (sent < 100000 && lane.send(id, {{"type", "execute"}, {"id", 7 + sent}}))
            ++sent;
        CHECK(sent > 0);
        CHECK(sent < 100000); // the worker reads none: its queue fills, and the lane says so without blocking
        for (int i = 0; i < sent; ++i) // every one that was sent arrives whole, in order
        {
            auto cell = worker.receive();
            REQUIRE(cell);
            CHECK(cell->header["id"] == 7 + i);
        }
        CHECK(lane.send(id, {{"type", "execute"}, {"id", 7 + sent}}));
    }
}
