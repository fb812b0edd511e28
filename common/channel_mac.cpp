// SPDX-License-Identifier: MIT
#include "common/channel_mac.hpp"

#include "common/big_endian.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <climits>
#include <new>
#include <stdexcept>

namespace atrium
{
    namespace
    {
        constexpr std::size_t nonce_bytes = 12; // GCM's own size: the number, then four zero bytes


        const unsigned char* bytes(std::string_view text)
        {
            return reinterpret_cast<const unsigned char*>(text.data());
        }
    }

    /// An AES-256-GCM context keyed once for one salt; each message only sets the nonce.
    struct channel_mac::keyed_cipher
    {
        std::string salt;
        EVP_CIPHER_CTX* context;

        /// Null if libcrypto cannot key AES-256-GCM.
        static std::unique_ptr<keyed_cipher> make(std::string_view key, std::string_view channel,
                                                  std::string salt)
        {
            auto cipher = std::unique_ptr<keyed_cipher>(new keyed_cipher(std::move(salt)));
            // Zero bytes between the parts, which hold none (keys are hex, channels are names; the salt has a
            // fixed length and comes last): no other key, channel and salt make the same bytes.
            std::string material;
            material.reserve(key.size() + channel.size() + cipher->salt.size() + 2);
            material.append(key).append(1, '\0').append(channel).append(1, '\0').append(cipher->salt);
            unsigned char derived[SHA256_DIGEST_LENGTH];
            SHA256(bytes(material), material.size(), derived);
            OPENSSL_cleanse(material.data(), material.size());
            const bool keyed =
                EVP_EncryptInit_ex(cipher->context, EVP_aes_256_gcm(), nullptr, derived, nullptr) == 1;
            OPENSSL_cleanse(derived, sizeof derived);
            return keyed ? std::move(cipher) : nullptr;
        }

        ~keyed_cipher()
        {
            EVP_CIPHER_CTX_free(context);
        }
        keyed_cipher(const keyed_cipher&) = delete;
        keyed_cipher& operator=(const keyed_cipher&) = delete;

        /// The GMAC tag of `body` then `tail` for message `number` into `tag` (tag_bytes); false if libcrypto
        /// failed.
        bool tag(std::uint64_t number, std::string_view body, std::string_view tail, unsigned char* tag)
        {
            std::string nonce;
            append_big_endian(nonce, number, channel_mac::number_bytes);
            nonce.resize(nonce_bytes, '\0');
            int length = 0;
            if (EVP_EncryptInit_ex(context, nullptr, nullptr, nullptr, bytes(nonce)) != 1)
                return false;
            // EVP takes an int length: a body of gigabytes goes in pieces; GCM treats all pieces as one string.
            for (std::string_view part : {body, tail})
                for (std::size_t at = 0; at < part.size();)
                {
                    const std::size_t piece = std::min<std::size_t>(part.size() - at, INT_MAX / 2);
                    if (EVP_EncryptUpdate(context, nullptr, &length, bytes(part) + at, static_cast<int>(piece)) != 1)
                        return false;
                    at += piece;
                }
            unsigned char none[16];
            return EVP_EncryptFinal_ex(context, none, &length) == 1 &&
                   EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_bytes), tag) == 1;
        }

    private:
        explicit keyed_cipher(std::string salt_)
            : salt(std::move(salt_))
            , context(EVP_CIPHER_CTX_new())
        {
            if (!context)
                throw std::bad_alloc();
        }
    };

    void channel_mac::load_library()
    {
        // Fetching the two algorithms (as keying a cipher and deriving a key do) builds the library's tables.
        EVP_CIPHER_free(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr));
        EVP_MD_free(EVP_MD_fetch(nullptr, "SHA256", nullptr));
        EVP_CIPHER_CTX_free(EVP_CIPHER_CTX_new());
    }

    channel_mac::channel_mac(std::string_view key, std::string_view channel)
        : m_key(key)
        , m_channel(channel)
    {
        std::string salt(salt_bytes, '\0');
        if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) != 1)
            throw std::runtime_error("[worker.no_key] the system's random source failed");
        m_own = keyed_cipher::make(m_key, m_channel, std::move(salt));
        if (!m_own)
            throw std::runtime_error("[worker.no_key] libcrypto cannot key AES-256-GCM");
    }

    channel_mac::~channel_mac()
    {
        OPENSSL_cleanse(m_key.data(), m_key.size());
    }

    std::string channel_mac::sign(std::uint64_t number, std::string_view body, std::string_view tail)
    {
        std::string signature = m_own->salt;
        append_big_endian(signature, number, number_bytes);
        signature.resize(signature_bytes, '\0');
        auto* tag = reinterpret_cast<unsigned char*>(signature.data()) + salt_bytes + number_bytes;
        if (!m_own->tag(number, body, tail, tag))
            return {};
        return signature;
    }

    bool channel_mac::may_be_from_peer(std::string_view signature) const
    {
        if (signature.size() != signature_bytes)
            return false;
        std::string_view salt = signature.substr(0, salt_bytes);
        return salt != m_own->salt && (!m_peer || m_peer->salt == salt);
    }

    bool channel_mac::verify(std::string_view signature, std::string_view body, std::string_view tail,
                             std::uint64_t& number)
    {
        if (!may_be_from_peer(signature))
            return false;
        std::string_view salt = signature.substr(0, salt_bytes);
        std::unique_ptr<keyed_cipher> candidate; // the peer's, until a message under it is verified
        keyed_cipher* cipher = m_peer.get();
        if (!cipher)
        {
            candidate = keyed_cipher::make(m_key, m_channel, std::string(salt));
            if (!candidate)
                return false;
            cipher = candidate.get();
        }
        const std::uint64_t claimed = read_big_endian(signature.substr(salt_bytes, number_bytes));
        unsigned char expected[tag_bytes];
        if (!cipher->tag(claimed, body, tail, expected) ||
            CRYPTO_memcmp(expected, signature.data() + salt_bytes + number_bytes, tag_bytes) != 0)
            return false;
        if (candidate)
            m_peer = std::move(candidate);
        number = claimed;
        return true;
    }
}
