// The pure half of the Patroni REST client: an incremental HTTP/1.x response parser (status line,
// headers, Content-Length, chunked and close-delimited bodies) that takes bytes and returns a
// result, so every framing rule is testable on byte strings without a socket (STYLE.md 7.1).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace patroxy::health {

/// Bounds on one HTTP exchange. The byte caps are checked before anything is buffered, so a
/// misbehaving server cannot make the poller allocate more than them.
struct http_limits {
    std::chrono::milliseconds connect_timeout{1000};  ///< resolve + TCP connect (+ TLS handshake)
    std::chrono::milliseconds response_timeout{1000}; ///< from sending the request to the last body byte
    std::size_t max_header_bytes = 16 * 1024;         ///< status line + headers (and, separately, chunked trailers)
    std::size_t max_body_bytes = 1024 * 1024;         ///< decoded body
};

/// Why an HTTP exchange failed. Transport details (e.g. "connection refused") are kept apart,
/// see http_client::last_transport_error().
enum class http_errc {
    connect_failed = 1, ///< resolving the host or connecting failed (refused, unreachable, unknown host)
    connect_timeout,    ///< resolve + connect took longer than connect_timeout
    response_timeout,   ///< the whole response did not arrive within response_timeout
    closed_early,       ///< the server closed (or reset) the connection before the response was complete
    malformed_response, ///< the bytes are not an HTTP/1.x response
    header_too_large,   ///< status line + headers over max_header_bytes
    body_too_large,     ///< body over max_body_bytes
    tls_failed,         ///< the TLS handshake failed (e.g. certificate verify failed) or the server sent a TLS alert
    tls_timeout,        ///< the TLS handshake did not finish within connect_timeout
};

/// The category of http_errc; name "patroxy.http".
const std::error_category& http_category() noexcept;

inline std::error_code make_error_code(http_errc e) noexcept
{
    return {static_cast<int>(e), http_category()};
}

/// One parsed response. Header names are stored lower-cased, values with surrounding blanks
/// removed, in the order received (repeated headers stay separate).
struct http_response {
    int status = 0;                                         ///< e.g. 200, 503
    int minor_version = 0;                                  ///< 0 for HTTP/1.0, 1 for HTTP/1.1
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;                                       ///< decoded (de-chunked) body
    /// The server lets us send the next request on this connection: HTTP/1.1 without
    /// "Connection: close", or HTTP/1.0 with "Connection: keep-alive"; never for a
    /// close-delimited body.
    bool keep_alive = false;

    /// The first value of header `lower_case_name`, if present.
    [[nodiscard]] std::optional<std::string_view> header(std::string_view lower_case_name) const;
};

/// Incremental parser for one response. Feed it what the socket delivers, in pieces of any size;
/// call finish() when the peer closed. Reusable through reset().
class http_response_parser {
public:
    enum class status {
        need_more, ///< all input consumed, the response is not complete yet
        done,      ///< the response is complete; response() is valid
        error,     ///< the input is not an acceptable response; see result::error
    };

    struct result {
        status state = status::need_more;
        /// Bytes of the input that belong to this response. Less than the input only with
        /// `done` (bytes after the response, which the caller must not treat as a response)
        /// or `error`.
        std::size_t consumed = 0;
        std::error_code error;
    };

    explicit http_response_parser(std::size_t max_header_bytes = 16 * 1024,
                                  std::size_t max_body_bytes = 1024 * 1024);

    /// Parses the next bytes of the response. After `done` or `error`, further calls return the
    /// same outcome with consumed = 0.
    [[nodiscard]] result feed(std::string_view bytes);

    /// The peer closed the connection: completes a close-delimited body, otherwise fails with
    /// http_errc::closed_early.
    [[nodiscard]] result finish();

    /// Ready for a new response (same limits).
    void reset();

    /// Nothing of the response has been seen yet.
    [[nodiscard]] bool at_start() const noexcept
    {
        return state_ == parse_state::status_line && header_bytes_ == 0 && line_.empty();
    }
    /// The response as parsed so far (complete once feed() or finish() said `done`).
    [[nodiscard]] const http_response& response() const noexcept { return response_; }
    /// Moves the response out; call after `done`.
    [[nodiscard]] http_response take_response() noexcept { return std::move(response_); }

private:
    enum class parse_state {
        status_line,
        header_line,
        body_by_length, ///< Content-Length
        body_to_close,  ///< neither Content-Length nor chunked: the body ends when the peer closes
        chunk_size_line,
        chunk_data,
        chunk_data_end, ///< the CRLF after a chunk's data
        trailer_line,
        done,
        failed,
    };

    /// Cuts the next line out of `in` (from `pos`) into `line_`; false when it is still incomplete.
    /// `limit` caps the line's bytes together with `used`; over it, `over` is set.
    bool take_line(std::string_view in, std::size_t& pos, std::size_t used, std::size_t limit, bool& over);
    [[nodiscard]] std::error_code on_status_line(std::string_view line);
    [[nodiscard]] std::error_code on_header_line(std::string_view line);
    [[nodiscard]] std::error_code on_headers_end();
    [[nodiscard]] std::error_code on_chunk_size_line(std::string_view line);
    /// Rejects, as early as possible, a first line that cannot become "HTTP/1.".
    [[nodiscard]] bool status_prefix_ok(std::string_view partial) const;
    void take_body(std::string_view in, std::size_t& pos, std::uint64_t& remaining);
    result fail(http_errc e, std::size_t consumed);
    result complete(std::size_t consumed);

    std::size_t max_header_bytes_;
    std::size_t max_body_bytes_;
    parse_state state_ = parse_state::status_line;
    std::string line_;             ///< the line being assembled across feed() calls
    std::size_t header_bytes_ = 0; ///< bytes of status line + headers (or of trailers) so far
    std::uint64_t remaining_ = 0;  ///< body bytes still expected (Content-Length or current chunk)
    std::optional<std::uint64_t> content_length_;
    bool has_transfer_encoding_ = false;
    bool chunked_ = false; ///< the final transfer coding is chunked
    bool connection_close_ = false;
    bool connection_keep_alive_ = false;
    http_response response_;
    std::error_code error_;
};

} // namespace patroxy::health

template <>
struct std::is_error_code_enum<patroxy::health::http_errc> : std::true_type {};
