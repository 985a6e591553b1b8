// The socket side of the Patroni REST client: resolve, connect, the TLS handshake for https, send
// one GET, feed the parser, each phase raced against a steady_timer holding that phase's deadline
// (STYLE.md section 3).
#include "health/http/http_client.hpp"

#include "health/http/peer_name.hpp"

#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ssl/error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <variant>

namespace patroxy::health {
namespace {

constexpr auto nothrow_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

/// What a won race by the deadline timer means: expiry, or a cancel by close() / the caller.
std::error_code deadline_error(const std::error_code& timer_ec, http_errc on_expiry)
{
    if (timer_ec == asio::error::operation_aborted) return asio::error::operation_aborted;
    return on_expiry;
}

bool is_ip_literal(const std::string& host)
{
    asio::error_code ec;
    (void)asio::ip::make_address(host, ec);
    return !ec;
}

/// Characters that would let a target or host split the request line or inject a header.
bool printable(std::string_view s)
{
    return std::all_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u != 0x7f;
    });
}

char to_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool starts_with_ignoring_case(std::string_view s, std::string_view lower_prefix)
{
    return s.size() >= lower_prefix.size() && std::equal(lower_prefix.begin(), lower_prefix.end(), s.begin(),
                                                         [](char a, char b) { return a == to_lower(b); });
}

int hex_value(char c) noexcept
{
    if (c >= '0' && c <= '9') return c - '0';
    const char lower = to_lower(c);
    if (lower >= 'a' && lower <= 'f') return lower - 'a' + 10;
    return -1;
}

/// RFC 3986 percent-decoding (a password with '@' or ':' must be written %40, %3A); nullopt for
/// a '%' without two hex digits.
std::optional<std::string> percent_decode(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        if (i + 2 >= s.size()) return std::nullopt;
        const int high = hex_value(s[i + 1]);
        const int low = hex_value(s[i + 2]);
        if (high < 0 || low < 0) return std::nullopt;
        out += static_cast<char>(high * 16 + low);
        i += 2;
    }
    return out;
}

/// A read or write error of the response phase: the server closed (or reset), or TLS failed.
bool is_tls_error(const std::error_code& ec)
{
    return ec.category() == asio::error::get_ssl_category();
}

/// The peer closed: a FIN, a TLS close_notify, or a FIN without close_notify, which many TLS
/// servers (Python's ssl module among them, so Patroni) send; framing still tells whether the
/// response is complete, so a truncated one fails as closed_early.
bool is_end_of_stream(const std::error_code& ec)
{
    return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
}

std::optional<std::uint16_t> parse_port(std::string_view s)
{
    if (s.empty() || s.size() > 5) return std::nullopt;
    unsigned value = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

} // namespace

std::optional<http_url> parse_http_url(std::string_view url)
{
    http_url out;
    if (starts_with_ignoring_case(url, "https://")) {
        out.https = true;
        out.port = 443;
        url.remove_prefix(8);
    } else if (starts_with_ignoring_case(url, "http://")) {
        url.remove_prefix(7);
    } else {
        return std::nullopt;
    }
    url = url.substr(0, url.find('#'));

    const auto path_start = url.find_first_of("/?");
    auto authority = url.substr(0, path_start);
    if (path_start != std::string_view::npos) {
        out.target = url[path_start] == '?' ? "/" : "";
        out.target += url.substr(path_start);
    }
    if (!printable(out.target)) return std::nullopt;
    // The last '@' ends the user info: a host never contains one, a careless password might.
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        const auto userinfo = authority.substr(0, at);
        authority.remove_prefix(at + 1);
        const auto colon = userinfo.find(':');
        auto user = percent_decode(userinfo.substr(0, colon));
        auto password = percent_decode(colon == std::string_view::npos ? std::string_view{} : userinfo.substr(colon + 1));
        if (!user || !password) return std::nullopt;
        out.credentials = config::api_auth{std::move(*user), std::move(*password)};
    }

    std::string_view host = authority;
    std::string_view port_text;
    bool has_port = false;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = authority.substr(1, close - 1);
        const auto after = authority.substr(close + 1);
        if (!after.empty() && after.front() != ':') return std::nullopt;
        has_port = !after.empty();
        if (has_port) port_text = after.substr(1);
        asio::error_code ec;
        (void)asio::ip::make_address_v6(std::string(host), ec);
        if (ec) return std::nullopt;
    } else {
        const auto colon = authority.find(':');
        if (colon != std::string_view::npos) {
            host = authority.substr(0, colon);
            port_text = authority.substr(colon + 1);
            has_port = true;
        }
    }
    if (host.empty() || !printable(host)) return std::nullopt;
    if (has_port) {
        const auto port = parse_port(port_text);
        if (!port) return std::nullopt;
        out.port = *port;
    }
    out.host = std::string(host);
    return out;
}

