// SPDX-License-Identifier: MIT
#include "embed/output_coalescer.hpp"

#include <catch2/catch.hpp>

#include <thread>
#include <vector>

using atrium::output_coalescer;

namespace
{
    struct recorder
    {
        std::vector<std::pair<std::string, std::string>> messages;
        output_coalescer::emit_fn emit()
        {
            return [this](const std::string& name, std::string text) { messages.emplace_back(name, std::move(text)); };
        }
    };
}

TEST_CASE("small writes to one stream become one message")
{
    recorder out;
    output_coalescer coalescer(out.emit(), 1024);
    CHECK(coalescer.write("stdout", "a"));  // empty -> pending
    CHECK_FALSE(coalescer.write("stdout", "b"));
    coalescer.write("stdout", "c\n");
    CHECK(out.messages.empty());
    coalescer.flush();
    REQUIRE(out.messages.size() == 1);
    CHECK(out.messages[0] == std::make_pair(std::string("stdout"), std::string("abc\n")));
}

TEST_CASE("a change of stream keeps the order")
{
    recorder out;
    output_coalescer coalescer(out.emit(), 1024);
    coalescer.write("stdout", "1");
    coalescer.write("stderr", "2");
    coalescer.write("stdout", "3");
    coalescer.flush();
    REQUIRE(out.messages.size() == 3);
    CHECK(out.messages[1].first == "stderr");
    CHECK(out.messages[2].second == "3");
}

TEST_CASE("other messages go out after the text written before them")
{
    recorder out;
    output_coalescer coalescer(out.emit(), 1024);
    coalescer.write("stdout", "before");
    coalescer.in_order([&] { out.messages.emplace_back("display", "x"); });
    coalescer.write("stdout", "after");
    coalescer.flush();
    REQUIRE(out.messages.size() == 3);
    CHECK(out.messages[0].second == "before");
    CHECK(out.messages[1].first == "display");
    CHECK(out.messages[2].second == "after");
}

TEST_CASE("large output is cut into chunks of the configured size without losing a byte")
{
    recorder out;
    output_coalescer coalescer(out.emit(), 100);
    std::string expected;
    for (int i = 0; i < 1000; ++i)
    {
        std::string line = std::to_string(i) + "\n";
        expected += line;
        coalescer.write("stdout", line);
    }
    coalescer.flush();
    std::string joined;
    for (auto& message : out.messages)
    {
        CHECK(message.second.size() < 110);
        joined += message.second;
    }
    CHECK(joined == expected);
    CHECK(out.messages.size() < 60);
}

TEST_CASE("concurrent writers and flushers lose nothing")
{
    recorder out;
    output_coalescer coalescer(out.emit(), 64);
    std::thread flusher(
        [&]
        {
            for (int i = 0; i < 2000; ++i)
                coalescer.flush();
        });
    for (int i = 0; i < 2000; ++i)
        coalescer.write("stdout", "x");
    flusher.join();
    coalescer.flush();
    std::size_t total = 0;
    for (auto& message : out.messages)
        total += message.second.size();
    CHECK(total == 2000);
    CHECK_FALSE(coalescer.has_pending());
}
