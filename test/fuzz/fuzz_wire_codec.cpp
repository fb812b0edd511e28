// SPDX-License-Identifier: MIT
// Raw shell/control/stdin frames into decode_message, then the request check, then an encode/decode round trip.
// Input: a flags byte, then frames separated by NUL. Flag bit 0 signs the four JSON frames after the delimiter
// with the harness's key (so mutations reach the JSON parser and the checks, not only the HMAC compare); bit 1
// uses an empty key (signing disabled, as the protocol allows).
#include "fuzz_input.hpp"
#include "kernel/request_check.hpp"
#include "kernel/wire_codec.hpp"

#include <algorithm>

using namespace atrium;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    const std::uint8_t flags = data[0];
    frame_list frames = fuzz::split_parts(data + 1, size - 1);
    static const message_signer keyed("hmac-sha256", "fuzz-key");
    static const message_signer unkeyed("hmac-sha256", "");
    const message_signer& signer = (flags & 2) ? unkeyed : keyed;

    auto delim = std::find(frames.begin(), frames.end(), delimiter);
    if ((flags & 1) && delim != frames.end() && frames.end() - delim >= 6)
        delim[1] = signer.sign(delim[2], delim[3], delim[4], delim[5]);

    replay_guard replays(4);
    decode_result result = decode_message(frames, signer, replays);
    fuzz::require(result.message.has_value() != !result.error.empty(), "exactly one of message and error");
    if (!result.message)
        return 0;
    const xeus::xmessage& message = *result.message;
    fuzz::require(message.identities().size() <= limits::identity_count, "identity count bounded");
    for (const auto& identity : message.identities())
        fuzz::require(identity.size() <= limits::guid_length, "identity fits a guid");
    std::string problem = request_problem(message.header(), message.parent_header(), message.metadata(),
                                          message.content());
    (void)has_no_reply(message.header()["msg_type"].get<std::string>());

    // What the kernel sends must decode to the same message (with invalid UTF-8 repaired on the way out).
    frame_list encoded = encode_message(message, signer);
    replay_guard fresh;
    decode_result again = decode_message(encoded, signer, fresh);
    fuzz::require(again.message.has_value(), "an encoded message decodes");
    fuzz::require(again.message->identities() == message.identities(), "identities round-trip");
    fuzz::require(again.message->buffers().size() == message.buffers().size(), "buffers round-trip");
    return 0;
}