std::string basic_authorization(const config::api_auth& credentials)
{
    const std::string plain = credentials.user + ":" + credentials.password;
    std::string encoded(4 * ((plain.size() + 2) / 3) + 1, '\0'); // EVP_EncodeBlock adds a NUL
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                  reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size()));
    encoded.resize(static_cast<std::size_t>(n));
    return "Basic " + encoded;
}

void http_client::session_free::operator()(SSL_SESSION* session) const noexcept { SSL_SESSION_free(session); }

http_client::http_client(asio::any_io_executor ex, std::string host, std::uint16_t port, http_limits limits,
                         http_access access)
    : host_(std::move(host)),
      port_(port),
      service_(std::to_string(port)),
      limits_(limits),
      socket_(ex),
      resolver_(ex, host_, port),
      timer_(ex),
      parser_(response_limits(limits))
{
    const bool bracket = host_.find(':') != std::string::npos; // only IPv6 literals contain ':'
    host_header_ = (bracket ? "[" + host_ + "]" : host_) + ":" + service_;
    set_access(std::move(access));
}

http_client::~http_client() = default;

void http_client::set_access(http_access access)
{
    authorization_ = access.credentials ? "Authorization: " + basic_authorization(*access.credentials) + "\r\n" : "";
    if (access.tls != tls_context_) tls_session_.reset();
    tls_context_ = std::move(access.tls);
}

std::string http_client::describe(std::error_code ec) const
{
    if (ec == http_errc::tls_failed) return tls_failure_;
    if (ec == http_errc::tls_timeout) return "TLS handshake with " + host_header_ + " timed out";
    if (ec == http_errc::malformed_response && codec_error_) return ec.message() + ": " + codec_error_.message();
    return ec.message();
}

void http_client::close_socket() noexcept
{
    asio::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
}

void http_client::drop_connection() noexcept
{
    // No close_notify: the server learns of the end from the FIN; a health check has nothing
    // a truncation could hurt, and a close_notify would cost a write per check.
    close_socket();
    tls_.reset();
    connection_context_.reset();
}

void http_client::close()
{
    // The TLS state stays until get() has seen its operation end: freeing it under a pending
    // operation would leave that operation with a dangling engine.
    close_socket();
    resolver_.cancel();
    timer_.cancel();
}

asio::awaitable<std::error_code> http_client::resolve(std::vector<asio::ip::tcp::endpoint>& out)
{
    // timer_ already holds the connect deadline: the lookup counts toward connect_timeout.
    auto answer = co_await resolver_.resolve(timer_);
    if (answer.error == asio::error::operation_aborted) co_return answer.error; // close() or a cancelled get()
    if (answer.error == asio::error::timed_out) co_return http_errc::connect_timeout;
    if (answer.error) {
        last_transport_error_ = answer.error;
        co_return http_errc::connect_failed;
    }
    out = std::move(answer.endpoints);
    co_return std::error_code{};
}

