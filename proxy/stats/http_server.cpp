// The socket side of the stats server: the accept loop, one coroutine per connection that (over
// HTTPS, after the handshake) feeds the HTTP codec's request_parser and writes replies in order, each
// handshake, read and write raced against the connection's deadline (STYLE.md section 3), and
// the reply's framing, auth, gzip and timing.
#include "proxy/stats/http_server.hpp"

#include "protocol/http/field_text.hpp"
#include "protocol/http/request_parser.hpp"
#include "proxy/stats/gzip.hpp"
#include "proxy/stats/http_stream.hpp"
#include "proxy/support/control_server.hpp"

#include <asio/co_spawn.hpp>
#include <asio/dispatch.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <array>
#include <charconv>
#include <tuple>
#include <unordered_set>
#include <variant>

namespace patroxy::proxy::stats {
namespace detail {
class http_connection;

/// What the server, its accept loop and its connections share. Held by shared_ptr so that
/// connections still closing after the http_server is gone find it alive.
struct http_server_state {
    http_server_state(asio::any_io_executor ex, http_server_limits l, std::optional<basic_credentials> a,
                      http_server::handler h)
        : executor(std::move(ex)), limits(l), auth(std::move(a)), handle(std::move(h)), acceptor(executor)
    {
    }

    void stop_now();

