// SPDX-License-Identifier: MIT
#include "kernel/iopub_publisher.hpp"
#include "kernel/message_header.hpp"

#include <catch2/catch.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

using atrium::iopub_publisher;

namespace
{
    xeus::xpub_message stream_message(std::string text)
    {
        return xeus::xpub_message("atrium.stream", atrium::make_message_header("stream", "user", "session"),
                                  nl::json::object(), nl::json::object(),
                                  {{"name", "stdout"}, {"text", std::move(text)}}, {});
    }

    xeus::xpub_message announcement(const std::string& msg_type)
    {
        return xeus::xpub_message("atrium." + msg_type, atrium::make_message_header(msg_type, "user", "session"),
                                  nl::json::object(), nl::json::object(), nl::json::object(), {});
    }

    /// The content frame of the next message waiting on `socket`, or "" when none is waiting.
    std::string take_content(zmq::socket_t& socket, zmq::recv_flags flags = zmq::recv_flags::dontwait)
    {
        std::vector<zmq::message_t> frames;
        if (!zmq::recv_multipart(socket, std::back_inserter(frames), flags))
            return "";
        return frames.back().to_string();
    }

    /// A publisher over an XPUB socket set up as the server's, and one subscriber (inproc: a message the
    /// publisher has written is in the subscriber's pipe at once, so "written" is observable).
    struct publisher_fixture
    {
        publisher_fixture()
            : xpub(context, zmq::socket_type::xpub)
            , sub(context, zmq::socket_type::sub)
            , signer("hmac-sha256", "key")
        {
            xpub.set(zmq::sockopt::xpub_verbose, 1);
            xpub.set(zmq::sockopt::xpub_manual, 1);
            xpub.bind("inproc://iopub");
            sub.set(zmq::sockopt::rcvtimeo, 10000);
            sub.connect("inproc://iopub");
            sub.set(zmq::sockopt::subscribe, "");
            publisher.emplace(xpub, signer, "user", "session");
            publisher->start();
            publisher->wait_for_subscriber(std::chrono::steady_clock::now() + std::chrono::seconds(10));
            welcome = take_content(sub, zmq::recv_flags::none);
        }

        ~publisher_fixture()
        {
            publisher->stop();
        }

        zmq::context_t context;
        zmq::socket_t xpub;
        zmq::socket_t sub;
        atrium::message_signer signer;
        std::optional<iopub_publisher> publisher;
        std::string welcome;
    };
}

TEST_CASE("a subscriber is welcomed first")
{
    publisher_fixture f;
    CHECK(f.welcome.find("\"subscription\"") != std::string::npos);
}

TEST_CASE("wait_written returns once what was published before is written, in order")
{
    publisher_fixture f;
    const std::string large(4 << 20, 'x'); // signing it keeps the publisher's thread busy for milliseconds
    for (int round = 0; round < 10; ++round)
    {
        f.publisher->publish(stream_message(large));
        f.publisher->publish(stream_message("marker " + std::to_string(round)));
        f.publisher->wait_written(f.publisher->latest_output());
        // Both are in the subscriber's pipe already: reading without waiting finds them.
        CHECK(take_content(f.sub).size() > large.size());
        CHECK(take_content(f.sub).find("marker " + std::to_string(round)) != std::string::npos);
    }
}

TEST_CASE("places count what was published; status and execute_input are not output")
{
    publisher_fixture f;
    const std::uint64_t before = f.publisher->latest_output();
    f.publisher->publish(stream_message("a"));
    f.publisher->publish(stream_message("b"));
    CHECK(f.publisher->latest_output() == before + 2);
    f.publisher->publish(announcement("status"));
    f.publisher->publish(announcement("execute_input"));
    CHECK(f.publisher->latest_output() == before + 2);
    f.publisher->publish(announcement("error"));
    CHECK(f.publisher->latest_output() == before + 5);
}

TEST_CASE("stop writes what is queued, and nobody waits on a stopped publisher")
{
    publisher_fixture f;
    f.publisher->publish(stream_message("last words"));
    f.publisher->stop();
    CHECK(take_content(f.sub).find("last words") != std::string::npos);
    f.publisher->publish(stream_message("never written"));
    f.publisher->wait_written(f.publisher->latest_output()); // returns: the thread is gone
    CHECK(take_content(f.sub).empty());
}
