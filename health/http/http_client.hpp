// The Patroni REST client: HTTP/1.x GET over Asio coroutines, plain or over TLS (https://), with
// connect and response deadlines, keeping the connection when the server allows it (Patroni
// 3.0.2 answers HTTP/1.0 and closes). The socket side only; framing is the HTTP/1.1 codec's job
// (protocol/http/response_parser.hpp).
#pragma once

#include "config/config.hpp"
#include "health/http/http_errc.hpp"
#include "health/resolve/host_resolver.hpp"
#include "protocol/http/response_parser.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace patroxy::health {

/// The parts of "http://host:port/path" or "https://user:password@host:port/path" that the
/// client needs.
struct http_url {
    std::string host;         ///< a name or an IP literal (IPv6 without its brackets)
    std::uint16_t port = 80;  ///< 80 (http) or 443 (https) when the URL names none
    std::string target = "/"; ///< path and query, "/" when the URL has none
    bool https = false;
    /// The user info, percent-decoded: basic auth for this server (the password may be empty);
    /// nullopt when the URL has none. Never log it.
    std::optional<config::api_auth> credentials{};
};

/// Parses a Patroni `api` / `api_url` such as "http://127.0.0.1:8008/patroni",
/// "https://patroni:secret@node1:8008" or "http://[::1]:8008". The scheme is matched
/// case-insensitively; a fragment is dropped. nullopt for any other scheme, an empty host, a
/// bad port or a bad percent escape in the user info.
[[nodiscard]] std::optional<http_url> parse_http_url(std::string_view url);

/// The value of an Authorization header for basic auth (RFC 7617): "Basic " and the base64 of
/// "user:password".
[[nodiscard]] std::string basic_authorization(const config::api_auth& credentials);

/// What the client needs beyond the server's address to be let in.
struct http_access {
    /// https: the client-side TLS context (trust anchors, optional client certificate, peer
    /// verification on; proxy/tls's make_api_context builds it). nullptr: plain HTTP.
    std::shared_ptr<asio::ssl::context> tls;
    /// Basic auth sent with every request (Patroni's restapi.authentication); nullopt: none.
    std::optional<config::api_auth> credentials{};
};

/// An HTTP client for one server (one per Patroni member). It sends
/// `GET <target> HTTP/1.1` with `Connection: keep-alive` and keeps the connection when the
/// answer allows it; a kept connection that the server closed meanwhile is replaced once,
/// transparently. Over TLS the server's certificate must chain to the context's trust anchors
/// and name `host`; a TLS session is resumed on the next connection where the server allows it,
/// which spares a full handshake per check against a Patroni that closes after every answer.
/// Errors come back as values (http_errc), never as exceptions.
///
/// Not thread-safe: use it from one thread (or strand) and run one get() at a time; the client
/// must outlive every get() it started.
class http_client {
public:
    /// `host` is an IP literal (used as is) or a name (resolved asynchronously on every new
    /// connection, inside connect_timeout); over TLS it is also the name the certificate must carry.
    http_client(asio::any_io_executor ex, std::string host, std::uint16_t port, http_limits limits = {},
                http_access access = {});
    http_client(const http_client&) = delete;
    http_client& operator=(const http_client&) = delete;
    ~http_client();

    /// GET `target` (e.g. "/patroni"). The error is empty on any complete HTTP answer, whatever
    /// its status (a 503 or a 401 is a complete answer); otherwise it is an http_errc,
    /// std::errc::invalid_argument for a target with blanks or control characters,
    /// std::errc::operation_in_progress while another get() runs, or asio's operation_aborted
    /// when close() or a cancellation interrupted the exchange.
    [[nodiscard]] asio::awaitable<std::pair<std::error_code, http_response>> get(std::string target);

    /// Drops the connection and aborts whatever a running get() waits for.
    void close();

    /// New TLS material or credentials (a reload): used from the next get() on. A kept
    /// connection made with another TLS context is not reused, and no TLS session of the old
    /// context is resumed (it would skip the new trust anchors).
    void set_access(http_access access);

