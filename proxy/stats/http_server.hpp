// The stats listener's HTTP/1.1 server, plain or over TLS: keep-alive, pipelining, Basic auth,
// gzip, and a deadline on every handshake, read and write, on the control io_context. It knows no
// routes: a handler maps each request to a reply. One coroutine per connection; a slow or
// malformed client costs one socket and a few kilobytes, never a blocked thread.
#pragma once

#include "proxy/stats/basic_auth.hpp"
#include "proxy/stats/http_reply.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <system_error>

namespace asio::ssl {
class context;
}
struct ssl_st; // OpenSSL's SSL

namespace patroxy::proxy::stats {

/// Bounds on what one client may cost.
struct http_server_limits {
    protocol::http::limits request = default_request_limits(); ///< caps on one request (414, 431, 413)
    /// A request must arrive completely within this, counted from its first byte (from the accept
    /// for a connection's first request, so over HTTPS the handshake is inside it); past it: 408
    /// and close (before the handshake completed: just the close). Also bounds writing one reply,
    /// so a client that stops reading is dropped too.
    std::chrono::milliseconds read_timeout{10'000};
    /// A kept-alive connection with no request under way is closed (silently) after this.
    std::chrono::milliseconds idle_timeout{30'000};
    /// Connections being served or kept alive; one more is answered 503 (over HTTPS: nothing)
    /// and closed at once.
    std::size_t max_connections = 64;
};

/// A connection to the HTTPS server whose TLS handshake failed. The server does not judge why:
/// its owner reads `error` (the proxy names handshake failures the same way for all its TLS).
struct tls_handshake_failure {
    asio::ip::tcp::endpoint client;
    /// As the handshake completed: OpenSSL's error in Asio's ssl category, eof or a reset when the
    /// client left, asio::error::timed_out when read_timeout ran out first.
    std::error_code error;
    /// The connection's, for the client certificate's verify result; valid during the call only.
    const ssl_st* ssl = nullptr;
};

namespace detail {
struct http_server_state;
}

/// The server. Everything runs on the executor given at construction (one thread, the control
/// context); listen() and start() are called on that thread or before it runs, stop() from anywhere.
///
/// Every reply carries Content-Length, `Server: patroxy`, `Cache-Control: no-store` and
/// `Server-Timing: render;dur=<ms>` (the handler's running time). With credentials configured,
/// every path but "/health" needs them (401 with `WWW-Authenticate` otherwise). Bodies over 1 kB go
/// out gzip-compressed to clients that accept it. A request body may come with Content-Length or
/// chunked. A malformed or oversized request is answered (400, 408, 413, 414, 431, 501, 505) and
/// its connection closed; a handler that throws gives a 500 and the connection goes on.
///
/// Over HTTPS (use_tls()) each connection starts with the handshake; after it the connection is
/// served exactly as a plain one. A client that sends a plain HTTP request instead is answered
/// 400 in plain text and closed.
class http_server {
public:
    /// Maps a request to a reply; called on the server's executor, so it must not block. 404, 405
    /// and the like are its job. A HEAD request reaches it as such; the server drops the body.
    using handler = std::function<http_reply(const http_request&)>;
    /// Told of each connection whose TLS handshake failed, once, on the server's executor (except
    /// for connections stop() closes); the server keeps no count and writes no log, its owner does.
    using tls_failure_handler = std::function<void(const tls_handshake_failure&)>;

    http_server(asio::any_io_executor executor, http_server_limits limits, std::optional<basic_credentials> auth,
                handler handle);
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;
    /// stop(); connections still closing finish on their own (they keep what they use alive).
    ~http_server();

    /// Opens and binds the listening socket now (SO_REUSEADDR), so the caller can fail startup with
    /// a clear message; the error of the first step that failed.
    [[nodiscard]] std::error_code listen(const asio::ip::tcp::endpoint& endpoint);
    /// The bound address (the real port after listening on port 0); empty before listen().
    [[nodiscard]] asio::ip::tcp::endpoint local_endpoint() const;
    /// Serves HTTPS with `context` (a server context, ready to use) instead of plain HTTP; call
    /// before start().
    void use_tls(std::shared_ptr<asio::ssl::context> context, tls_failure_handler on_failure);
    /// New connections use `context` (renewed certificates read again on SIGHUP); open ones keep
    /// theirs. On the server's thread, after use_tls().
    void renew_tls(std::shared_ptr<asio::ssl::context> context);
    /// The realm a 401 names (default: default_realm); call before start().
    void set_realm(std::string_view realm);
    /// Starts accepting; call once, after a successful listen().
    void start();
    /// Closes the listening socket and every open connection. Safe from any thread (it runs on
    /// the server's executor) and more than once.
    void stop();

private:
    std::shared_ptr<detail::http_server_state> state_;
};

} // namespace patroxy::proxy::stats