    asio::any_io_executor executor;
    http_server_limits limits;
    std::optional<basic_credentials> auth;
    std::string challenge = basic_challenge(); ///< the WWW-Authenticate value of a 401
    http_server::handler handle;
    asio::ip::tcp::acceptor acceptor;
    std::shared_ptr<asio::ssl::context> tls; ///< HTTPS when set
    http_server::tls_failure_handler on_tls_failure;
    std::unordered_set<http_connection*> live; ///< connections counted against max_connections
    bool stopped = false;
};

} // namespace detail

namespace {

namespace http = protocol::http;
using detail::http_server_state;
using clock_type = std::chrono::steady_clock;
using tcp = asio::ip::tcp;

using control::before_deadline;
using control::nothrow_awaitable;

/// Bodies at least this big are worth compressing; below it the gzip header and the CPU cost
/// eat the gain.
constexpr std::size_t gzip_min_bytes = 1024;
/// After an error reply, the client's remaining bytes are read and dropped for at most this long
/// (and this many bytes) before the socket closes: closing with unread input sends an RST,
/// which can destroy the reply before the client reads it ("lingering close", as nginx does).
constexpr std::chrono::milliseconds linger_time{2000};
constexpr std::size_t linger_bytes = 1024 * 1024;
constexpr std::string_view continue_reply = "HTTP/1.1 100 Continue\r\n\r\n";

std::string_view reason_phrase(unsigned status) noexcept
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
}

/// The status a request the codec refused is answered with.
unsigned refusal_status(const std::error_code& codec_error) noexcept
{
    switch (static_cast<http::http_errc>(codec_error.value())) {
    case http::http_errc::unsupported_version: return 505;
    case http::http_errc::unsupported_transfer_coding: return 501;
    case http::http_errc::start_line_too_long: return 414;
    case http::http_errc::fields_too_large:
    case http::http_errc::too_many_fields: return 431;
    case http::http_errc::body_too_large: return 413;
    default: return 400;
    }
}

/// A short plain-text reply "<status> <reason>\n", for what the server answers itself.
http_reply plain_reply(unsigned status)
{
    http_reply reply;
    reply.status = status;
    reply.content_type.assign("text/plain; charset=utf-8");
    reply.body = std::to_string(status) + " " + std::string(reason_phrase(status)) + "\n";
    return reply;
}

/// How the reply to one request is framed.
struct reply_context {
    bool head = false;       ///< HEAD: headers as for GET, no body bytes
    bool accepts_gzip = false;
    bool keep_alive = false; ///< the connection stays open after this reply
    unsigned version_minor = 1;
    clock_type::duration render{}; ///< the handler's running time
};

/// Fields the server writes itself; a handler's copies would break framing or repeat them.
bool server_owned(std::string_view name) noexcept
{
    return http::iequals(name, "content-length") || http::iequals(name, "transfer-encoding") ||
           http::iequals(name, "connection");
}

bool has_field(const http_reply& reply, std::string_view name) noexcept
{
    for (const auto& field : reply.headers)
        if (http::iequals(field.first, name)) return true;
    return false;
}

void append_field(std::string& out, std::string_view name, std::string_view value)
{
    out.append(name).append(": ").append(value).append("\r\n");
}

std::string format_milliseconds(clock_type::duration d)
{
    const double ms = std::chrono::duration<double, std::milli>(d).count();
    std::array<char, 32> text{};
    const auto [end, ec] = std::to_chars(text.data(), text.data() + text.size(), ms, std::chars_format::fixed, 3);
    return ec == std::errc{} ? std::string(text.data(), end) : std::string("0.000");
}

/// The reply's bytes: status line, fields, and (unless HEAD or a bodiless status) the body,
/// compressed when that pays and the client takes it.
std::string serialize(http_reply reply, const reply_context& ctx)
{
    if (reply.status < 100 || reply.status > 999) reply = plain_reply(500);
    const bool bodiless = reply.status < 200 || reply.status == 204 || reply.status == 304;
    if (bodiless) reply.body.clear();

    // Vary whenever the coding depends on Accept-Encoding, even for a client that got identity.
    const bool compressible = reply.body.size() >= gzip_min_bytes && !has_field(reply, "content-encoding");
    bool gzipped = false;
    if (compressible && ctx.accepts_gzip) {
        if (auto packed = gzip_compress(reply.body)) {
            reply.body = std::move(*packed);
            gzipped = true;
        }
    }

    std::string out;
    out.reserve(256 + (ctx.head ? 0 : reply.body.size()));
    out.append("HTTP/1.1 ").append(std::to_string(reply.status)).append(" ").append(reason_phrase(reply.status));
    out.append("\r\n");
    if (!has_field(reply, "server")) append_field(out, "Server", "patroxy");
    if (!has_field(reply, "cache-control")) append_field(out, "Cache-Control", "no-store");
    if (!bodiless && !reply.body.empty())
        append_field(out, "Content-Type",
                     reply.content_type.empty() ? std::string_view("text/plain; charset=utf-8")
                                                : std::string_view(reply.content_type));
    if (!bodiless) append_field(out, "Content-Length", std::to_string(reply.body.size()));
    if (gzipped) append_field(out, "Content-Encoding", "gzip");
    if (compressible) append_field(out, "Vary", "Accept-Encoding");
    if (!ctx.keep_alive)
        append_field(out, "Connection", "close");
    else if (ctx.version_minor == 0)
        append_field(out, "Connection", "keep-alive");
    append_field(out, "Server-Timing", "render;dur=" + format_milliseconds(ctx.render));
    for (const auto& [name, value] : reply.headers)
        if (!server_owned(name)) append_field(out, name, value);
    out.append("\r\n");
    if (!ctx.head) out.append(reply.body);
    return out;
}

/// The whole answer to a refused request (the connection closes after it).
std::string error_response(unsigned status)
{
    return serialize(plain_reply(status), reply_context{});
}

/// The handshake met a plain HTTP request: OpenSSL recognises "GET ", "POST ", "HEAD ", "PUT "
/// and "CONNECT" where a ClientHello should be, and sends no alert for them.
bool plain_http_request(const std::error_code& handshake_error)
{
    if (handshake_error.category() != asio::error::get_ssl_category()) return false;
    const int reason = ERR_GET_REASON(static_cast<unsigned long>(static_cast<unsigned int>(handshake_error.value())));
    return reason == SSL_R_HTTP_REQUEST || reason == SSL_R_HTTPS_PROXY_REQUEST;
}

/// The answer, in plain text, to a plain HTTP request on the HTTPS port. A 400 as nginx gives
/// ("The plain HTTP request was sent to HTTPS port") rather than a bare close: curl and a
/// browser show it, and it says what to fix, where a close reads as "empty reply from server".
std::string plain_http_response()
{
    auto reply = plain_reply(400);
    reply.body += "This is the HTTPS port of patroxy's stats listener: use https://\n";
    return serialize(std::move(reply), reply_context{});
}

/// Answers a connection over max_connections and closes it, without a coroutine: 200-odd bytes
/// fit any fresh socket's send buffer, so one non-blocking write does it. Over HTTPS nothing is
/// written: a plain-text 503 reads as garbage to a TLS client, and a handshake only to refuse
/// would cost the control thread what the limit is there to save.
void refuse_over_limit(tcp::socket& socket, bool tls)
{
    static const std::string reply = error_response(503);
    std::error_code ignored;
    socket.non_blocking(true, ignored);
    auto out = asio::buffer(reply);
    if (!tls) (void)socket.write_some(out, ignored);
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    // Drop what the client already sent, so the close below sends a FIN rather than an RST.
    std::array<char, 4096> sink{};
    auto in = asio::buffer(sink);
    for (int i = 0; i < 16; ++i) {
        std::error_code ec;
        (void)socket.read_some(in, ec);
        if (ec) break;
    }
    socket.close(ignored);
}

} // namespace

