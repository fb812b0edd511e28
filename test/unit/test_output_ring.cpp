// SPDX-License-Identifier: MIT
#include "common/output_ring.hpp"
#include "common/worker_wire.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <fstream>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace atrium;

namespace
{
    /// The kernel's ring and the worker's mapping of the same memfd, handed over as a descriptor.
    struct ring_pair
    {
        output_ring worker;
        output_ring kernel;
    };

    ring_pair make_pair()
    {
        std::string why;
        auto kernel = output_ring::create(why);
        REQUIRE(kernel);
        auto worker = output_ring::join(dup(kernel->fd()), why); // as the worker gets it, at its start
        REQUIRE(worker);
        return {std::move(*worker), std::move(*kernel)};
    }

    /// What the kernel does with a chunk of a genuine message: copy it out, then free its space.
    bool take(output_ring& kernel, std::uint64_t position, std::uint64_t bytes, std::string& out)
    {
        if (!kernel.copy_out(position, bytes, out))
            return false;
        kernel.release(position + bytes);
        return true;
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
        REQUIRE(take(ring.kernel, *position, first.size(), out));
        CHECK(out == first);
    }
    SECTION("a full ring refuses until the kernel has copied; a chunk never crosses the end")
    {
        const std::string piece = chunk(1536 * 1024, 'b'); // two fit in 4 MiB, a third does not
        auto one = ring.worker.put(piece), two = ring.worker.put(piece);
        REQUIRE(one);
        REQUIRE(two);
        CHECK_FALSE(ring.worker.put(piece));
        REQUIRE(take(ring.kernel, *one, piece.size(), out));
        // 1 MiB is left before the end: the third starts over at the beginning, where the first was.
        auto three = ring.worker.put(piece);
        REQUIRE(three);
        CHECK(*three == output_ring::data_bytes);
        REQUIRE(take(ring.kernel, *two, piece.size(), out));
        REQUIRE(take(ring.kernel, *three, piece.size(), out));
        CHECK(out == piece);
        for (int i = 0; i < 20; ++i) // round and round
        {
            const std::string next = chunk(900 * 1024 + i, static_cast<char>('c' + i));
            auto at = ring.worker.put(next);
            REQUIRE(at);
            REQUIRE(take(ring.kernel, *at, next.size(), out));
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
        REQUIRE(take(ring.kernel, *at, text.size(), out));
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
        REQUIRE(take(ring.kernel, *next, again.size(), out));
        CHECK(out == again);
    }
    SECTION("empty and oversize chunks are not put")
    {
        CHECK_FALSE(ring.worker.put(""));
        CHECK_FALSE(ring.worker.put(std::string(output_ring::data_bytes + 1, 'x')));
    }
    SECTION("the kernel takes nothing outside the ring, whatever a worker claims")
    {
        CHECK_FALSE(take(ring.kernel, 0, 0, out));
        CHECK_FALSE(take(ring.kernel, 0, output_ring::data_bytes + 1, out));
        CHECK_FALSE(take(ring.kernel, output_ring::data_bytes - 10, 11, out));
        CHECK_FALSE(take(ring.kernel, ~std::uint64_t{0}, 2, out));
        CHECK(take(ring.kernel, output_ring::data_bytes - 10, 10, out));
    }
    SECTION("a kernel mark past what the worker wrote makes the worker keep to the link")
    {
        ring.kernel.release(1010); // more than was ever put
        CHECK_FALSE(ring.worker.put(chunk(100, 'x')));
    }
}

TEST_CASE("output ring: the kernel's ring is sealed and read-only to it; a worker joins only a ring")
{
    std::string why;
    auto kernel = output_ring::create(why);
    REQUIRE(kernel);
    const int seals = fcntl(kernel->fd(), F_GET_SEALS);
    CHECK((seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) == (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL));
    CHECK(ftruncate(kernel->fd(), 4096) != 0); // a worker holding the descriptor cannot shrink it either

    // In this process's maps: the header page writable (the release mark), the data read-only.
    std::ifstream maps("/proc/self/maps");
    std::string line, modes;
    while (std::getline(maps, line))
        if (line.find("memfd:atrium-output") != std::string::npos)
            modes += line.substr(line.find(' ') + 1, 4) + " ";
    CHECK(modes.find("rw-s") != std::string::npos);
    CHECK(modes.find("r--s") != std::string::npos);

    int small = memfd_create("small", MFD_CLOEXEC);
    REQUIRE(ftruncate(small, 4096) == 0);
    CHECK_FALSE(output_ring::join(small, why));
    CHECK_THAT(why, Catch::Contains("is not a ring"));
    CHECK(fcntl(small, F_GETFD) == -1); // taken over: closed on failure
    CHECK_FALSE(output_ring::join(-1, why));
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
    SECTION("a refused frame frees no space: only a genuine message's chunk is released")
    {
        const std::string big = chunk(3 << 20, 'g');
        auto frame = worker_side.seal_in_ring(header, big, ring.worker);
        REQUIRE(frame);
        std::string forged = *frame;
        forged[4 + channel_mac::salt_bytes + channel_mac::number_bytes] ^= 1; // a byte of the tag
        CHECK_THROWS_WITH(kernel_side.open(forged, &ring.kernel), Catch::Contains("wrong signature"));
        CHECK_FALSE(ring.worker.put(big)); // the chunk's space is still held
        CHECK(kernel_side.open(*frame, &ring.kernel).blob == big);
        CHECK(ring.worker.put(big)); // released by the genuine message
    }
    SECTION("a full ring leaves the chunk to the frame")
    {
        const std::string big = chunk(3 << 20, 'f');
        REQUIRE(worker_side.seal_in_ring(header, big, ring.worker));
        CHECK_FALSE(worker_side.seal_in_ring(header, big, ring.worker));
    }
}
