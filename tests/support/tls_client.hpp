// A blocking TLS client for bytes libpq cannot send: a CancelRequest inside TLS, a direct-TLS
// connection (PostgreSQL 17's sslnegotiation=direct, which Debian 12's libpq 15 lacks) with or
// without ALPN, and a resumed session. OpenSSL over a raw_connection's socket, every read bounded.
#pragma once

#include "tests/support/patroxy_process.hpp"

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace patroxy::test {

struct tls_client_options {
    std::string ca_file;           ///< verify the server against it; "" verifies nothing
    std::string cert_file;         ///< a client certificate, with key_file
    std::string key_file;
    bool direct = false;           ///< handshake at once instead of SSLRequest first
    std::vector<std::string> alpn; ///< protocols to offer; none offers no ALPN
    SSL_SESSION* resume = nullptr; ///< a session of an earlier connection to resume
};

class tls_client {
public:
    /// Connects to 127.0.0.1:`port` and handshakes; nullptr with `error` set (the server's
    /// refusal of the SSLRequest, OpenSSL's reason, or a close) when that fails.
    static std::unique_ptr<tls_client> connect(std::uint16_t port, const tls_client_options& options,
                                               std::string& error);
    ~tls_client();
    tls_client(const tls_client&) = delete;
    tls_client& operator=(const tls_client&) = delete;

    bool send(std::span<const std::byte> bytes);
    /// One regular message, or nullopt on close, error or timeout.
    [[nodiscard]] std::optional<backend_message> read_message(std::chrono::milliseconds timeout);
    /// As raw_connection::startup(), inside TLS: messages up to ReadyForQuery or an ErrorResponse.
    [[nodiscard]] std::vector<backend_message> startup(std::chrono::milliseconds timeout);
    /// Whether the connection is closed by the server within `timeout` (EOF, reset or alert).
    [[nodiscard]] bool closed_within(std::chrono::milliseconds timeout);

    [[nodiscard]] bool session_reused() const { return SSL_session_reused(ssl_) == 1; }
    /// The session to resume later (owned by the caller: SSL_SESSION_free).
    [[nodiscard]] SSL_SESSION* take_session() const { return SSL_get1_session(ssl_); }
    /// The ALPN protocol agreed on, "" when none.
    [[nodiscard]] std::string alpn() const;
    /// The server certificate's subject, one line.
    [[nodiscard]] std::string peer_subject() const;

private:
    tls_client(raw_connection connection, SSL_CTX* ctx, SSL* ssl) : connection_(std::move(connection)), ctx_(ctx), ssl_(ssl) {}
    /// Exactly `out.size()` bytes before `deadline`; false on close, error or timeout.
    bool read_exact(std::span<std::byte> out, std::chrono::steady_clock::time_point deadline);

    raw_connection connection_;
    SSL_CTX* ctx_;
    SSL* ssl_;
};

} // namespace patroxy::test
