// Status lines (RFC 9112 section 4) and the response body length rules (section 6.3).
#include "protocol/http/response_parser.hpp"

#include "protocol/http/field_text.hpp"

#include <algorithm>

namespace patroxy::protocol::http {
namespace {

constexpr std::string_view status_prefix = "HTTP/1.";

} // namespace

void response_parser::reset() noexcept
{
    response_ = {};
    reset_framing();
}

bool response_parser::start_byte_ok(std::size_t index, char c) noexcept
{
    return index >= status_prefix.size() || c == status_prefix[index];
}

std::error_code response_parser::on_start_line(std::string_view line)
{
    // "HTTP/1.x SSS[ reason]": the reason phrase may be empty or missing.
    constexpr std::size_t code_end = 12;
    if (line.size() < code_end || !is_digit(line[7]) || line[8] != ' ' || !is_digit(line[9]) ||
        !is_digit(line[10]) || !is_digit(line[11]) || (line.size() > code_end && line[code_end] != ' '))
        return http_errc::bad_start_line;
    if (line[9] < '1' || line[9] > '5') return http_errc::bad_start_line;
    const auto reason = line.substr(std::min(line.size(), code_end));
    if (!std::all_of(reason.begin(), reason.end(), is_value_char)) return http_errc::bad_start_line;
    response_.version_minor = static_cast<unsigned>(line[7] - '0');
    response_.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    return {};
}

std::error_code response_parser::on_head_end(const framing_fields& fields, body_framing& framing)
{
    if (response_.status < 200) {
        framing.how = body_framing::kind::interim;
    } else if (response_.status == 204 || response_.status == 304) {
        framing.how = body_framing::kind::none;
    } else if (fields.has_transfer_encoding) {
        // Transfer-Encoding overrides Content-Length; a sender of both must close afterwards.
        if (fields.content_length) response_.keep_alive = false;
        if (fields.chunked_last) {
            framing.how = body_framing::kind::chunked;
        } else {
            response_.keep_alive = false;
            framing.how = body_framing::kind::to_close;
        }
    } else if (fields.content_length) {
        framing.how = body_framing::kind::length;
        framing.length = *fields.content_length;
    } else {
        response_.keep_alive = false;
        framing.how = body_framing::kind::to_close;
    }
    return {};
}

response_outcome parse_response(std::string_view bytes, bool then_closed, const limits& caps)
{
    response_parser parser(caps);
    response_outcome out;
    out.result = parser.feed(bytes);
    if (then_closed && out.result.state == parse_status::need_more) out.result = parser.finish();
    out.parsed = parser.take();
    return out;
}

} // namespace patroxy::protocol::http
