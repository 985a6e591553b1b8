// Request lines (RFC 9112 section 3) and the request body length rules (section 6.3).
#include "protocol/http/request_parser.hpp"

#include "protocol/http/field_text.hpp"

#include <algorithm>

namespace patroxy::protocol::http {
namespace {

/// Visible ASCII, the only bytes a request target may hold ('#' starts a fragment, which a
/// client never sends).
bool is_target_char(char c) noexcept { return c > 0x20 && c < 0x7f && c != '#'; }

/// The origin-form path and query of an absolute-form target ("http://host:port/p?q"), which
/// RFC 9112 section 3.2.2 makes every server accept; nullopt for any other target.
std::optional<std::string_view> strip_absolute_form(std::string_view target) noexcept
{
    for (const std::string_view scheme : {"http://", "https://"}) {
        if (target.size() >= scheme.size() && iequals(target.substr(0, scheme.size()), scheme)) {
            const auto rest = target.substr(scheme.size());
            const auto path = rest.find_first_of("/?");
            return path == std::string_view::npos ? std::string_view{} : rest.substr(path);
        }
    }
    return std::nullopt;
}

} // namespace

void request_parser::reset() noexcept
{
    request_ = {};
    method_ended_ = continue_requested_ = false;
    reset_framing();
}

bool request_parser::start_byte_ok(std::size_t index, char c) noexcept
{
    // The method must be a token; a line end here is an empty line (skipped) or a bad line
    // (refused when complete).
    if (index == 0) method_ended_ = false;
    if (method_ended_) return true;
    if (c == ' ' || c == '\r' || c == '\n') {
        method_ended_ = true;
        return true;
    }
    return is_tchar(c);
}

std::error_code request_parser::on_start_line(std::string_view line)
{
    // method SP request-target SP HTTP-version: exactly two single spaces.
    const auto sp1 = line.find(' ');
    const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
        return http_errc::bad_start_line;
    const auto method = line.substr(0, sp1);
    auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const auto version = line.substr(sp2 + 1);
    if (method.empty() || !std::all_of(method.begin(), method.end(), is_tchar)) return http_errc::bad_start_line;
    if (target.empty() || !std::all_of(target.begin(), target.end(), is_target_char))
        return http_errc::bad_start_line;

    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !is_digit(version[5]) || version[6] != '.' ||
        !is_digit(version[7]))
        return http_errc::bad_start_line;
    if (version[5] != '1') return http_errc::unsupported_version;

    if (target.front() != '/' && !(target == "*" && method == "OPTIONS")) {
        const auto origin = strip_absolute_form(target);
        if (!origin) return http_errc::bad_start_line;
        target = *origin;
    }
    const auto question = target.find('?');
    request_.method.assign(method);
    request_.path.assign(target.substr(0, question));
    if (request_.path.empty()) request_.path.push_back('/'); // "http://host" or "http://host?q"
    if (question != std::string_view::npos) request_.query.assign(target.substr(question + 1));
    request_.version_minor = static_cast<unsigned>(version[7] - '0');
    return {};
}

std::error_code request_parser::on_head_end(const framing_fields& fields, body_framing& framing)
{
    if (fields.has_transfer_encoding) {
        // Only a final, single chunked frames a request body; anything else, or Content-Length
        // beside it, or an HTTP/1.0 sender, leaves the length uncertain (RFC 9112 section 6.1).
        if (!fields.chunked_last || fields.chunked_codings != 1 || fields.content_length ||
            request_.version_minor == 0)
            return http_errc::bad_transfer_encoding;
        if (fields.codings != 1) return http_errc::unsupported_transfer_coding;
        framing.how = body_framing::kind::chunked;
    } else {
        framing.how = body_framing::kind::length;
        framing.length = fields.content_length.value_or(0);
    }
    const bool body_expected = framing.how == body_framing::kind::chunked || framing.length > 0;
    continue_requested_ = body_expected && fields.expect_continue && request_.version_minor >= 1;
    return {};
}

request_outcome parse_request(std::string_view bytes, const limits& caps)
{
    request_parser parser(caps);
    request_outcome out;
    out.result = parser.feed(bytes);
    out.parsed = parser.take();
    return out;
}

} // namespace patroxy::protocol::http
