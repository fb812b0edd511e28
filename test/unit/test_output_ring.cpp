// SPDX-License-Identifier: MIT
#include "common/output_ring.hpp"
#include "common/worker_wire.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace atrium;

namespace
{
    /// The worker's ring and the kernel's mapping of the same memfd, as pidfd_getfd would give it.
    struct ring_pair
    {
        output_ring worker;
        output_ring kernel;
    };

    ring_pair make_pair()
    {
        std::string why;
        auto worker = output_ring::create(why);
        REQUIRE(worker);
        auto kernel = output_ring::adopt(dup(worker->fd()), why);
        REQUIRE(kernel);
        return {std::move(*worker), std::move(*kernel)};
    }

    std::string chunk(std::size_t bytes, char fill)
    {
        std::string text(bytes, fill);
        text.back() = '\n';
        return text;
    }
}

TEST_CASE("output ring: chunks cross whole, in order, and the space comes back")
{
    ring_pair ring = make_pair();
    std::string out;

    SECTION("a chunk is read where the worker put it")
    {
        const std::string first = chunk(1 << 20, 'a');
        auto position = ring.worker.put(first);
        REQUIRE(position);
        CHECK(*position == 0);
        REQUIRE(ring.kernel.take(*position, first.size(), out));
        CHECK(out == first);
    }
    SECTION("a full ring refuses until the kernel has copied; a chunk never crosses the end")
    {
        const std::string piece = chunk(1536 * 1024, 'b'); // two fit in 4 MiB, a third does not
        auto one = ring.worker.put(piece), two = ring.worker.put(piece);
        REQUIRE(one);
        REQUIRE(two);
        CHECK_FALSE(ring.worker.put(piece));
        REQUIRE(ring.kernel.take(*one, piece.size(), out));
        // 1 MiB is left before the end: the third starts over at the beginning, where the first was.
        auto three = ring.worker.put(piece);
        REQUIRE(three);
        CHECK(*three == output_ring::data_bytes);
        REQUIRE(ring.kernel.take(*two, piece.size(), out));
        REQUIRE(ring.kernel.take(*three, piece.size(), out));
        CHECK(out == piece);
        for (int i = 0; i < 20; ++i) // round and round
        {
            const std::string next = chunk(900 * 1024 + i, static_cast<char>('c' + i));
            auto at = ring.worker.put(next);
            REQUIRE(at);
            REQUIRE(ring.kernel.take(*at, next.size(), out));
            CHECK(out == next);
        }
    }
    SECTION("a drained ring gives its pages back, and works on")
    {
        struct stat status;
        const std::string text = chunk(2 << 20, 't');
        auto at = ring.worker.put(text);
        REQUIRE(at);
        CHECK_FALSE(ring.worker.trim_if_drained()); // the kernel has not copied it yet
        REQUIRE(ring.kernel.take(*at, text.size(), out));
        REQUIRE(fstat(ring.worker.fd(), &status) == 0);
        const auto held = status.st_blocks;
        CHECK(held * 512 >= static_cast<blkcnt_t>(text.size()));
        CHECK(ring.worker.trim_if_drained());
        REQUIRE(fstat(ring.worker.fd(), &status) == 0);
        CHECK(status.st_blocks * 512 < static_cast<blkcnt_t>(text.size()) / 4);
        CHECK_FALSE(ring.worker.trim_if_drained()); // nothing new since
        const std::string again = chunk(1 << 20, 'u');
        auto next = ring.worker.put(again);
        REQUIRE(next);
        REQUIRE(ring.kernel.take(*next, again.size(), out));
        CHECK(out == again);
    }
    SECTION("empty and oversize chunks are not put")
    {
        CHECK_FALSE(ring.worker.put(""));
        CHECK_FALSE(ring.worker.put(std::string(output_ring::data_bytes + 1, 'x')));
    }
    SECTION("the kernel takes nothing outside the ring, whatever a worker claims")
    {
        CHECK_FALSE(ring.kernel.take(0, 0, out));
        CHECK_FALSE(ring.kernel.take(0, output_ring::data_bytes + 1, out));
        CHECK_FALSE(ring.kernel.take(output_ring::data_bytes - 10, 11, out));
        CHECK_FALSE(ring.kernel.take(~std::uint64_t{0}, 2, out));
        CHECK(ring.kernel.take(output_ring::data_bytes - 10, 10, out));
    }
    SECTION("a kernel mark past what the worker wrote makes the worker keep to the link")
    {
        REQUIRE(ring.kernel.take(1000, 10, out)); // marks 1010 consumed, more than was ever put
        CHECK_FALSE(ring.worker.put(chunk(100, 'x')));
    }
}

