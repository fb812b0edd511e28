// SPDX-License-Identifier: MIT
#include "common/message_signer.hpp"

// SHA256_Init and friends are deprecated in OpenSSL 3 in favour of EVP, but EVP's per-message cost is what this
// file avoids (see sha256_hmac below); they remain part of OpenSSL 3's ABI.
#define OPENSSL_SUPPRESS_DEPRECATED

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>
#include <initializer_list>
#include <optional>
#include <stdexcept>

namespace atrium
{
    namespace
    {
        /// HMAC-SHA256 (RFC 2104) from two SHA-256 states keyed once: hashing the padded key into the inner and
        /// outer states is done at start-up, and each message copies those two plain structs. Every Jupyter client
        /// signs with hmac-sha256; through EVP_MAC, duplicating a keyed context cost several allocations and
        /// provider look-ups per message (~14% of a `pass` round trip's instructions, five signatures per trip).
        class sha256_hmac
        {
        public:
            explicit sha256_hmac(const std::string& key)
            {
                unsigned char block[SHA256_CBLOCK] = {};
                if (key.size() > sizeof(block))
                    SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), block);
                else
                    std::memcpy(block, key.data(), key.size());
                unsigned char pad[SHA256_CBLOCK];
                for (std::size_t i = 0; i < sizeof(block); ++i)
                    pad[i] = block[i] ^ 0x36;
                SHA256_Init(&m_inner);
                SHA256_Update(&m_inner, pad, sizeof(pad));
                for (std::size_t i = 0; i < sizeof(block); ++i)
                    pad[i] = block[i] ^ 0x5c;
                SHA256_Init(&m_outer);
                SHA256_Update(&m_outer, pad, sizeof(pad));
                OPENSSL_cleanse(block, sizeof(block));
                OPENSSL_cleanse(pad, sizeof(pad));
            }

            /// Thread-safe: the keyed states are only read.
            std::size_t digest(std::initializer_list<std::string_view> parts, unsigned char* out) const
            {
                SHA256_CTX ctx = m_inner;
                for (std::string_view part : parts)
                    SHA256_Update(&ctx, part.data(), part.size());
                unsigned char inner[SHA256_DIGEST_LENGTH];
                SHA256_Final(inner, &ctx);
                ctx = m_outer;
                SHA256_Update(&ctx, inner, sizeof(inner));
                SHA256_Final(out, &ctx);
                OPENSSL_cleanse(&ctx, sizeof(ctx));
                return SHA256_DIGEST_LENGTH;
            }

        private:
            SHA256_CTX m_inner;
            SHA256_CTX m_outer;
        };
    }

    struct message_signer::impl
    {
        EVP_MAC* mac = nullptr;
        EVP_MAC_CTX* keyed = nullptr; // other digests: initialised with the key once; duplicated per message
        std::optional<sha256_hmac> sha256;
        std::string key;

        ~impl()
        {
            EVP_MAC_CTX_free(keyed);
            EVP_MAC_free(mac);
        }
    };

    message_signer::message_signer(const std::string& scheme, const std::string& key)
        : p_impl(std::make_unique<impl>())
    {
        p_impl->key = key;
        if (key.empty())
        {
            return;
        }
        const std::string prefix = "hmac-";
        if (scheme.compare(0, prefix.size(), prefix) != 0)
        {
            throw std::invalid_argument("[config.signature_scheme] unsupported signature scheme '" + scheme +
                                        "' (expected hmac-<digest>)");
        }
        std::string digest = scheme.substr(prefix.size());
        if (digest == "sha256")
        {
            p_impl->sha256.emplace(key);
            return;
        }
        p_impl->mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
        p_impl->keyed = p_impl->mac ? EVP_MAC_CTX_new(p_impl->mac) : nullptr;
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest.data(), 0),
                               OSSL_PARAM_construct_end()};
        if (!p_impl->keyed ||
            !EVP_MAC_init(p_impl->keyed, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params))
        {
            throw std::invalid_argument("[config.signature_scheme] unknown digest in signature scheme '" + scheme +
                                        "'");
        }
    }

    message_signer::~message_signer() = default;

    bool message_signer::enabled() const noexcept
    {
        return !p_impl->key.empty();
    }

    std::string message_signer::sign(std::string_view header, std::string_view parent_header,
                                     std::string_view metadata, std::string_view content) const
    {
        if (!enabled())
        {
            return {};
        }
        unsigned char digest[EVP_MAX_MD_SIZE];
        std::size_t length = 0;
        if (p_impl->sha256)
        {
            length = p_impl->sha256->digest({header, parent_header, metadata, content}, digest);
        }
        else
        {
            EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(p_impl->keyed);
            for (std::string_view part : {header, parent_header, metadata, content})
            {
                EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(part.data()), part.size());
            }
            EVP_MAC_final(ctx, digest, &length, sizeof(digest));
            EVP_MAC_CTX_free(ctx);
        }

        static const char hex[] = "0123456789abcdef";
        std::string result(length * 2, '0');
        for (std::size_t i = 0; i < length; ++i)
        {
            result[2 * i] = hex[digest[i] >> 4];
            result[2 * i + 1] = hex[digest[i] & 0x0f];
        }
        return result;
    }

    bool message_signer::verify(std::string_view signature, std::string_view header,
                                std::string_view parent_header, std::string_view metadata,
                                std::string_view content) const
    {
        if (!enabled())
        {
            return true;
        }
        std::string expected = sign(header, parent_header, metadata, content);
        // A length mismatch reveals nothing secret (every valid signature has the same length).
        return signature.size() == expected.size() &&
               CRYPTO_memcmp(signature.data(), expected.data(), expected.size()) == 0;
    }

    replay_guard::replay_guard(std::size_t capacity)
        : m_capacity(capacity)
    {
    }

    bool replay_guard::first_sighting(const std::string& signature)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (!m_seen.insert(signature).second)
        {
            return false;
        }
        m_order.push_back(signature);
        if (m_order.size() > m_capacity)
        {
            m_seen.erase(m_order.front());
            m_order.pop_front();
        }
        return true;
    }
}