namespace detail {

/// One client connection: over HTTPS first the handshake, then reads, parses, answers in order,
/// and closes on error, timeout, the client's wish or stop().
class http_connection {
public:
    http_connection(tcp::socket socket, std::shared_ptr<http_server_state> state)
        : stream_(std::move(socket)), timer_(stream_.socket().get_executor()), state_(std::move(state)),
          parser_(state_->limits.request)
    {
        state_->live.insert(this);
        std::error_code ignored;
        stream_.socket().set_option(tcp::no_delay(true), ignored);
        peer_ = stream_.socket().remote_endpoint(ignored); // for the handshake's failure report
    }
    http_connection(const http_connection&) = delete;
    http_connection& operator=(const http_connection&) = delete;
    ~http_connection() { state_->live.erase(this); }

    /// The connection's whole life.
    asio::awaitable<void> run();

    /// Aborts whatever the connection waits for; run() then ends.
    void close() noexcept
    {
        std::error_code ignored;
        stream_.socket().close(ignored);
        timer_.cancel();
    }

private:
    enum class read_outcome { data, closed, timed_out };

    /// HTTPS: the handshake, done before `deadline`; false when the connection is over (the
    /// failure reported to the server's owner, a plain HTTP request answered 400).
    asio::awaitable<bool> start_tls(clock_type::time_point deadline);
    void report_tls_failure(const std::error_code& ec);

    /// Appends what the client sends next to pending_.
    asio::awaitable<read_outcome> read_more(clock_type::time_point deadline);
    /// Writes out_ within read_timeout; false when the client is gone or too slow to take it.
    asio::awaitable<bool> write_out();
    /// Ends TLS with close_notify, shuts down sending, drops the client's remaining bytes for a
    /// little while, closes.
    asio::awaitable<void> close_gracefully();
    /// Builds out_ for one complete request: auth, the handler, framing.
    void respond(const http_request& request, bool keep_alive);