asio::awaitable<std::error_code> http_client::connect()
{
    drop_connection();
    timer_.expires_after(limits_.connect_timeout);

    std::vector<asio::ip::tcp::endpoint> endpoints;
    if (is_ip_literal(host_)) {
        endpoints.emplace_back(asio::ip::make_address(host_), port_);
    } else if (const auto ec = co_await resolve(endpoints)) {
        co_return ec;
    }

    auto ec = co_await open(endpoints);
    if (!ec && tls_context_) {
        const bool resuming = tls_session_ != nullptr;
        ec = co_await handshake();
        // Some servers fail a resumption they should decline (OpenSSL verifying client
        // certificates without a session id context): one full handshake more, inside the same
        // deadline, rather than a failed check every other time. The failure dropped the session.
        if (ec == http_errc::tls_failed && resuming) {
            ec = co_await open(endpoints);
            if (!ec) ec = co_await handshake();
        }
    }
    if (!ec) ++connections_opened_;
    co_return ec;
}

asio::awaitable<std::error_code> http_client::open(const std::vector<asio::ip::tcp::endpoint>& endpoints)
{
    using namespace asio::experimental::awaitable_operators;
    auto result = co_await (asio::async_connect(socket_, endpoints, nothrow_awaitable) ||
                            timer_.async_wait(nothrow_awaitable));
    if (result.index() == 1) {
        drop_connection();
        co_return deadline_error(std::get<0>(std::get<1>(result)), http_errc::connect_timeout);
    }
    const auto [ec, endpoint] = std::get<0>(result);
    if (ec) {
        drop_connection();
        if (ec == asio::error::operation_aborted) co_return ec;
        last_transport_error_ = ec;
        co_return http_errc::connect_failed;
    }
    asio::error_code ignored;
    socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
    co_return std::error_code{};
}

std::error_code http_client::tls_failed(std::string_view stage, const std::error_code& ec)
{
    last_transport_error_ = ec;
    std::string reason = ec.message();
    if (is_tls_error(ec)) {
        // OpenSSL's reason without asio's " (SSL routines)" suffix.
        if (const char* text = ERR_reason_error_string(static_cast<unsigned long>(ec.value()))) reason = text;
    }
    // "certificate verify failed" alone does not say what to fix; the verify result does.
    if (tls_) {
        const long verify = SSL_get_verify_result(tls_->native_handle());
        if (verify != X509_V_OK) reason += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
    }
    tls_failure_ = std::string(stage) + " with " + host_header_ + " failed: " + reason;
    // A session that ended in a failure is not offered again.
    tls_session_.reset();
    return http_errc::tls_failed;
}

asio::awaitable<std::error_code> http_client::handshake()
{
    using namespace asio::experimental::awaitable_operators;
    connection_context_ = tls_context_;
    tls_.emplace(socket_, *connection_context_);
    SSL* ssl = tls_->native_handle();
    if (!expect_peer_name(ssl, host_)) {
        tls_failure_ = "TLS with " + host_header_ + " not attempted: OpenSSL refused " + host_ + " as the name to verify";
        drop_connection();
        co_return http_errc::tls_failed;
    }
    if (tls_session_) SSL_set_session(ssl, tls_session_.get());

    // timer_ still holds the connect deadline: resolve, connect and handshake share it.
    auto result = co_await (tls_->async_handshake(asio::ssl::stream_base::client, nothrow_awaitable) ||
                            timer_.async_wait(nothrow_awaitable));
    if (result.index() == 1) {
        drop_connection();
        co_return deadline_error(std::get<0>(std::get<1>(result)), http_errc::tls_timeout);
    }
    const auto [ec] = std::get<0>(result);
    if (ec) {
        const auto out = ec == asio::error::operation_aborted ? std::error_code(ec) : tls_failed("TLS handshake", ec);
        drop_connection();
        co_return out;
    }
    if (SSL_session_reused(ssl) == 1) ++tls_sessions_resumed_;
    co_return std::error_code{};
}