    /// `ec` from get() as a line for logs and the stats page; for TLS failures it names the
    /// server and OpenSSL's reason ("TLS handshake with 127.0.0.1:8443 failed: certificate
    /// verify failed (unable to get local issuer certificate)"), for a malformed response what the
    /// codec refused ("malformed HTTP response: malformed HTTP field line"). Holds no credentials.
    [[nodiscard]] std::string describe(std::error_code ec) const;

    /// The socket-level cause of the last connect_failed or closed_early (e.g. connection_refused,
    /// host_not_found, connection_reset, eof), for log lines; empty if there was none.
    [[nodiscard]] std::error_code last_transport_error() const noexcept { return last_transport_error_; }
    /// Connections opened so far, TLS handshake included (shows whether keep-alive is in effect).
    [[nodiscard]] std::uint64_t connections_opened() const noexcept { return connections_opened_; }
    /// TLS connections that resumed an earlier session instead of a full handshake.
    [[nodiscard]] std::uint64_t tls_sessions_resumed() const noexcept { return tls_sessions_resumed_; }
    /// A connection is kept for the next get().
    [[nodiscard]] bool connected() const noexcept { return socket_.is_open(); }
    [[nodiscard]] const std::string& host() const noexcept { return host_; }
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

private:
    /// What one request/response round trip produced.
    struct exchange_result {
        std::error_code error;
        http_response response;
        bool nothing_received = false; ///< the server sent no byte (a stale kept connection looks like this)
        bool reusable = false;         ///< the connection may carry the next request
    };

    struct session_free {
        void operator()(SSL_SESSION* session) const noexcept;
    };

    /// A new connection to the server, TLS included, before connect_timeout.
    [[nodiscard]] asio::awaitable<std::error_code> connect();
    [[nodiscard]] asio::awaitable<std::error_code> resolve(std::vector<asio::ip::tcp::endpoint>& out);
    /// The TCP connection, before the deadline connect() set.
    [[nodiscard]] asio::awaitable<std::error_code> open(const std::vector<asio::ip::tcp::endpoint>& endpoints);
    /// The TLS handshake on the connected socket, before the deadline connect() set.
    [[nodiscard]] asio::awaitable<std::error_code> handshake();
    /// Sends request_ on the open connection and reads one response, all before response_timeout.
    template <typename Stream>
    [[nodiscard]] asio::awaitable<exchange_result> exchange(Stream& stream);
    [[nodiscard]] asio::awaitable<exchange_result> exchange();
    /// Records a TLS error on the open connection: tls_failure_ and the result code.
    [[nodiscard]] std::error_code tls_failed(std::string_view stage, const std::error_code& ec);
    /// Closes the TCP socket; what waits on it completes with operation_aborted.
    void close_socket() noexcept;
    /// close_socket() and frees the TLS state; only where no operation on it is in flight.
    void drop_connection() noexcept;

    std::string host_;
    std::uint16_t port_;
    std::string service_;     ///< the port as text, for the resolver
    std::string host_header_; ///< "host:port", IPv6 literals bracketed
    http_limits limits_;
    std::string authorization_; ///< the whole "Authorization: ...\r\n" line, or empty
    std::shared_ptr<asio::ssl::context> tls_context_; ///< for new connections; nullptr: plain HTTP
    asio::ip::tcp::socket socket_;
    /// The TLS layer over socket_ while a TLS connection is open, and the context it was made
    /// from (declared first, so it outlives the stream; compared with tls_context_ before reuse).
    std::shared_ptr<asio::ssl::context> connection_context_;
    std::optional<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
    std::unique_ptr<SSL_SESSION, session_free> tls_session_; ///< offered on the next handshake
    std::string tls_failure_; ///< what describe() says about the last TLS failure
    host_resolver resolver_;   ///< for a host name; unused for an IP literal
    asio::steady_timer timer_; ///< the deadline of the current phase (connect or response)
    protocol::http::response_parser parser_;
    std::error_code codec_error_; ///< the codec's reason for the last malformed_response
    std::string request_;
    std::array<char, 4096> read_buffer_{};
    std::error_code last_transport_error_;
    std::uint64_t connections_opened_ = 0;
    std::uint64_t tls_sessions_resumed_ = 0;
    bool busy_ = false;
};

} // namespace patroxy::health