    /// The TLS context this connection started with, kept while its stream lives: a reload may
    /// renew the server's (renew_tls()).
    std::shared_ptr<asio::ssl::context> tls_;
    http_stream stream_;
    asio::steady_timer timer_;
    std::shared_ptr<http_server_state> state_;
    http::request_parser parser_;
    std::string pending_; ///< received and not yet parsed (the start of a pipelined request)
    std::string out_;     ///< the bytes being written
    std::array<char, 8192> buffer_{};
    tcp::endpoint peer_;
    bool secure_ = false; ///< the TLS handshake completed: closing sends close_notify
};

asio::awaitable<bool> http_connection::start_tls(clock_type::time_point deadline)
{
    tls_ = state_->tls;
    stream_.start_tls(*tls_);
    timer_.expires_at(deadline);
    auto handshake = stream_.handshake();
    const auto result = co_await before_deadline(handshake, timer_);
    if (state_->stopped) co_return false;
    const auto ec = result ? std::get<0>(*result) : std::error_code(asio::error::timed_out);
    if (!ec) {
        secure_ = true;
        co_return true;
    }
    report_tls_failure(ec);
    if (!result) co_return false; // a slowloris gets nothing more
    if (plain_http_request(ec)) {
        stream_.drop_tls();
        static const std::string reply = plain_http_response();
        out_ = reply;
        const bool written = co_await write_out();
        if (!written) co_return false;
    }
    // OpenSSL's alert, or the 400, is on its way: let it arrive before the close (linger_time).
    co_await close_gracefully();
    co_return false;
}

void http_connection::report_tls_failure(const std::error_code& ec)
{
    if (state_->on_tls_failure) state_->on_tls_failure({peer_, ec, stream_.native_handle()});
}

asio::awaitable<http_connection::read_outcome> http_connection::read_more(clock_type::time_point deadline)
{
    timer_.expires_at(deadline);
    auto read = stream_.read_some(asio::buffer(buffer_));
    const auto result = co_await before_deadline(read, timer_);
    if (state_->stopped) co_return read_outcome::closed;
    if (!result) co_return read_outcome::timed_out;
    const auto [ec, n] = *result;
    if (ec) co_return read_outcome::closed; // EOF, reset, or close()
    pending_.append(buffer_.data(), n);
    co_return read_outcome::data;
}

asio::awaitable<bool> http_connection::write_out()
{
    timer_.expires_after(state_->limits.read_timeout);
    auto write = stream_.write(asio::buffer(out_));
    const auto result = co_await before_deadline(write, timer_);
    const bool written = result && !std::get<0>(*result) && !state_->stopped;
    co_return written;
}

asio::awaitable<void> http_connection::close_gracefully()
{
    const auto deadline = clock_type::now() + std::min(linger_time, state_->limits.read_timeout);
    timer_.expires_at(deadline);
    if (secure_) {
        // close_notify tells the client that the reply ended here and was not cut short.
        auto shutdown = stream_.shutdown();
        (void)co_await before_deadline(shutdown, timer_);
    }
    // The drain reads the TCP socket itself: after close_notify, TLS has nothing more to give.
    auto& socket = stream_.socket();
    std::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    std::size_t dropped = 0;
    while (dropped < linger_bytes && !state_->stopped) {
        auto read = socket.async_read_some(asio::buffer(buffer_), nothrow_awaitable);
        const auto result = co_await before_deadline(read, timer_);
        if (!result || std::get<0>(*result)) break;
        dropped += std::get<1>(*result);
    }
    close();
}

void http_connection::respond(const http_request& request, bool keep_alive)
{
    reply_context ctx;
    ctx.head = request.method == "HEAD";
    ctx.accepts_gzip = accepts_gzip(request.header("accept-encoding").value_or(""));
    ctx.keep_alive = keep_alive;
    ctx.version_minor = request.version_minor;

    const auto& auth = state_->auth;
    if (auth && request.path != "/health" && !basic_authorized(request.header("authorization").value_or(""), *auth)) {
        auto reply = plain_reply(401);
        reply.headers.emplace_back("WWW-Authenticate", state_->challenge);
        out_ = serialize(std::move(reply), ctx);
        return;
    }

    http_reply reply;
    const auto started = clock_type::now();
    try {
        reply = state_->handle(request);
    } catch (...) {
        // The handler's bug must not take the connection or the control thread with it; the
        // client sees no detail (it could leak internals).
        reply = plain_reply(500);
    }
    ctx.render = clock_type::now() - started;
    out_ = serialize(std::move(reply), ctx);
}

asio::awaitable<void> http_connection::run()
{
    const auto& limits = state_->limits;
    // The first request's clock starts at the accept: a client that connects and says nothing
    // is a slowloris too.
    auto request_deadline = clock_type::now() + limits.read_timeout;
    auto idle_deadline = request_deadline;
    if (state_->tls) {
        const bool secure = co_await start_tls(request_deadline);
        if (!secure) co_return;
    }
    bool served = false;
    for (;;) {
        const auto parsed = parser_.feed(pending_);
        pending_.erase(0, parsed.consumed);

        if (parsed.state == http::parse_status::error) {
            out_ = error_response(refusal_status(parsed.error));
            const bool written = co_await write_out();
            if (written) co_await close_gracefully();
            co_return;
        }
        if (parsed.state == http::parse_status::done) {
            const auto request = parser_.take();
            parser_.reset();
            const bool keep_alive = request.keep_alive && !state_->stopped;
            respond(request, keep_alive);
            const bool written = co_await write_out();
            if (!written) co_return;
            if (!keep_alive) {
                co_await close_gracefully();
                co_return;
            }
            served = true;
            // A pipelined request already buffered gets its full read_timeout from now.
            request_deadline = clock_type::now() + limits.read_timeout;
            idle_deadline = clock_type::now() + limits.idle_timeout;
            continue;
        }

        if (parser_.take_continue_request()) {
            out_.assign(continue_reply);
            const bool written = co_await write_out();
            if (!written) co_return;
        }
        const bool idle = served && parser_.at_start() && pending_.empty();
        const auto outcome = co_await read_more(idle ? idle_deadline : request_deadline);
        if (outcome == read_outcome::closed) co_return;
        if (outcome == read_outcome::timed_out) {
            if (idle) co_return; // an idle keep-alive connection just closes
            out_ = error_response(408);
            const bool written = co_await write_out();
            if (written) co_await close_gracefully();
            co_return;
        }
        if (idle) request_deadline = clock_type::now() + limits.read_timeout; // the next request began
    }
}

void http_server_state::stop_now()
{
    stopped = true;
    std::error_code ignored;
    acceptor.close(ignored);
    for (auto* connection : live) connection->close();
}

} // namespace detail

