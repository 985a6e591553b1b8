// Session ticket keys for the client leg, where patroxy is the TLS server: a client that
// reconnects (connect per transaction) resumes instead of paying a full handshake. The key
// rotates every ticket_lifetime; tickets under the previous key are still accepted (and renewed),
// so a rotation never forces a full handshake on a client that just got a ticket.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>

namespace patroxy::proxy::tls {

class ticket_keys {
public:
    explicit ticket_keys(std::chrono::milliseconds lifetime);

    /// Installs the keys' callback on `ctx`; the keys must outlive it (kept in its ex_data).
    static void install(SSL_CTX* ctx, ticket_keys* keys);

private:
    struct key {
        std::array<unsigned char, 16> name{};
        std::array<unsigned char, 32> aes{};
        std::array<unsigned char, 32> hmac{};
        std::chrono::steady_clock::time_point born{};
        bool valid = false;
    };

    static int callback(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
                        int encrypt);
    int encrypt(unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac);
    int decrypt(const unsigned char* name, const unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac);
    /// A fresh current key when the current one has lived its lifetime. Under mutex_.
    void rotate_if_due(std::chrono::steady_clock::time_point now);

    const std::chrono::milliseconds lifetime_;
    std::mutex mutex_; ///< handshakes run on every worker; taken once per ticket, never per message
    key current_;
    key previous_;
};

} // namespace patroxy::proxy::tls
