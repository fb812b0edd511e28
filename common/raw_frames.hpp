// SPDX-License-Identifier: MIT
#pragma once

#include "common/worker_wire.hpp"

#include <cstddef>
#include <initializer_list>
#include <string>

namespace atrium
{
    /// Large strings of a message the worker publishes (stream text, a display bundle's image or HTML, a long
    /// traceback) cross the worker channel as raw bytes in the message's blob, not as JSON text: escaping them
    /// in the worker and lexing them again in the kernel, byte by byte, cost more than everything else a big
    /// stream does (issue 15: ~21% of the worker's samples in the serializer, ~32% of the relay's in the lexer).
    /// The header keeps every other field, with an empty string where a raw one was lifted out, and a list
    /// `raw: [{"path": [...], "bytes": n}, ...]` naming each in blob order. The blob is signed with the header
    /// (worker_wire), so a raw frame is as authenticated as the JSON around it.
    namespace raw_frames
    {
        /// Strings shorter than this stay in the JSON: a list entry costs more than escaping a few bytes.
        inline constexpr std::size_t min_bytes = 512;
        /// Bounds on what a header may list; a longer list or a deeper path is refused, never walked.
        inline constexpr std::size_t max_frames = 1024;
        inline constexpr std::size_t max_depth = 32;

        /// Moves every string of at least `min_bytes` under `message[root]` for each root in `roots` (up to
        /// max_frames of them, at most max_depth deep) into `blob`, which must be empty, and lists them in
        /// `message["raw"]` (absent when none was lifted). One string is moved whole, without a copy.
        void lift(nlohmann::json& message, std::string& blob, std::initializer_list<const char*> roots);

        /// The inverse, on a verified message: puts each listed frame of `blob` back where its path points.
        /// Every path must start at one of `roots` and lead through existing keys and indices to an empty string, each frame must be
        /// non-empty and the frames must use the blob exactly. Throws worker_wire_error (`[worker.bad_message]`)
        /// otherwise, leaving `message` partly restored. A message without `raw` is left as it is.
        void restore(nlohmann::json& message, std::string blob, std::initializer_list<const char*> roots);
    }
}
