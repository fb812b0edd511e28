// SPDX-License-Identifier: MIT
// The kernel–worker channel's verify step on arbitrary frames: it must accept only signed, well-formed,
// increasing messages and throw worker_wire_error for everything else, never anything worse.
// Input: a flags byte, then a body. Bit 2 clear: the body is parts separated by NUL; three parts are
// `signature, header, blob`, packed into one frame as worker_wire::send would (bit 0 signs header and blob
// with the channel's key instead, so mutations reach the header checks), any other count is sent as that many
// raw frames.
// Bit 3 with bit 0 puts the blob in an output ring (worker_wire::seal_in_ring) when the header is a JSON
// object; the receiver has that ring, so a raw frame's ring reference is followed too, within bounds.
// Bit 2 set: the body is one raw frame, verbatim (its length prefixes hold NULs), so mutations reach the
// length parsing. Bit 1 verifies the input twice (the replay guard). An accepted message then goes through
// raw_frames::restore, as the kernel's relay does with a `publish`: its `raw` list must be followed only
// within bounds, and any refusal must be a worker_wire_error. (The `cells` channel's datagrams go through the same
// checks: verify is `open` of its one frame, and the frame-list unverified_header that of its one frame.)
#include "fuzz_input.hpp"
#include "common/raw_frames.hpp"
#include "common/worker_wire.hpp"

#include <unistd.h>

using namespace atrium;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    const std::uint8_t flags = data[0];
    static const std::string key = "0123456789abcdef0123456789abcdef";
    static worker_wire signer(key, "cells"); // numbers rise from input to input; each is checked by a new wire
    // A fresh ring per input, as a kernel and its worker map it (raw frames may name any place in it): what one
    // input does to the ring's marks must not change what the next one tests.
    std::string why;
    std::optional<output_ring> kernel_ring = output_ring::create(why);
    std::optional<output_ring> worker_ring = kernel_ring ? output_ring::join(dup(kernel_ring->fd()), why)
                                                         : std::nullopt;
    fuzz::require(kernel_ring && worker_ring, "a ring can be made");
    std::vector<std::string> frames;
    std::string blob; // what an accepted message must carry, when known
    bool blob_known = false;
    if (flags & 4)
    {
        frames.emplace_back(reinterpret_cast<const char*>(data + 1), size - 1);
    }
    else
    {
        auto parts = fuzz::split_parts(data + 1, size - 1);
        if (parts.size() == 3)
        {
            auto header = nlohmann::json::parse(parts[1], nullptr, false);
            std::optional<std::string> in_ring;
            if ((flags & 9) == 9 && header.is_object()) // signed, the blob in the ring (when it has room)
                in_ring = signer.seal_in_ring(header, parts[2], *worker_ring);
            frames.push_back(in_ring ? *in_ring
                             : (flags & 1) ? signer.seal_text(parts[1], parts[2])
                                           : worker_wire::pack(parts[0], parts[1], parts[2]));
            blob = parts[2];
            blob_known = true;
        }
        else
        {
            frames = std::move(parts);
        }
    }

    worker_wire wire(key, "cells");
    for (int round = 0; round < ((flags & 2) ? 2 : 1); ++round)
    {
        std::vector<zmq::message_t> message_frames;
        for (const auto& frame : frames)
            message_frames.emplace_back(frame.data(), frame.size());
        auto claim = worker_wire::unverified_header(message_frames); // must never throw
        try
        {
            worker_message message = wire.verify(message_frames, &*kernel_ring);
            fuzz::require(round == 0, "a replayed message is refused");
            fuzz::require(frames.size() == 1, "only one frame is a message");
            fuzz::require(message.header.is_object(), "an accepted header is an object");
            fuzz::require(claim && *claim == message.header, "the unverified header is the verified one");
            fuzz::require(!blob_known || message.blob == blob, "the blob is delivered whole");
            (void)message.type(); // must not throw for an accepted message
            const bool listed = message.header.contains("raw");
            const std::size_t blob_bytes = message.blob.size();
            try
            {
                raw_frames::restore(message.header, std::move(message.blob), {"content", "metadata"});
                fuzz::require(!message.header.contains("raw"), "a restored message has no list left");
                fuzz::require(listed || blob_bytes == 0, "a blob is restored only through a list");
            }
            catch (const worker_wire_error& e)
            {
                fuzz::require(std::string(e.what()).rfind("[worker.bad_message] raw frames: ", 0) == 0,
                              "raw frame refusals carry their id");
            }
        }
        catch (const worker_wire_error& e)
        {
            fuzz::require(std::string(e.what()).rfind("[worker.bad_message]", 0) == 0, "refusals carry their id");
        }
    }
    return 0;
}
