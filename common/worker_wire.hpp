// SPDX-License-Identifier: MIT
#pragma once

#include "common/channel_mac.hpp"
#include "common/output_ring.hpp"

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace atrium
{
    /// One message between the kernel and an isolated worker: a JSON header whose `type` says what it is, and
    /// an optional binary payload (pickled pool entries travel there, never inside JSON).
    struct worker_message
    {
        nlohmann::json header;
        std::string blob;

        std::string type() const
        {
            return header.value("type", "");
        }
    };

    /// A frame sequence that is not a message from the holder of the key; `what()` starts with
    /// `[worker.bad_message]`.
    struct worker_wire_error : std::runtime_error
    {
        using std::runtime_error::runtime_error;
    };

    /// The kernel–worker channel's framing: every message is ONE ZeroMQ frame (a ROUTER's routing id aside),
    /// so a connection dropped mid-message (a worker killed while a message is in flight) never leaves half a
    /// multipart message in a pipe: libzmq 4.3.4 aborts in `session_base_t::clean_pipes` on that (its #3442).
    /// The frame is `u32 S, signature, u64 H, header, u64 B, blob` (big-endian lengths), nothing before or
    /// after; each length is bounded (below) and must fit in what is left of the frame. The signature is a
    /// channel_mac over everything after it, with a key the kernel makes for that one worker; it carries the
    /// message's number. Each side numbers what it sends and accepts only increasing numbers, so a captured
    /// message cannot be replayed; the channel's name in the signing key keeps a message of one channel (`link`,
    /// `cells`) from being replayed on the other. One object per channel and per thread: sending and receiving
    /// both update counters.
    class worker_wire
    {
    public:
        /// Bounds on the three parts: far beyond anything real (cells are at most 16 MiB of code, output is
        /// cut into 1 MiB chunks), low enough that no length arithmetic can overflow.
        static constexpr std::size_t max_signature_bytes = 128;
        static constexpr std::size_t max_header_bytes = std::size_t{1} << 30;
        static constexpr std::size_t max_blob_bytes = std::size_t{8} << 30;

        worker_wire(const std::string& key, std::string channel);

        /// Sends on `socket`; on a ROUTER, `peer` names the worker (its routing id) as the first frame.
        /// Throws worker_wire_error (`[worker.too_large]`) for a part over its bound, before sending anything.
        void send(zmq::socket_t& socket, const nlohmann::json& header, std::string_view blob = {},
                  const std::string* peer = nullptr);
        /// Sends a frame `seal` or `seal_in_ring` made.
        static void send_sealed(zmq::socket_t& socket, std::string sealed, const std::string* peer = nullptr);
        /// Reads one message if one is waiting (nullopt otherwise). On a ROUTER the sender's routing id is
        /// stored in `peer`. Throws worker_wire_error for a message that is malformed, unsigned, badly signed
        /// or replayed; it has then been read completely, so the channel stays usable.
        std::optional<worker_message> receive(zmq::socket_t& socket, std::string* peer = nullptr,
                                              output_ring* ring = nullptr);

        /// The one frame `send` writes, numbered and signed, for a transport of its own (the cells channel's
        /// datagrams). Throws worker_wire_error (`[worker.too_large]`) for a part over its bound.
        std::string seal(const nlohmann::json& header, std::string_view blob = {});
        /// The same for a header's text as it is, unchecked (tests and fuzzers sign malformed headers with it).
        std::string seal_text(std::string_view header, std::string_view blob);
        /// A frame whose blob is put in `ring` (the frame names where), signed over the blob's bytes; nullopt
        /// when the ring has no room for it now (it then goes in the frame, by `seal`). Throws as `seal` does.
        std::optional<std::string> seal_in_ring(const nlohmann::json& header, std::string_view blob,
                                                output_ring& ring);
        /// Checks one frame as `verify` does; throws worker_wire_error. A blob in an output ring is copied out
        /// of `ring` (refused without one) and checked on that copy.
        worker_message open(std::string_view frame, output_ring* ring = nullptr);

        /// Reads one whole multipart message if one is waiting; false otherwise. (Ours are one frame; a
        /// forged multipart one is still read whole, so that verify can refuse it.)
        static bool read_frames(zmq::socket_t& socket, std::vector<zmq::message_t>& frames);
        /// Checks one packed frame (routing frames removed); throws worker_wire_error.
        worker_message verify(std::vector<zmq::message_t>& frames, output_ring* ring = nullptr);

        /// The packed frame of three parts, as send writes it (tests and fuzzers forge messages with it).
        static std::string pack(std::string_view signature, std::string_view header, std::string_view blob);
        /// The header of a well-framed message, parsed but NOT verified (the cells channel reads an unproven
        /// connection's hello claim with it before choosing the key to verify with); nullopt otherwise.
        static std::optional<nlohmann::json> unverified_header(const std::vector<zmq::message_t>& frames);
        static std::optional<nlohmann::json> unverified_header(std::string_view frame);

    private:
        /// The header's text; throws worker_wire_error (`[worker.too_large]`) for a part over its bound.
        static std::string header_text(const nlohmann::json& header, std::size_t blob_bytes);
        /// Packs and signs one frame; the signature also covers `tail` (a blob kept in the ring).
        std::string seal_packed(std::string_view header, std::string_view blob, std::uint64_t blob_flags,
                                std::string_view tail);


        channel_mac m_mac;
        std::uint64_t m_sent = 0;
        std::uint64_t m_received = 0;
    };

    /// A fresh random key (hex) for one worker.
    std::string make_worker_key();
}
