// Why bytes are not an acceptable HTTP/1.1 message. The codec never throws on wire input: it
// returns one of these through std::error_code, as the PostgreSQL codec does with protocol_errc.
#pragma once

#include <system_error>

namespace patroxy::protocol::http {

enum class http_errc {
    bad_start_line = 1,          ///< the request line or status line is malformed
    unsupported_version,         ///< a request in an HTTP version other than 1.x
    bad_field,                   ///< a field or trailer line is malformed (no colon, blank before it, folded, control bytes)
    bad_content_length,          ///< Content-Length not a decimal number, or two different values
    bad_transfer_encoding,       ///< a request whose codings do not end in one chunked, or that also has Content-Length
    unsupported_transfer_coding, ///< a request body under a coding other than chunked
    bad_chunk,                   ///< a chunk-size line is malformed, or a chunk's data is not followed by its line end
    start_line_too_long,         ///< the request or status line is over limits::max_start_line
    fields_too_large,            ///< the field (or trailer) section is over limits::max_field_bytes
    too_many_fields,             ///< more field (or trailer) lines than limits::max_fields
    body_too_large,              ///< the decoded body is (or announces to be) over limits::max_body_bytes
    closed_early,                ///< the peer closed before the message was complete
};

/// The category of http_errc; name "patroxy.http-codec".
const std::error_category& http_codec_category() noexcept;

inline std::error_code make_error_code(http_errc e) noexcept
{
    return {static_cast<int>(e), http_codec_category()};
}

} // namespace patroxy::protocol::http

template <>
struct std::is_error_code_enum<patroxy::protocol::http::http_errc> : std::true_type {};
