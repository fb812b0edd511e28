// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace atrium
{
    /// Who a front speaks for: the note its requests run in and the user who opened it.
    struct front_identity
    {
        std::string kernel_id;
        std::string user;
    };

    /// A client's request as the host's kernel gets it from a front.
    struct rewritten_request
    {
        std::string header;   ///< the client's, with the host's msg_id and the front's user
        std::string metadata; ///< the client's, with `atrium_note` naming the front's note
        std::string msg_type;
    };

    /// What a front changes in a request (docs/host.md): a msg_id of the host's own, so every reply and output
    /// finds its way back; `username`, so per-user rules see who opened the front rather than what a client
    /// claims; `metadata.atrium_note`, so a front's requests always reach its own note. nullopt when the
    /// header or metadata is not a JSON object (or the header has no msg_type string).
    std::optional<rewritten_request> rewrite_request(std::string_view header, std::string_view metadata,
                                                     const front_identity& front, const std::string& host_msg_id);

    /// The msg_id a front gives a request it relays: `atrium-host.<front>.<sequence>-<tag>`, the tag a random
    /// number, so that code in one note cannot name another front's request (and publish into it). Front 0 is
    /// the host's own.
    std::string make_host_msg_id(std::uint64_t front, std::uint64_t sequence, std::uint64_t tag);
    /// The front a host msg_id names; 0 when it is not one.
    std::uint64_t front_of_host_msg_id(const std::string& host_msg_id);

    /// The `msg_id` of a message's parent header, read from its top level; empty when there is none.
    std::string parent_msg_id(std::string_view parent_header);
}
