// The pure half of the stats listener's HTTP/1.1 server: the request and reply types and an
// incremental request parser that takes bytes and returns a result (STYLE.md 7.1), so every
// framing rule and every limit is testable on byte strings without a socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace patroxy::proxy::stats {

/// One parsed request.
struct http_request {
    std::string method; ///< as sent, case-sensitive ("GET", "HEAD", "POST", ...)
    /// The target's path, raw: not percent-decoded, so "/%68ealth" is not "/health" (the auth
    /// exemption and the handler's routes compare the same bytes). Always starts with '/'.
    std::string path;
    std::string query; ///< what follows the first '?', raw; empty when there is none
    /// Header fields in the order received, names lower-cased, values without surrounding blanks;
    /// a repeated field stays repeated.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;           ///< Content-Length bytes (chunked bodies are refused)
    unsigned version_minor = 1; ///< 0 for HTTP/1.0, 1 for HTTP/1.1 (and later 1.x)

    /// The first value of header `lower_case_name`; empty when absent.
    [[nodiscard]] std::string_view header(std::string_view lower_case_name) const;
    /// The client lets the connection carry another request: HTTP/1.1 without
    /// "Connection: close", HTTP/1.0 only with "Connection: keep-alive".
    [[nodiscard]] bool keep_alive() const;
};

/// What a handler answers. The server adds Content-Length, Connection, Server, Cache-Control,
/// Server-Timing and (when it compresses) Content-Encoding and Vary.
struct http_reply {
    unsigned status = 200;
    std::string content_type; ///< "text/plain; charset=utf-8" when empty and there is a body
    std::string body;
    /// Extra fields (e.g. Location, Refresh). Values must not contain CR or LF; Content-Length,
    /// Transfer-Encoding and Connection are the server's and are dropped from here.
    std::vector<std::pair<std::string, std::string>> headers;
};

/// Caps on one request, checked before anything past them is buffered.
struct http_request_limits {
    std::size_t max_request_line = 8 * 1024;  ///< "GET /... HTTP/1.1" with its CRLF; over it: 414
    std::size_t max_header_bytes = 16 * 1024; ///< all header lines with their CRLFs; over it: 431
    std::size_t max_headers = 64;             ///< header fields; over it: 431
    std::size_t max_body = 64 * 1024;         ///< Content-Length; over it: 413
};

/// Why a request was refused. Each value is the HTTP status the server answers with before it
/// closes the connection.
enum class request_error : unsigned {
    bad_request = 400,         ///< malformed request line or header, conflicting Content-Length
    length_required = 411,     ///< a chunked body (only Content-Length bodies are read)
    payload_too_large = 413,   ///< Content-Length over max_body
    uri_too_long = 414,        ///< request line over max_request_line
    header_too_large = 431,    ///< header bytes or count over their caps
    version_unsupported = 505, ///< not HTTP/1.x
};

/// Incremental parser for one request. Feed it what the socket delivers, in pieces of any size.
/// Reusable through reset(); bytes after a complete request belong to the next one.
class http_request_parser {
public:
    enum class status {
        need_more, ///< all input consumed, the request is not complete yet
        done,      ///< the request is complete; take_request() gives it
        error,     ///< the request cannot be served; see result::error
    };

    struct result {
        status state = status::need_more;
        /// Bytes of the input that belong to this request: all of it with need_more, up to the
        /// request's last byte with done (the rest is the next pipelined request).
        std::size_t consumed = 0;
        request_error error = request_error::bad_request; ///< meaningful only with status::error
    };

    explicit http_request_parser(http_request_limits limits = {});

    /// Parses the next bytes. After done or error, further calls return the same outcome with
    /// consumed = 0.
    [[nodiscard]] result feed(std::string_view bytes);

    /// Ready for the next request (same limits).
    void reset();

    /// No byte of the request has been seen yet (the connection is idle between requests).
    [[nodiscard]] bool at_start() const noexcept { return bytes_seen_ == 0; }

    /// True once, when the headers are complete, carry "Expect: 100-continue" and announce a body
    /// that is not there yet: the server then sends "100 Continue" so the client sends the body.
    [[nodiscard]] bool take_continue_request() noexcept { return std::exchange(continue_requested_, false); }

    /// Moves the request out; call after done.
    [[nodiscard]] http_request take_request() noexcept { return std::move(request_); }

private:
    enum class parse_state { request_line, header_line, body, done, failed };

    /// Appends to line_ up to and including the next LF; false when the line is not complete.
    /// Sets `over` instead when line_ would pass `limit` bytes.
    bool take_line(std::string_view in, std::size_t& pos, std::size_t limit, bool& over);
    [[nodiscard]] std::optional<request_error> on_request_line(std::string_view line);
    [[nodiscard]] std::optional<request_error> on_header_line(std::string_view line);
    [[nodiscard]] std::optional<request_error> on_headers_end();
    result fail(request_error e, std::size_t consumed);

    http_request_limits limits_;
    parse_state state_ = parse_state::request_line;
    std::string line_;               ///< the line being assembled across feed() calls
    std::size_t bytes_seen_ = 0;     ///< of this request, including skipped empty lines
    std::size_t header_bytes_ = 0;   ///< header lines so far, with their line ends
    std::size_t body_remaining_ = 0; ///< Content-Length bytes still expected
    std::optional<std::size_t> content_length_;
    bool chunked_ = false;      ///< Transfer-Encoding ends in chunked
    bool other_coding_ = false; ///< Transfer-Encoding without chunked last
    bool expect_continue_ = false;
    bool continue_requested_ = false;
    http_request request_;
    request_error error_ = request_error::bad_request;
};

/// Small field-value helpers shared by the stats server's parsers (RFC 9110 section 5.6).
namespace http_text {

/// ASCII lower case of `c`; other bytes unchanged.
[[nodiscard]] constexpr char to_lower(char c) noexcept
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

/// ASCII case-insensitive equality.
[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept;

/// `s` without leading and trailing spaces and tabs (OWS).
[[nodiscard]] std::string_view trim(std::string_view s) noexcept;

/// Calls `f(element)` for each comma-separated, trimmed, non-empty element of a list field value
/// such as "keep-alive, Upgrade" or "gzip;q=0.8, br".
template <typename F>
void for_each_element(std::string_view value, F&& f)
{
    while (!value.empty()) {
        const auto comma = value.find(',');
        const auto element = trim(value.substr(0, comma));
        if (!element.empty()) f(element);
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
}

} // namespace http_text

} // namespace patroxy::proxy::stats