namespace {

asio::awaitable<void> accept_loop(std::shared_ptr<http_server_state> state)
{
    co_await control::accept_each(state->acceptor, [&state] { return state->stopped; }, [&state](tcp::socket socket) {
        if (state->live.size() >= state->limits.max_connections) {
            refuse_over_limit(socket, state->tls != nullptr);
            return;
        }
        control::spawn_connection(state->executor, std::make_shared<detail::http_connection>(std::move(socket), state));
    });
}

} // namespace

http_server::http_server(asio::any_io_executor executor, http_server_limits limits,
                         std::optional<basic_credentials> auth, handler handle)
    : state_(std::make_shared<detail::http_server_state>(std::move(executor), limits, std::move(auth),
                                                         std::move(handle)))
{
}

http_server::~http_server()
{
    stop();
}

std::error_code http_server::listen(const tcp::endpoint& endpoint)
{
    auto& acceptor = state_->acceptor;
    std::error_code ec;
    if (acceptor.is_open()) acceptor.close(ec);
    acceptor.open(endpoint.protocol(), ec);
    if (ec) return ec;
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        std::error_code ignored;
        acceptor.close(ignored);
    }
    return ec;
}

tcp::endpoint http_server::local_endpoint() const
{
    std::error_code ec;
    auto endpoint = state_->acceptor.local_endpoint(ec);
    return ec ? tcp::endpoint{} : endpoint;
}

void http_server::use_tls(std::shared_ptr<asio::ssl::context> context, tls_failure_handler on_failure)
{
    state_->tls = std::move(context);
    state_->on_tls_failure = std::move(on_failure);
}

void http_server::renew_tls(std::shared_ptr<asio::ssl::context> context)
{
    state_->tls = std::move(context);
}

void http_server::set_realm(std::string_view realm) { state_->challenge = basic_challenge(realm); }

void http_server::start()
{
    asio::co_spawn(state_->executor, accept_loop(state_), control::ignore_exception);
}

void http_server::stop()
{
    asio::dispatch(state_->executor, [state = state_] { state->stop_now(); });
}

} // namespace patroxy::proxy::stats
