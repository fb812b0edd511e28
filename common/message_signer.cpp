// SPDX-License-Identifier: MIT
#include "common/message_signer.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <stdexcept>

namespace atrium
{
    struct message_signer::impl
    {
        EVP_MAC* mac = nullptr;
        EVP_MAC_CTX* keyed = nullptr; // initialised with the key once; duplicated per message
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
        EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(p_impl->keyed);
        for (std::string_view part : {header, parent_header, metadata, content})
        {
            EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(part.data()), part.size());
        }
        unsigned char digest[EVP_MAX_MD_SIZE];
        std::size_t length = 0;
        EVP_MAC_final(ctx, digest, &length, sizeof(digest));
        EVP_MAC_CTX_free(ctx);

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
