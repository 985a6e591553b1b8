// The error_category behind health's http_errc, and how the codec's refusals map onto it.
#include "health/http/http_errc.hpp"

#include "protocol/http/http_errors.hpp"
#include "protocol/http/message_parser.hpp"

#include <string>

namespace patroxy::health {
namespace {

class http_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "patroxy.http"; }

    std::string message(int code) const override
    {
        switch (static_cast<http_errc>(code)) {
        case http_errc::connect_failed:
            return "connect failed";
        case http_errc::connect_timeout:
            return "connect timed out";
        case http_errc::response_timeout:
            return "response timed out";
        case http_errc::closed_early:
            return "connection closed before the response was complete";
        case http_errc::malformed_response:
            return "malformed HTTP response";
        case http_errc::header_too_large:
            return "HTTP response header too large";
        case http_errc::body_too_large:
            return "HTTP response body too large";
        case http_errc::tls_failed:
            return "TLS handshake or session failed";
        case http_errc::tls_timeout:
            return "TLS handshake timed out";
        }
        // Codes outside the enum can still reach us through a plain int.
        return "unknown http error " + std::to_string(code);
    }
};

} // namespace

const std::error_category& http_category() noexcept
{
    // A function-local static has one address for the whole program, which is what
    // error_code comparison relies on.
    static const http_category_impl category;
    return category;
}

http_errc from_codec_error(const std::error_code& codec_error) noexcept
{
    using codec = protocol::http::http_errc;
    if (codec_error.category() != protocol::http::http_codec_category()) return http_errc::malformed_response;
    switch (static_cast<codec>(codec_error.value())) {
    case codec::start_line_too_long:
    case codec::fields_too_large:
    case codec::too_many_fields:
        return http_errc::header_too_large;
    case codec::body_too_large:
        return http_errc::body_too_large;
    case codec::closed_early:
        return http_errc::closed_early;
    default:
        return http_errc::malformed_response;
    }
}

protocol::http::limits response_limits(const http_limits& limits) noexcept
{
    protocol::http::limits caps;
    caps.max_start_line = limits.max_header_bytes;
    caps.max_field_bytes = limits.max_header_bytes;
    caps.max_body_bytes = limits.max_body_bytes;
    return caps;
}

} // namespace patroxy::health
