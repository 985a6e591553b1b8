// Session tickets under keys of our own (OpenSSL's built-in ticket key never changes for the
// life of a context): AES-256-CBC for the ticket, HMAC-SHA256 over it, as OpenSSL's own keys.
#include "proxy/tls/ticket_keys.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cstring>

namespace patroxy::proxy::tls {
namespace {

int ex_data_index()
{
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

bool set_mac_key(EVP_MAC_CTX* mac, const std::array<unsigned char, 32>& key)
{
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key.data()), key.size()),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    return EVP_MAC_CTX_set_params(mac, params) == 1;
}

} // namespace

ticket_keys::ticket_keys(std::chrono::milliseconds lifetime) : lifetime_(lifetime) {}

void ticket_keys::install(SSL_CTX* ctx, ticket_keys* keys)
{
    SSL_CTX_set_ex_data(ctx, ex_data_index(), keys);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &ticket_keys::callback);
}

int ticket_keys::callback(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
                          int encrypt)
{
    auto* keys = static_cast<ticket_keys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_data_index()));
    if (keys == nullptr) return -1;
    return encrypt ? keys->encrypt(name, iv, cipher, mac) : keys->decrypt(name, iv, cipher, mac);
}

void ticket_keys::rotate_if_due(std::chrono::steady_clock::time_point now)
{
    if (current_.valid && now - current_.born < lifetime_) return;
    key fresh;
    if (RAND_bytes(fresh.name.data(), static_cast<int>(fresh.name.size())) != 1 ||
        RAND_bytes(fresh.aes.data(), static_cast<int>(fresh.aes.size())) != 1 ||
        RAND_bytes(fresh.hmac.data(), static_cast<int>(fresh.hmac.size())) != 1)
        return; // no randomness: keep the current key (or issue no ticket) rather than a weak one
    fresh.born = now;
    fresh.valid = true;
    previous_ = current_;
    current_ = fresh;
}

int ticket_keys::encrypt(unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac)
{
    key k;
    {
        const std::lock_guard lock(mutex_);
        rotate_if_due(std::chrono::steady_clock::now());
        k = current_;
    }
    if (!k.valid || RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return 0; // no ticket
    std::memcpy(name, k.name.data(), k.name.size());
    if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, k.aes.data(), iv) != 1) return -1;
    return set_mac_key(mac, k.hmac) ? 1 : -1;
}

int ticket_keys::decrypt(const unsigned char* name, const unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac)
{
    key k;
    bool renew = false;
    {
        const std::lock_guard lock(mutex_);
        const auto now = std::chrono::steady_clock::now();
        rotate_if_due(now);
        if (current_.valid && std::memcmp(name, current_.name.data(), current_.name.size()) == 0) {
            k = current_;
        } else if (previous_.valid && std::memcmp(name, previous_.name.data(), previous_.name.size()) == 0 &&
                   now - previous_.born < 2 * lifetime_) {
            k = previous_;
            renew = true; // still good, but the client should get a ticket under the current key
        }
    }
    if (!k.valid) return 0; // unknown or expired key: a full handshake
    if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, k.aes.data(), iv) != 1) return -1;
    if (!set_mac_key(mac, k.hmac)) return -1;
    return renew ? 2 : 1;
}

} // namespace patroxy::proxy::tls
