// Building the OpenSSL contexts. Errors name the setting and the file, then OpenSSL's reason,
// so "patroxy -c" says which PEM file is wrong and why.
#include "proxy/tls/tls_context.hpp"

#include "proxy/tls/ticket_keys.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>

namespace patroxy::proxy::tls {
namespace {

/// A server context and the ticket keys its callback reads, freed together.
struct server_context_holder {
    explicit server_context_holder(std::chrono::milliseconds ticket_lifetime)
        : context(asio::ssl::context::tls_server), keys(ticket_lifetime)
    {
    }
    asio::ssl::context context;
    ticket_keys keys;
};

/// `what` failed: the OpenSSL reason appended.
bool fail(std::string& error, const std::string& what)
{
    error = what + ": " + openssl_errors();
    return false;
}

bool apply_protocol_choices(SSL_CTX* ctx, const config::tls_settings& s, std::string& error)
{
    const int version = s.min_version == config::tls_version::v1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
    if (SSL_CTX_set_min_proto_version(ctx, version) != 1) return fail(error, "min_version");
    if (!s.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, s.ciphers.c_str()) != 1)
        return fail(error, "ciphers \"" + s.ciphers + "\"");
    if (!s.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx, s.ciphersuites.c_str()) != 1)
        return fail(error, "ciphersuites \"" + s.ciphersuites + "\"");
    // No renegotiation (PostgreSQL refuses it too), and no compression (CRIME).
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    return true;
}

bool load_key_pair(SSL_CTX* ctx, const std::string& cert_setting, const std::string& cert,
                   const std::string& key_setting, const std::string& key, std::string& error)
{
    if (cert.empty()) return true;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1)
        return fail(error, cert_setting + " '" + cert + "'");
    if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
        return fail(error, key_setting + " '" + key + "'");
    if (SSL_CTX_check_private_key(ctx) != 1)
        return fail(error, key_setting + " '" + key + "' does not belong to " + cert_setting + " '" + cert + "'");
    return true;
}

bool load_ca(SSL_CTX* ctx, const std::string& setting, const std::string& file, std::string& error)
{
    if (SSL_CTX_load_verify_locations(ctx, file.c_str(), nullptr) != 1)
        return fail(error, setting + " '" + file + "'");
    return true;
}

/// ALPN as PostgreSQL 17 does it: "postgresql" when the client offers it; a client that offers
/// ALPN without it is refused; a client that offers none goes on (SSLRequest clients before 17).
int select_postgresql(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                      unsigned int in_len, void*)
{
    static constexpr unsigned char wanted[] = {10, 'p', 'o', 's', 't', 'g', 'r', 'e', 's', 'q', 'l'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, out_len, wanted, sizeof wanted, in, in_len) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

int verify_flags(config::client_verify_mode mode)
{
    switch (mode) {
    case config::client_verify_mode::none: return SSL_VERIFY_NONE;
    case config::client_verify_mode::optional: return SSL_VERIFY_PEER;
    case config::client_verify_mode::required: return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    return SSL_VERIFY_NONE;
}

} // namespace

std::string openssl_errors()
{
    std::string text;
    while (const unsigned long code = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(code, buf, sizeof buf);
        if (!text.empty()) text += "; ";
        // "error:0A000086:SSL routines::certificate verify failed" -> the reason after the last ':'
        const char* reason = std::strrchr(buf, ':');
        text += reason ? reason + 1 : buf;
    }
    return text.empty() ? "unknown OpenSSL error" : text;
}

context_ptr make_server_context(const config::tls_settings& settings, server_protocol protocol, std::string& error)
{
    ERR_clear_error();
    auto holder = std::make_shared<server_context_holder>(settings.ticket_lifetime);
    SSL_CTX* ctx = holder->context.native_handle();
    if (!apply_protocol_choices(ctx, settings, error)) return nullptr;
    if (settings.cert.empty()) {
        error = "no certificate: set \"cert\" and \"key\"";
        return nullptr;
    }
    if (!load_key_pair(ctx, "cert", settings.cert, "key", settings.key, error)) return nullptr;
    if (!settings.client_ca.empty()) {
        if (!load_ca(ctx, "client_ca", settings.client_ca, error)) return nullptr;
        // The CA names go out in the CertificateRequest, so a client picks the right certificate.
        if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(settings.client_ca.c_str()))
            SSL_CTX_set_client_CA_list(ctx, names);
    }
    SSL_CTX_set_verify(ctx, verify_flags(settings.client_verify), nullptr);
    // Resumed sessions must belong to this kind of listener (OpenSSL refuses resumption with
    // client verification otherwise).
    static constexpr unsigned char session_context[] = "patroxy";
    SSL_CTX_set_session_id_context(ctx, session_context, sizeof session_context - 1);
    if (settings.session_tickets) {
        ticket_keys::install(ctx, &holder->keys);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF); // tickets only: no per-session state here
    } else {
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_num_tickets(ctx, 0);
    }
    if (protocol == server_protocol::postgresql) SSL_CTX_set_alpn_select_cb(ctx, &select_postgresql, nullptr);
    // Asio's stream hands OpenSSL buffers that may move between retries of a write.
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    return {holder, &holder->context};
}

context_ptr make_server_leg_context(const config::tls_settings& settings, config::server_tls_mode mode,
                                    std::string& error)
{
    ERR_clear_error();
    auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    SSL_CTX* ctx = context->native_handle();
    if (!apply_protocol_choices(ctx, settings, error)) return nullptr;
    if (!load_key_pair(ctx, "server_cert", settings.server_cert, "server_key", settings.server_key, error))
        return nullptr;
    const bool verify = mode == config::server_tls_mode::verify_ca || mode == config::server_tls_mode::verify_full;
    if (verify && !load_ca(ctx, "server_ca", settings.server_ca, error)) return nullptr;
    SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
    // PostgreSQL offers no resumption (no tickets, no cache): nothing to keep.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    return context;
}

context_ptr make_api_context(const config::tls_settings& settings, std::string& error)
{
    ERR_clear_error();
    auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    SSL_CTX* ctx = context->native_handle();
    if (!apply_protocol_choices(ctx, settings, error)) return nullptr;
    if (!load_key_pair(ctx, "api_cert", settings.api_cert, "api_key", settings.api_key, error)) return nullptr;
    if (settings.api_ca.empty()) {
        if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            fail(error, "the system's trust store");
            return nullptr;
        }
    } else if (!load_ca(ctx, "api_ca", settings.api_ca, error)) {
        return nullptr;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return context;
}

void check_material(const config::config& cfg, std::vector<std::string>& errors)
{
    std::string error;
    for (std::size_t i = 0; i < cfg.listeners.size(); ++i) {
        const auto& l = cfg.listeners[i];
        const std::string path = "/listeners/" + std::to_string(i);
        if (l.tls == config::tls_mode::terminate && !make_server_context(l.tls_options, server_protocol::postgresql, error))
            errors.push_back(path + "/tls: " + error);
        if (l.server_tls != config::server_tls_mode::disable && !make_server_leg_context(l.tls_options, l.server_tls, error))
            errors.push_back(path + "/server_tls: " + error);
    }
    if (cfg.stats && cfg.stats->tls && !make_server_context(cfg.stats->tls_options, server_protocol::http, error))
        errors.push_back("/stats/tls: " + error);
    const bool https_api = std::any_of(cfg.members.begin(), cfg.members.end(),
                                       [](const config::member& m) { return m.api.starts_with("https://"); });
    if (https_api && !make_api_context(cfg.tls, error)) errors.push_back("/tls: Patroni API: " + error);
}

} // namespace patroxy::proxy::tls
