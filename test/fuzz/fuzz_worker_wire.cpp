// SPDX-License-Identifier: MIT
// The kernel–worker channel's verify step on arbitrary frames: it must accept only signed, well-formed,
// increasing messages and throw worker_wire_error for everything else, never anything worse.
// Input: a flags byte, then frames separated by NUL. Flag bit 0 signs frames 1 and 2 into frame 0 with the
// channel's key, so mutations reach the header checks; bit 1 verifies the input twice (the replay guard).
#include "fuzz_input.hpp"
#include "common/message_signer.hpp"
#include "common/worker_wire.hpp"

using namespace atrium;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    const std::uint8_t flags = data[0];
    auto parts = fuzz::split_parts(data + 1, size - 1);
    static const std::string key = "0123456789abcdef0123456789abcdef";
    static const message_signer signer("hmac-sha256", key);
    if ((flags & 1) && parts.size() == 3)
        parts[0] = signer.sign("cells", parts[1], parts[2], {});

    worker_wire wire(key, "cells");
    for (int round = 0; round < ((flags & 2) ? 2 : 1); ++round)
    {
        std::vector<zmq::message_t> frames;
        for (const auto& part : parts)
            frames.emplace_back(part.data(), part.size());
        try
        {
            worker_message message = wire.verify(frames);
            fuzz::require(round == 0, "a replayed message is refused");
            fuzz::require(message.header.is_object(), "an accepted header is an object");
            fuzz::require(message.blob == parts[2], "the blob is delivered whole");
            (void)message.type(); // must not throw for an accepted message
        }
        catch (const worker_wire_error& e)
        {
            fuzz::require(std::string(e.what()).rfind("[worker.bad_message]", 0) == 0, "refusals carry their id");
        }
    }
    return 0;
}
