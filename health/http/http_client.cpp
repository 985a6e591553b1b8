// The socket side of the Patroni REST client: resolve, connect, send one GET, feed the parser,
// each phase raced against a steady_timer holding that phase's deadline (STYLE.md section 3).
#include "health/http/http_client.hpp"

#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

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
    constexpr std::string_view scheme = "http://";
    if (url.size() < scheme.size() ||
        !std::equal(scheme.begin(), scheme.end(), url.begin(), [](char a, char b) { return a == to_lower(b); }))
        return std::nullopt;
    url.remove_prefix(scheme.size());
    url = url.substr(0, url.find('#'));

    const auto path_start = url.find_first_of("/?");
    const auto authority = url.substr(0, path_start);
    http_url out;
    if (path_start != std::string_view::npos) {
        out.target = url[path_start] == '?' ? "/" : "";
        out.target += url.substr(path_start);
    }
    if (authority.find('@') != std::string_view::npos || !printable(out.target)) return std::nullopt;

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

/// Shared between a resolve in flight and its completion handler. getaddrinfo runs on Asio's
/// resolver thread and cannot be interrupted, so the client waits on its timer instead and the
/// handler wakes it; a late handler finds `waiter` null and only fills a state nobody reads.
struct http_client::resolve_state {
    bool finished = false;
    std::error_code error;
    std::vector<asio::ip::tcp::endpoint> endpoints;
    asio::steady_timer* waiter = nullptr;
};

http_client::http_client(asio::any_io_executor ex, std::string host, std::uint16_t port, http_limits limits)
    : host_(std::move(host)),
      port_(port),
      service_(std::to_string(port)),
      limits_(limits),
      socket_(ex),
      resolver_(ex),
      timer_(ex),
      parser_(limits.max_header_bytes, limits.max_body_bytes)
{
    const bool bracket = host_.find(':') != std::string::npos; // only IPv6 literals contain ':'
    host_header_ = (bracket ? "[" + host_ + "]" : host_) + ":" + service_;
}

http_client::~http_client()
{
    if (resolving_) resolving_->waiter = nullptr;
}

void http_client::drop_connection() noexcept
{
    asio::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
}

void http_client::close()
{
    drop_connection();
    resolver_.cancel();
    timer_.cancel();
}

asio::awaitable<std::error_code> http_client::resolve(std::vector<asio::ip::tcp::endpoint>& out)
{
    auto state = std::make_shared<resolve_state>();
    state->waiter = &timer_;
    resolving_ = state;
    resolver_.async_resolve(host_, service_,
                            [state](const asio::error_code& ec, const asio::ip::tcp::resolver::results_type& results) {
                                state->finished = true;
                                state->error = ec;
                                for (const auto& entry : results) state->endpoints.push_back(entry.endpoint());
                                if (state->waiter) state->waiter->cancel();
                            });
    // timer_ already holds the connect deadline; the handler cancels the wait when it is done.
    const auto [wait_ec] = co_await timer_.async_wait(nothrow_awaitable);
    state->waiter = nullptr;
    resolving_.reset();
    if (!state->finished) {
        resolver_.cancel();
        // Woken without a result: close() or a cancellation of get(), not the deadline.
        co_return wait_ec == asio::error::operation_aborted ? std::error_code(asio::error::operation_aborted)
                                                            : std::error_code(http_errc::connect_timeout);
    }
    if (state->error || state->endpoints.empty()) {
        last_transport_error_ = state->error ? state->error : std::error_code(asio::error::host_not_found);
        co_return http_errc::connect_failed;
    }
    out = std::move(state->endpoints);
    co_return std::error_code{};
}

asio::awaitable<std::error_code> http_client::connect()
{
    using namespace asio::experimental::awaitable_operators;
    drop_connection();
    timer_.expires_after(limits_.connect_timeout);

    std::vector<asio::ip::tcp::endpoint> endpoints;
    if (is_ip_literal(host_)) {
        endpoints.emplace_back(asio::ip::make_address(host_), port_);
    } else if (const auto ec = co_await resolve(endpoints)) {
        co_return ec;
    }

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
    ++connections_opened_;
    co_return std::error_code{};
}

asio::awaitable<http_client::exchange_result> http_client::exchange()
{
    using namespace asio::experimental::awaitable_operators;
    exchange_result out;
    out.nothing_received = true;
    parser_.reset();
    // One deadline for the whole response: every wait below races the same expiry.
    timer_.expires_after(limits_.response_timeout);

    auto written = co_await (asio::async_write(socket_, asio::buffer(request_), nothrow_awaitable) ||
                             timer_.async_wait(nothrow_awaitable));
    if (written.index() == 1) {
        out.error = deadline_error(std::get<0>(std::get<1>(written)), http_errc::response_timeout);
        co_return out;
    }
    if (const auto [ec, n] = std::get<0>(written); ec) {
        out.error = ec == asio::error::operation_aborted ? std::error_code(ec) : std::error_code(http_errc::closed_early);
        last_transport_error_ = ec;
        co_return out;
    }

    for (;;) {
        auto read = co_await (socket_.async_read_some(asio::buffer(read_buffer_), nothrow_awaitable) ||
                              timer_.async_wait(nothrow_awaitable));
        if (read.index() == 1) {
            out.error = deadline_error(std::get<0>(std::get<1>(read)), http_errc::response_timeout);
            co_return out;
        }
        const auto [ec, n] = std::get<0>(read);
        http_response_parser::result parsed;
        if (n > 0) {
            out.nothing_received = false;
            parsed = parser_.feed(std::string_view(read_buffer_.data(), n));
        } else if (ec == asio::error::eof) {
            last_transport_error_ = ec;
            parsed = parser_.finish();
        } else if (ec) {
            out.error = ec == asio::error::operation_aborted ? std::error_code(ec) : std::error_code(http_errc::closed_early);
            last_transport_error_ = ec;
            co_return out;
        }
        if (parsed.state == http_response_parser::status::error) {
            out.error = parsed.error;
            co_return out;
        }
        if (parsed.state == http_response_parser::status::done) {
            out.response = parser_.take_response();
            // Bytes after the response were never asked for: the stream is out of step, drop it.
            out.reusable = out.response.keep_alive && n > 0 && parsed.consumed == n;
            co_return out;
        }
    }
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
    request_ = "GET " + target + " HTTP/1.1\r\nHost: " + host_header_ +
               "\r\nUser-Agent: patroxy\r\nAccept: application/json\r\nConnection: keep-alive\r\n\r\n";

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
    if (result.error || !result.reusable) drop_connection();
    busy_ = false;
    outcome done{result.error, std::move(result.response)};
    co_return done;
}

} // namespace patroxy::health
