// The Patroni REST client: HTTP/1.x GET over Asio coroutines with connect and response deadlines,
// keeping the connection when the server allows it (Patroni 3.0.2 answers HTTP/1.0 and closes).
// The socket side only; framing is http_response_parser's job.
#pragma once

#include "health/http/http_response_parser.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
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

/// The parts of "http://host:port/path" that the client needs.
struct http_url {
    std::string host;        ///< a name or an IP literal (IPv6 without its brackets)
    std::uint16_t port = 80; ///< 80 when the URL names none
    std::string target = "/"; ///< path and query, "/" when the URL has none

    bool operator==(const http_url&) const = default;
};

/// Parses a Patroni `api` / `api_url` such as "http://127.0.0.1:8008/patroni" or
/// "http://[::1]:8008". The scheme is matched case-insensitively; a fragment is dropped.
/// nullopt for any other scheme (https included), user info, an empty host or a bad port.
[[nodiscard]] std::optional<http_url> parse_http_url(std::string_view url);

/// An HTTP client for one server (one per Patroni member). It sends
/// `GET <target> HTTP/1.1` with `Connection: keep-alive` and keeps the TCP connection when the
/// answer allows it; a kept connection that the server closed meanwhile is replaced once,
/// transparently. Errors come back as values (http_errc), never as exceptions.
///
/// Not thread-safe: use it from one thread (or strand) and run one get() at a time; the client
/// must outlive every get() it started.
class http_client {
public:
    /// `host` is an IP literal (used as is) or a name (resolved asynchronously on every new
    /// connection, inside connect_timeout).
    http_client(asio::any_io_executor ex, std::string host, std::uint16_t port, http_limits limits = {});
    http_client(const http_client&) = delete;
    http_client& operator=(const http_client&) = delete;
    ~http_client();

    /// GET `target` (e.g. "/patroni"). The error is empty on any complete HTTP answer, whatever
    /// its status (a 503 is a valid Patroni answer); otherwise it is an http_errc,
    /// std::errc::invalid_argument for a target with blanks or control characters,
    /// std::errc::operation_in_progress while another get() runs, or asio's operation_aborted
    /// when close() or a cancellation interrupted the exchange.
    [[nodiscard]] asio::awaitable<std::pair<std::error_code, http_response>> get(std::string target);

    /// Drops the connection and aborts whatever a running get() waits for.
    void close();

    /// The socket-level cause of the last connect_failed or closed_early (e.g. connection_refused,
    /// host_not_found, connection_reset, eof), for log lines; empty if there was none.
    [[nodiscard]] std::error_code last_transport_error() const noexcept { return last_transport_error_; }
    /// TCP connections opened so far (shows whether keep-alive is in effect).
    [[nodiscard]] std::uint64_t connections_opened() const noexcept { return connections_opened_; }
    /// A connection is kept for the next get().
    [[nodiscard]] bool connected() const noexcept { return socket_.is_open(); }
    [[nodiscard]] const std::string& host() const noexcept { return host_; }
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

private:
    struct resolve_state;
    /// What one request/response round trip produced.
    struct exchange_result {
        std::error_code error;
        http_response response;
        bool nothing_received = false; ///< the server sent no byte (a stale kept connection looks like this)
        bool reusable = false;         ///< the connection may carry the next request
    };

    [[nodiscard]] asio::awaitable<std::error_code> connect();
    [[nodiscard]] asio::awaitable<std::error_code> resolve(std::vector<asio::ip::tcp::endpoint>& out);
    /// Sends request_ on the open socket and reads one response, all before response_timeout.
    [[nodiscard]] asio::awaitable<exchange_result> exchange();
    void drop_connection() noexcept;

    std::string host_;
    std::uint16_t port_;
    std::string service_;     ///< the port as text, for the resolver
    std::string host_header_; ///< "host:port", IPv6 literals bracketed
    http_limits limits_;
    asio::ip::tcp::socket socket_;
    asio::ip::tcp::resolver resolver_;
    asio::steady_timer timer_; ///< the deadline of the current phase (connect or response)
    http_response_parser parser_;
    std::string request_;
    std::array<char, 4096> read_buffer_{};
    std::shared_ptr<resolve_state> resolving_; ///< the resolve in flight, if any
    std::error_code last_transport_error_;
    std::uint64_t connections_opened_ = 0;
    bool busy_ = false;
};

} // namespace patroxy::health
