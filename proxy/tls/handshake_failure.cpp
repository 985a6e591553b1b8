// Handshake failures by kind (handshake_failure.hpp), from the error codes Asio's SSL stream
// reports: OpenSSL's packed error codes in Asio's ssl category, or plain socket errors.
#include "proxy/tls/handshake_failure.hpp"

#include <asio/error.hpp>
#include <asio/ssl/error.hpp>

#include <openssl/err.h>
#include <openssl/x509.h>

namespace patroxy::proxy::tls {

std::string_view to_string(handshake_failure f) noexcept
{
    switch (f) {
    case handshake_failure::timeout: return "timeout";
    case handshake_failure::closed: return "closed";
    case handshake_failure::protocol_version: return "protocol_version";
    case handshake_failure::no_shared_cipher: return "no_shared_cipher";
    case handshake_failure::no_client_certificate: return "no_client_certificate";
    case handshake_failure::certificate_rejected: return "certificate_rejected";
    case handshake_failure::peer_rejected: return "peer_rejected";
    case handshake_failure::no_alpn: return "no_alpn";
    case handshake_failure::not_tls: return "not_tls";
    case handshake_failure::other: return "other";
    }
    return "other";
}

handshake_failure classify(const std::error_code& ec, const SSL* ssl) noexcept
{
    if (ec == asio::error::timed_out || ec == asio::error::operation_aborted) return handshake_failure::timeout;
    if (ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
        ec == asio::ssl::error::stream_truncated)
        return handshake_failure::closed;
    if (ec.category() != asio::error::get_ssl_category()) return handshake_failure::other;
    switch (ERR_GET_REASON(static_cast<unsigned long>(ec.value()))) {
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE: return handshake_failure::no_client_certificate;
    case SSL_R_CERTIFICATE_VERIFY_FAILED: return handshake_failure::certificate_rejected;
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION: return handshake_failure::protocol_version;
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE: return handshake_failure::no_shared_cipher;
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_TLSV1_ALERT_DECRYPT_ERROR: return handshake_failure::peer_rejected;
    case SSL_R_NO_APPLICATION_PROTOCOL:
    case SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL: return handshake_failure::no_alpn;
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH: return handshake_failure::not_tls;
    default: break;
    }
    if (ssl != nullptr && SSL_get_verify_result(ssl) != X509_V_OK) return handshake_failure::certificate_rejected;
    return handshake_failure::other;
}

std::string describe(const std::error_code& ec, const SSL* ssl)
{
    std::string text = ec.message();
    if (ssl != nullptr) {
        const long verify = SSL_get_verify_result(ssl);
        if (verify != X509_V_OK) text += std::string(": ") + X509_verify_cert_error_string(verify);
    }
    return text;
}

} // namespace patroxy::proxy::tls