template <typename Stream>
asio::awaitable<http_client::exchange_result> http_client::exchange(Stream& stream)
{
    using namespace asio::experimental::awaitable_operators;
    exchange_result out;
    out.nothing_received = true;
    parser_.reset();
    // One deadline for the whole response: every wait below races the same expiry.
    timer_.expires_after(limits_.response_timeout);
    // A TLS alert (a server refusing our certificate after a TLS 1.3 handshake, say) is a TLS
    // failure; anything else on the way is a connection that broke.
    const auto broken = [this](const std::error_code& ec) -> std::error_code {
        if (ec == asio::error::operation_aborted) return ec;
        if (is_tls_error(ec)) return tls_failed("TLS session", ec);
        last_transport_error_ = ec;
        return http_errc::closed_early;
    };

    auto written = co_await (asio::async_write(stream, asio::buffer(request_), nothrow_awaitable) ||
                             timer_.async_wait(nothrow_awaitable));
    if (written.index() == 1) {
        out.error = deadline_error(std::get<0>(std::get<1>(written)), http_errc::response_timeout);
        co_return out;
    }
    if (const auto [ec, n] = std::get<0>(written); ec) {
        out.error = broken(ec);
        co_return out;
    }

    for (;;) {
        auto read = co_await (stream.async_read_some(asio::buffer(read_buffer_), nothrow_awaitable) ||
                              timer_.async_wait(nothrow_awaitable));
        if (read.index() == 1) {
            out.error = deadline_error(std::get<0>(std::get<1>(read)), http_errc::response_timeout);
            co_return out;
        }
        const auto [ec, n] = std::get<0>(read);
        protocol::http::parse_result parsed;
        if (n > 0) {
            out.nothing_received = false;
            parsed = parser_.feed(std::string_view(read_buffer_.data(), n));
        } else if (is_end_of_stream(ec)) {
            last_transport_error_ = ec;
            parsed = parser_.finish();
        } else if (ec) {
            out.error = broken(ec);
            co_return out;
        }
        if (parsed.state == protocol::http::parse_status::error) {
            codec_error_ = parsed.error;
            out.error = from_codec_error(parsed.error);
            co_return out;
        }
        if (parsed.state == protocol::http::parse_status::done) {
            out.response = parser_.take();
            // Bytes after the response were never asked for: the stream is out of step, drop it.
            out.reusable = out.response.keep_alive && n > 0 && parsed.consumed == n;
            co_return out;
        }
    }
}

asio::awaitable<http_client::exchange_result> http_client::exchange()
{
    if (tls_) return exchange(*tls_);
    return exchange(socket_);
}

asio::awaitable<std::pair<std::error_code, http_response>> http_client::get(std::string target)
{
    using outcome = std::pair<std::error_code, http_response>;
    if (busy_) {
        outcome refused{std::make_error_code(std::errc::operation_in_progress), http_response{}};
        co_return refused;
    }
    if (target.empty() || target.front() != '/' || !printable(target)) {
        outcome refused{std::make_error_code(std::errc::invalid_argument), http_response{}};
        co_return refused;
    }
    busy_ = true;
    request_ = "GET " + target + " HTTP/1.1\r\nHost: " + host_header_ + "\r\n" + authorization_ +
               "User-Agent: patroxy\r\nAccept: application/json\r\nConnection: keep-alive\r\n\r\n";

    // A connection made with TLS material that a reload replaced is not reused.
    if (socket_.is_open() && connection_context_ != tls_context_) drop_connection();
    const bool reused = socket_.is_open();
    exchange_result result;
    if (!reused) result.error = co_await connect();
    if (!result.error) {
        result = co_await exchange();
        // A kept connection the server closed while idle fails before any byte arrives: connect
        // again, once. A timeout is not that (retrying would double the wait), nor is close().
        if (reused && result.nothing_received && result.error == http_errc::closed_early) {
            result.error = co_await connect();
            if (!result.error) result = co_await exchange();
        }
    }
    if (!result.error && tls_) {
        SSL* ssl = tls_->native_handle();
        // After the response, so a TLS 1.3 ticket sent after the handshake is in the session.
        SSL_SESSION* session = SSL_get1_session(ssl);
        if (session && SSL_SESSION_is_resumable(session) == 1)
            tls_session_.reset(session);
        else if (session)
            SSL_SESSION_free(session);
        // OpenSSL voids the session of a connection freed before a shutdown. A complete
        // response is a clean end even without close_notify (Patroni's Python sends none), so
        // say the connection was shut down and keep the session resumable.
        if (!result.reusable) SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    }
    if (result.error || !result.reusable) drop_connection();
    busy_ = false;
    outcome done{result.error, std::move(result.response)};
    co_return done;
}

} // namespace patroxy::health
