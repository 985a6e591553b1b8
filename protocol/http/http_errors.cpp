// The error_category behind http_errc. Messages are generic per code; callers that log add what
// they know (which server, which request).
#include "protocol/http/http_errors.hpp"

#include <string>

namespace patroxy::protocol::http {
namespace {

class http_codec_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "patroxy.http-codec"; }

    std::string message(int code) const override
    {
        switch (static_cast<http_errc>(code)) {
        case http_errc::bad_start_line:
            return "malformed HTTP start line";
        case http_errc::unsupported_version:
            return "unsupported HTTP version";
        case http_errc::bad_field:
            return "malformed HTTP field line";
        case http_errc::bad_content_length:
            return "invalid or conflicting Content-Length";
        case http_errc::bad_transfer_encoding:
            return "invalid Transfer-Encoding";
        case http_errc::unsupported_transfer_coding:
            return "unsupported transfer coding";
        case http_errc::bad_chunk:
            return "malformed chunked body";
        case http_errc::start_line_too_long:
            return "HTTP start line too long";
        case http_errc::fields_too_large:
            return "HTTP field section too large";
        case http_errc::too_many_fields:
            return "too many HTTP field lines";
        case http_errc::body_too_large:
            return "HTTP body too large";
        case http_errc::closed_early:
            return "connection closed before the HTTP message was complete";
        }
        // Codes outside the enum can still reach us through a plain int.
        return "unknown http codec error " + std::to_string(code);
    }
};

} // namespace

const std::error_category& http_codec_category() noexcept
{
    // One address for the whole program, which error_code comparison relies on.
    static const http_codec_category_impl category;
    return category;
}

} // namespace patroxy::protocol::http
