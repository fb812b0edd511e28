// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace atrium
{
    /// The signatures of one kernel–worker channel (worker_wire): GMAC, that is AES-256-GCM over authenticated
    /// data only. A big stream crosses the channel in 1 MiB messages, each signed by the worker and checked by
    /// the kernel, and HMAC-SHA256 (1.8 GB/s here, with SHA instructions) was a fifth of that stream's CPU;
    /// GMAC runs at ~8.7 GB/s on the same core (issue 15).
    ///
    /// GCM must never see one (key, nonce) pair twice. The nonce is the sender's message number, and each sender
    /// signs under a key of its own: SHA-256 of the worker's key, the channel's name and a random 16-byte salt
    /// that the sender picks when it is made and puts in every signature. The kernel's and the worker's ends of
    /// one channel thus never share a key, and the channel's name in the key keeps a message of one channel
    /// from passing on the other.
    ///
    /// Each end of a channel has exactly one peer, so a receiver keeps to the first salt it verified: a
    /// message under any other salt (another sender's, or its own sent back to it) is refused without deriving
    /// a key.
    ///
    /// A signature is `salt (16 bytes), number (u64, big-endian), tag (16 bytes)`. Not thread-safe: one object
    /// per channel and per thread, as worker_wire. Neither copied nor moved: a moved-from object would have no key.
    class channel_mac
    {
    public:
        static constexpr std::size_t salt_bytes = 16;
        static constexpr std::size_t number_bytes = 8;
        static constexpr std::size_t tag_bytes = 16;
        static constexpr std::size_t signature_bytes = salt_bytes + number_bytes + tag_bytes;

        /// Loads what libcrypto needs for channel signatures (its provider and algorithm tables, ~1.3 MiB of
        /// heap), without touching its random generator. The worker template calls it before it forks, so its
        /// workers share those pages instead of each building its own copy.
        static void load_library();

        /// Throws std::runtime_error when the system's random source or libcrypto's AES-GCM fails.
        channel_mac(std::string_view key, std::string_view channel);
        ~channel_mac();
        channel_mac(const channel_mac&) = delete;
        channel_mac& operator=(const channel_mac&) = delete;

        /// This sender's signature of message `number`, whose signed bytes are `body` followed by `tail`;
        /// empty if libcrypto failed.
        std::string sign(std::uint64_t number, std::string_view body, std::string_view tail = {});
        /// False for a signature that cannot be the peer's, by its length and salt alone (no key, no hashing):
        /// what a receiver checks before any costly step.
        bool may_be_from_peer(std::string_view signature) const;
        /// True if `signature` is this channel's peer's signature of `body` followed by `tail`; its message
        /// number is then stored in `number`. The tag is compared in constant time. Never throws but
        /// std::bad_alloc.
        bool verify(std::string_view signature, std::string_view body, std::string_view tail, std::uint64_t& number);

    private:
        struct keyed_cipher;
        std::string m_key;
        std::string m_channel;
        std::unique_ptr<keyed_cipher> m_own;  // under this sender's salt
        std::unique_ptr<keyed_cipher> m_peer; // under the peer's salt, once a message of it was verified
    };
}
