// What the Patroni REST client promises about one exchange: its bounds, the ways it can fail,
// and the response type (the HTTP/1.1 codec's, protocol/http).
#pragma once

#include "protocol/http/message.hpp"
#include "protocol/http/message_parser.hpp"

#include <chrono>
#include <cstddef>
#include <system_error>

namespace patroxy::health {

/// A complete answer: status, fields, decoded body, and whether the connection may be reused.
using http_response = protocol::http::response;

/// Bounds on one HTTP exchange. The byte caps are checked before anything is buffered, so a
/// misbehaving server cannot make the poller allocate more than them.
struct http_limits {
    std::chrono::milliseconds connect_timeout{1000};  ///< resolve + TCP connect (+ TLS handshake)
    std::chrono::milliseconds response_timeout{1000}; ///< from sending the request to the last body byte
    /// The status line, and separately the header fields (skipped 1xx answers included), and
    /// separately chunked trailers: each at most this many bytes.
    std::size_t max_header_bytes = 16 * 1024;
    std::size_t max_body_bytes = 1024 * 1024;         ///< decoded body
};

/// Why an HTTP exchange failed. Transport details (e.g. "connection refused") are kept apart,
/// see http_client::last_transport_error(); so is the codec's reason for a malformed response.
enum class http_errc {
    connect_failed = 1, ///< resolving the host or connecting failed (refused, unreachable, unknown host)
    connect_timeout,    ///< resolve + connect took longer than connect_timeout
    response_timeout,   ///< the whole response did not arrive within response_timeout
    closed_early,       ///< the server closed (or reset) the connection before the response was complete
    malformed_response, ///< the bytes are not an HTTP/1.x response
    header_too_large,   ///< status line or header fields over max_header_bytes, or too many fields
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

/// The client's error for a response the codec refused (a protocol::http::http_errc): the
/// caps and an early close keep their meaning, every syntax error is malformed_response.
[[nodiscard]] http_errc from_codec_error(const std::error_code& codec_error) noexcept;

/// The codec's limits for responses under `limits`.
[[nodiscard]] protocol::http::limits response_limits(const http_limits& limits) noexcept;

} // namespace patroxy::health

template <>
struct std::is_error_code_enum<patroxy::health::http_errc> : std::true_type {};