TEST_CASE("output ring: the kernel maps only a sealed ring of the right size")
{
    std::string why;
    int plain = memfd_create("not-a-ring", MFD_CLOEXEC);
    REQUIRE(plain >= 0);
    CHECK_FALSE(output_ring::adopt(plain, why)); // sealed only against new seals: it could still shrink
    CHECK_THAT(why, Catch::Contains("not sealed"));

    int unsealed = memfd_create("unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    REQUIRE(ftruncate(unsealed, output_ring::header_bytes + output_ring::data_bytes) == 0);
    CHECK_FALSE(output_ring::adopt(unsealed, why)); // a worker could shrink it under the kernel's mapping
    CHECK_THAT(why, Catch::Contains("not sealed"));

    int small = memfd_create("small", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    REQUIRE(ftruncate(small, 4096) == 0);
    REQUIRE(fcntl(small, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0);
    CHECK_FALSE(output_ring::adopt(small, why));
    CHECK_THAT(why, Catch::Contains("bytes"));

    int pipe_ends[2];
    REQUIRE(pipe(pipe_ends) == 0);
    close(pipe_ends[1]);
    CHECK_FALSE(output_ring::adopt(pipe_ends[0], why));
    CHECK_THAT(why, Catch::Contains("not a sealable memfd"));
    CHECK(fcntl(pipe_ends[0], F_GETFD) == -1); // taken over: closed on failure
}

TEST_CASE("output ring frames: signed over the bytes the kernel copied out")
{
    ring_pair ring = make_pair();
    const std::string key = make_worker_key();
    worker_wire worker_side(key, "link"), kernel_side(key, "link");
    const std::string text = chunk(256 * 1024, 'r');
    const nlohmann::json header = {{"type", "publish"}, {"msg_type", "stream"}};

    SECTION("a chunk in the ring arrives as the message's blob; the frame carries only its place")
    {
        auto frame = worker_side.seal_in_ring(header, text, ring.worker);
        REQUIRE(frame);
        CHECK(frame->size() < 200);
        worker_message message = kernel_side.open(*frame, &ring.kernel);
        CHECK(message.type() == "publish");
        CHECK(message.blob == text);
    }
    SECTION("bytes changed in the ring after signing are refused")
    {
        auto frame = worker_side.seal_in_ring(header, text, ring.worker);
        REQUIRE(frame);
        void* shared = mmap(nullptr, output_ring::header_bytes + output_ring::data_bytes, PROT_READ | PROT_WRITE,
                            MAP_SHARED, ring.worker.fd(), 0);
        REQUIRE(shared != MAP_FAILED);
        static_cast<char*>(shared)[output_ring::header_bytes + 1000] = 'X';
        munmap(shared, output_ring::header_bytes + output_ring::data_bytes);
        CHECK_THROWS_WITH(kernel_side.open(*frame, &ring.kernel), Catch::Contains("wrong signature"));
    }
    SECTION("a ring frame on a channel without a ring, or naming bytes outside it, is refused")
    {
        auto frame = worker_side.seal_in_ring(header, text, ring.worker);
        REQUIRE(frame);
        CHECK_THROWS_WITH(kernel_side.open(*frame), Catch::Contains("does not have"));
        std::string outside = *frame;
        outside[outside.size() - 16 + 7] = static_cast<char>(0xff); // the position's low byte
        outside[outside.size() - 8 + 5] = static_cast<char>(0x7f);  // ~8 MiB long
        CHECK_THROWS_WITH(kernel_side.open(outside, &ring.kernel), Catch::Contains("outside the output ring"));
    }
    SECTION("a full ring leaves the chunk to the frame")
    {
        const std::string big = chunk(3 << 20, 'f');
        REQUIRE(worker_side.seal_in_ring(header, big, ring.worker));
        CHECK_FALSE(worker_side.seal_in_ring(header, big, ring.worker));
    }
}
