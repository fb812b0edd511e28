// SPDX-License-Identifier: MIT
#include "embed/worker/cell_order.hpp"

#include <catch2/catch.hpp>

#include <vector>

using atrium::cell_order;
using nlohmann::json;

namespace
{
    json cell(std::uint64_t n)
    {
        return {{"type", "execute"}, {"cell", n}};
    }

    json resume(std::uint64_t through)
    {
        return {{"type", "resume"}, {"through", through}};
    }

    /// The numbers of the cells `next()` gives now.
    std::vector<std::uint64_t> runnable(cell_order& order)
    {
        std::vector<std::uint64_t> ran;
        while (auto next = order.next())
            ran.push_back((*next)["cell"].get<std::uint64_t>());
        return ran;
    }
}

TEST_CASE("pipelined cells run in the kernel's order whatever channel they come on", "[cell_order]")
{
    cell_order order;
    order.add(cell(2)); // came on the cells channel before 1, which the relay sent through the link
    CHECK(runnable(order).empty());
    order.add(cell(1));
    order.add(cell(3));
    CHECK(runnable(order) == std::vector<std::uint64_t>{1, 2, 3});
    order.add(cell(3)); // a duplicate is never run twice
    CHECK(runnable(order).empty());
    CHECK_FALSE(order.add({{"type", "execute"}})); // unnumbered: refused
    CHECK_FALSE(order.add({{"type", "execute"}, {"cell", "4"}}));
    CHECK(runnable(order).empty());
}

TEST_CASE("after a failure the queue waits for the kernel's resume and drops exactly what it aborted", "[cell_order]")
{
    cell_order order;
    order.add(cell(1));
    order.add(cell(2));
    order.add(cell(3));
    REQUIRE(order.next().has_value()); // 1 runs and fails
    order.pause();
    order.add(cell(5)); // sent after the kernel saw the failure, before its resume arrives
    CHECK(runnable(order).empty());

    SECTION("cells the kernel aborted are dropped, later ones run")
    {
        order.add(resume(4)); // the kernel had sent up to 4 when it answered the failure
        CHECK(runnable(order) == std::vector<std::uint64_t>{5});
        order.add(cell(4)); // an aborted cell arriving late (through the link) is dropped too
        order.add(cell(6));
        CHECK(runnable(order) == std::vector<std::uint64_t>{6});
    }
    SECTION("a resume through what already arrived")
    {
        order.add(resume(3));
        CHECK(runnable(order).empty()); // 4 was never sent: 5 waits for it
        order.add(cell(4));
        CHECK(runnable(order) == std::vector<std::uint64_t>{4, 5});
    }
}
