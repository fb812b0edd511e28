// SPDX-License-Identifier: MIT
#pragma once

#include "common/message_signer.hpp"

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

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

    /// The kernel–worker channel's framing: `[signature, header, blob]`, HMAC-SHA256 over the channel's name,
    /// header and blob with a key the kernel makes for that one worker. Each side numbers what it sends (`n`
    /// in the header) and accepts only increasing numbers, so a captured message cannot be replayed; the
    /// channel's name in the signature keeps a message of one channel (`link`, `cells`) from being replayed
    /// on the other. One object per channel and per thread: sending and receiving both update counters.
    class worker_wire
    {
    public:
        worker_wire(const std::string& key, std::string channel);

        /// Sends on `socket`; on a ROUTER, `peer` names the worker (its routing id) as the first frame.
        void send(zmq::socket_t& socket, nlohmann::json header, std::string blob = {},
                  const std::string* peer = nullptr);
        /// Reads one message if one is waiting (nullopt otherwise). On a ROUTER the sender's routing id is
        /// stored in `peer`. Throws worker_wire_error for a message that is malformed, unsigned, badly signed
        /// or replayed; it has then been read completely, so the channel stays usable.
        std::optional<worker_message> receive(zmq::socket_t& socket, std::string* peer = nullptr);

        /// Reads one whole multipart message if one is waiting; false otherwise.
        static bool read_frames(zmq::socket_t& socket, std::vector<zmq::message_t>& frames);
        /// Checks `[signature, header, blob]` (routing frames removed); throws worker_wire_error.
        worker_message verify(std::vector<zmq::message_t>& frames);

    private:

        message_signer m_signer;
        const std::string m_channel;
        std::uint64_t m_sent = 0;
        std::uint64_t m_received = 0;
    };

    /// A fresh random key (hex) for one worker.
    std::string make_worker_key();
}
