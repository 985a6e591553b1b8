// Why a TLS handshake failed, in few enough kinds to be a metric label, and said in words for
// the log line. Both legs use it: clients of a terminating listener, and the servers behind it.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>

namespace patroxy::proxy::tls {

enum class handshake_failure {
    timeout,               ///< not done within the deadline (timeouts.startup or timeouts.connect)
    closed,                ///< the peer closed or reset the connection mid-handshake
    protocol_version,      ///< no TLS version both sides accept (min_version)
    no_shared_cipher,      ///< no cipher both sides accept
    no_client_certificate, ///< client_verify "required" and the client sent none
    certificate_rejected,  ///< our side did not accept the peer's certificate (CA, expiry, name)
    peer_rejected,         ///< the peer did not accept ours (an alert: unknown CA, bad certificate)
    no_alpn,               ///< a client offered ALPN without "postgresql", or direct TLS without ALPN
    not_tls,               ///< the peer did not speak TLS (a plaintext request on a TLS port)
    other,
};
inline constexpr std::size_t handshake_failure_count = static_cast<std::size_t>(handshake_failure::other) + 1;

/// The metric label: "timeout", "no_client_certificate", ...
[[nodiscard]] std::string_view to_string(handshake_failure f) noexcept;

/// What `ec` from a handshake on `ssl` means. OpenSSL's verification result is read from `ssl`.
[[nodiscard]] handshake_failure classify(const std::error_code& ec, const SSL* ssl) noexcept;

/// The reason for a log line: OpenSSL's words, and the certificate's problem when there is one
/// ("certificate verify failed: certificate has expired").
[[nodiscard]] std::string describe(const std::error_code& ec, const SSL* ssl);

} // namespace patroxy::proxy::tls
