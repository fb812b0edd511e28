// SPDX-License-Identifier: MIT
#pragma once

#include "common/comm_id.hpp"
#include "common/error_ids.hpp"
#include "common/reply_type.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace atrium
{
    /// The bounds every client-supplied field is held to before any of it reaches xeus, the session layer or
    /// Python. Chosen so that no real front end comes near them, while nothing a client sends can overflow a
    /// fixed-size buffer or make the kernel allocate without bound.
    namespace limits
    {
        // guid_length (the xeus xguid bound) sits in common/comm_id.hpp: the worker checks comm ids too.
        /// Frames before the delimiter: ZeroMQ adds one per ROUTER hop; a client may add more.
        inline constexpr std::size_t identity_count = 16;
        /// msg_id, session, username, msg_type, version, date (jupyter_client's are under 80 characters).
        inline constexpr std::size_t header_field_length = 1024;
        inline constexpr std::size_t target_name_length = 1024;
        /// Cell source, completion/inspection code, an input_reply's value: 16 MiB of text is far beyond any
        /// cell, yet small next to the memory a kernel has.
        inline constexpr std::size_t code_length = std::size_t{16} << 20;
        inline constexpr std::size_t user_expression_count = 1024;
        inline constexpr std::size_t note_name_length = 1024; ///< metadata `atrium_note` (checked again later)
        inline constexpr std::int64_t history_count = 1'000'000;
        /// history session/start/stop: int in the C++ history store.
        inline constexpr std::int64_t history_index = 2'147'483'647;
    }

    /// Why a request's header or parent header cannot be handled (a known field of the wrong type or too
    /// long), or empty when it can. Reading such a header would throw out of code that must not throw.
    std::string request_header_problem(const nlohmann::json& header, const nlohmann::json& parent_header);

    /// Why a request's content cannot be handled (wrong field types, strings too long, numbers out of range),
    /// or empty when it can. xeus's kernel core reads fields with `json::value`, which throws on a type
    /// mismatch and then sends no reply at all, and copies `comm_id` into a fixed 55-character buffer;
    /// checking first lets the client get an error reply (or a logged refusal) instead of silence or a crash.
    std::string request_content_problem(const std::string& msg_type, const nlohmann::json& content);

    /// The message's metadata: `atrium_note`, when present, must be a bounded string.
    std::string request_metadata_problem(const nlohmann::json& metadata);

    /// Everything above, in order: header, metadata, content. Empty when the message may be handled.
    std::string request_problem(const nlohmann::json& header, const nlohmann::json& parent_header,
                                const nlohmann::json& metadata, const nlohmann::json& content);

    /// Why `msg_type` may not be handled on `channel` ("shell", "control" or "stdin"), or empty. Control takes only
    /// control requests and stdin only input_reply: xeus would otherwise serve any shell request from the I/O
    /// thread, racing the main thread over the comm table and the interpreter (heap corruption found by
    /// test/fuzz/live_fuzz.py: a comm_open on control beside comm traffic on shell).
    std::string channel_problem(std::string_view channel, const std::string& msg_type);

    /// True for messages the protocol answers with no reply (comm_open, comm_msg, comm_close, input_reply, any
    /// type not ending in `_request`): a refused one is logged, with busy and idle published as for any other.
    bool has_no_reply(const std::string& msg_type);
}
