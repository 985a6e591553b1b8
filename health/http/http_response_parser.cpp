// HTTP/1.x response framing after RFC 9112 (status line, fields, message body length rules in
// section 6.3, chunked coding in section 7.1), strict where a lenient reading could mis-frame the
// next response on a reused connection, lenient about bare LF line ends.
#include "health/http/http_response_parser.hpp"

#include <algorithm>
#include <cassert>
#include <limits>

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

/// A chunk-size line is a hex number plus optional extensions; nothing legitimate comes close.
constexpr std::size_t max_chunk_line_bytes = 1024;
constexpr std::string_view status_prefix = "HTTP/1.";

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

bool is_tchar(char c) noexcept
{
    if (is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

char to_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), to_lower);
    return out;
}

std::string_view trim(std::string_view s) noexcept
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

/// The line without its LF and an optional CR before it.
std::string_view without_eol(std::string_view line) noexcept
{
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

/// Calls `f(token)` for each comma-separated, trimmed, non-empty element of a field value.
template <typename F>
void for_each_token(std::string_view value, F&& f)
{
    while (!value.empty()) {
        const auto comma = value.find(',');
        const auto token = trim(value.substr(0, comma));
        if (!token.empty()) f(token);
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
}

/// A decimal Content-Length without sign or blanks; nullopt when invalid or absurdly large.
std::optional<std::uint64_t> parse_length(std::string_view s) noexcept
{
    if (s.empty() || s.size() > 18) return std::nullopt; // 18 digits cannot overflow uint64
    std::uint64_t value = 0;
    for (const char c : s) {
        if (!is_digit(c)) return std::nullopt;
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return value;
}

int hex_value(char c) noexcept
{
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// A field value may not carry control characters that could split or hide a line.
bool value_ok(std::string_view value) noexcept
{
    return std::none_of(value.begin(), value.end(), [](char c) { return c == '\0' || c == '\r' || c == '\n'; });
}

} // namespace

const std::error_category& http_category() noexcept
{
    // A function-local static has one address for the whole program, which is what
    // error_code comparison relies on.
    static const http_category_impl category;
    return category;
}

std::optional<std::string_view> http_response::header(std::string_view lower_case_name) const
{
    for (const auto& [name, value] : headers)
        if (name == lower_case_name) return std::string_view(value);
    return std::nullopt;
}

http_response_parser::http_response_parser(std::size_t max_header_bytes, std::size_t max_body_bytes)
    : max_header_bytes_(max_header_bytes), max_body_bytes_(max_body_bytes)
{
}

void http_response_parser::reset()
{
    *this = http_response_parser(max_header_bytes_, max_body_bytes_);
}

http_response_parser::result http_response_parser::fail(http_errc e, std::size_t consumed)
{
    state_ = parse_state::failed;
    error_ = make_error_code(e);
    return {status::error, consumed, error_};
}

http_response_parser::result http_response_parser::complete(std::size_t consumed)
{
    state_ = parse_state::done;
    return {status::done, consumed, {}};
}

bool http_response_parser::take_line(std::string_view in, std::size_t& pos, std::size_t used, std::size_t limit,
                                     bool& over)
{
    const auto newline = in.find('\n', pos);
    const std::size_t end = newline == std::string_view::npos ? in.size() : newline + 1;
    if (used + line_.size() + (end - pos) > limit) {
        over = true;
        return false;
    }
    line_.append(in.substr(pos, end - pos));
    pos = end;
    return newline != std::string_view::npos;
}

bool http_response_parser::status_prefix_ok(std::string_view upcoming) const
{
    // Checked before the line is complete, so garbage fails at its first bytes instead of
    // after max_header_bytes or the response timeout.
    std::size_t i = 0;
    for (; i < line_.size() && i < status_prefix.size(); ++i)
        if (line_[i] != status_prefix[i]) return false;
    for (std::size_t j = 0; i < status_prefix.size() && j < upcoming.size(); ++i, ++j)
        if (upcoming[j] != status_prefix[i]) return false;
    return true;
}

std::error_code http_response_parser::on_status_line(std::string_view line)
{
    // "HTTP/1.x SSS[ reason]": the reason phrase may be empty or missing.
    constexpr std::size_t code_end = 12;
    if (line.size() < code_end || !is_digit(line[7]) || line[8] != ' ' || !is_digit(line[9]) ||
        !is_digit(line[10]) || !is_digit(line[11]) || (line.size() > code_end && line[code_end] != ' '))
        return http_errc::malformed_response;
    if (line[9] < '1' || line[9] > '5') return http_errc::malformed_response;
    response_.minor_version = line[7] - '0';
    response_.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    return {};
}

std::error_code http_response_parser::on_header_line(std::string_view line)
{
    // A leading blank is obsolete line folding; refusing it is allowed and keeps framing simple.
    const auto colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) return http_errc::malformed_response;
    const auto raw_name = line.substr(0, colon);
    if (!std::all_of(raw_name.begin(), raw_name.end(), is_tchar)) return http_errc::malformed_response;
    const auto value = trim(line.substr(colon + 1));
    if (!value_ok(value)) return http_errc::malformed_response;
    std::string name = lower(raw_name);

    if (name == "content-length") {
        // "Content-Length: 42, 42" (a list of one repeated value) is tolerated, a conflict is not.
        bool bad = false;
        bool any = false;
        for_each_token(value, [&](std::string_view token) {
            any = true;
            const auto length = parse_length(token);
            if (!length || (content_length_ && *content_length_ != *length))
                bad = true;
            else
                content_length_ = length;
        });
        if (bad || !any) return http_errc::malformed_response;
    } else if (name == "transfer-encoding") {
        // Only the final coding decides: chunked there frames the body, anything else runs to close.
        has_transfer_encoding_ = true;
        for_each_token(value, [&](std::string_view token) { chunked_ = lower(token) == "chunked"; });
    } else if (name == "connection") {
        for_each_token(value, [&](std::string_view token) {
            const auto option = lower(token);
            if (option == "close") connection_close_ = true;
            if (option == "keep-alive") connection_keep_alive_ = true;
        });
    }
    response_.headers.emplace_back(std::move(name), std::string(value));
    return {};
}

std::error_code http_response_parser::on_headers_end()
{
    if (response_.status < 200) {
        // An interim 1xx answer: the real one follows. header_bytes_ keeps counting, so an
        // endless stream of them still hits max_header_bytes.
        response_ = {};
        content_length_.reset();
        has_transfer_encoding_ = chunked_ = connection_close_ = connection_keep_alive_ = false;
        state_ = parse_state::status_line;
        return {};
    }
    response_.keep_alive =
        response_.minor_version >= 1 ? !connection_close_ : (connection_keep_alive_ && !connection_close_);

    if (response_.status == 204 || response_.status == 304) {
        state_ = parse_state::done;
    } else if (has_transfer_encoding_) {
        // Transfer-Encoding overrides Content-Length; a sender of both must close afterwards.
        if (content_length_) response_.keep_alive = false;
        if (chunked_) {
            state_ = parse_state::chunk_size_line;
        } else {
            response_.keep_alive = false;
            state_ = parse_state::body_to_close;
        }
    } else if (content_length_) {
        if (*content_length_ > max_body_bytes_) return http_errc::body_too_large;
        remaining_ = *content_length_;
        response_.body.reserve(static_cast<std::size_t>(remaining_));
        state_ = remaining_ == 0 ? parse_state::done : parse_state::body_by_length;
    } else {
        response_.keep_alive = false;
        state_ = parse_state::body_to_close;
    }
    return {};
}

std::error_code http_response_parser::on_chunk_size_line(std::string_view line)
{
    // chunk-size [ BWS ";" chunk-ext ]: extensions carry nothing we use.
    std::uint64_t size = 0;
    std::size_t i = 0;
    for (; i < line.size() && hex_value(line[i]) >= 0; ++i) {
        size = size * 16 + static_cast<std::uint64_t>(hex_value(line[i]));
        // Checked per digit, so the value never overflows before it is rejected.
        if (size > max_body_bytes_ - response_.body.size()) return http_errc::body_too_large;
    }
    if (i == 0) return http_errc::malformed_response;
    const auto rest = trim(line.substr(i));
    if (!rest.empty() && rest.front() != ';') return http_errc::malformed_response;
    if (size == 0) {
        header_bytes_ = 0; // trailers get their own max_header_bytes budget
        state_ = parse_state::trailer_line;
    } else {
        remaining_ = size;
        state_ = parse_state::chunk_data;
    }
    return {};
}

void http_response_parser::take_body(std::string_view in, std::size_t& pos, std::uint64_t& remaining)
{
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, in.size() - pos));
    response_.body.append(in.substr(pos, n));
    pos += n;
    remaining -= n;
}

http_response_parser::result http_response_parser::feed(std::string_view in)
{
    if (state_ == parse_state::failed) return {status::error, 0, error_};
    if (state_ == parse_state::done) return {status::done, 0, {}};

    std::size_t pos = 0;
    for (;;) {
        if (state_ == parse_state::done) return complete(pos);
        if (pos == in.size()) return {status::need_more, pos, {}};

        bool over = false;
        switch (state_) {
        case parse_state::status_line: {
            if (!status_prefix_ok(in.substr(pos))) return fail(http_errc::malformed_response, pos);
            if (!take_line(in, pos, header_bytes_, max_header_bytes_, over))
                return over ? fail(http_errc::header_too_large, pos) : result{status::need_more, pos, {}};
            header_bytes_ += line_.size();
            const auto ec = on_status_line(without_eol(line_));
            line_.clear();
            if (ec) return fail(static_cast<http_errc>(ec.value()), pos);
            state_ = parse_state::header_line;
            break;
        }
        case parse_state::header_line:
        case parse_state::trailer_line: {
            if (!take_line(in, pos, header_bytes_, max_header_bytes_, over))
                return over ? fail(http_errc::header_too_large, pos) : result{status::need_more, pos, {}};
            header_bytes_ += line_.size();
            const auto line = without_eol(line_);
            std::error_code ec;
            if (state_ == parse_state::header_line)
                ec = line.empty() ? on_headers_end() : on_header_line(line);
            else if (line.empty())
                state_ = parse_state::done;
            else if (line.find(':') == std::string_view::npos || !value_ok(line))
                ec = http_errc::malformed_response; // trailers are checked for shape, then dropped
            line_.clear();
            if (ec) return fail(static_cast<http_errc>(ec.value()), pos);
            break;
        }
        case parse_state::body_by_length:
            take_body(in, pos, remaining_);
            if (remaining_ == 0) state_ = parse_state::done;
            break;
        case parse_state::body_to_close:
            if (in.size() - pos > max_body_bytes_ - response_.body.size())
                return fail(http_errc::body_too_large, pos);
            response_.body.append(in.substr(pos));
            pos = in.size();
            break;
        case parse_state::chunk_size_line: {
            if (!take_line(in, pos, 0, max_chunk_line_bytes, over))
                return over ? fail(http_errc::malformed_response, pos) : result{status::need_more, pos, {}};
            const auto ec = on_chunk_size_line(without_eol(line_));
            line_.clear();
            if (ec) return fail(static_cast<http_errc>(ec.value()), pos);
            break;
        }
        case parse_state::chunk_data:
            take_body(in, pos, remaining_);
            if (remaining_ == 0) state_ = parse_state::chunk_data_end;
            break;
        case parse_state::chunk_data_end: {
            // Exactly CRLF (or a bare LF) must follow the data; anything else means the size lied.
            if (!take_line(in, pos, 0, 2, over))
                return over ? fail(http_errc::malformed_response, pos) : result{status::need_more, pos, {}};
            const bool empty = without_eol(line_).empty();
            line_.clear();
            if (!empty) return fail(http_errc::malformed_response, pos);
            state_ = parse_state::chunk_size_line;
            break;
        }
        case parse_state::done:
        case parse_state::failed:
            assert(false && "handled before the switch");
            return {status::error, pos, error_};
        }
    }
}

http_response_parser::result http_response_parser::finish()
{
    switch (state_) {
    case parse_state::body_to_close:
        return complete(0);
    case parse_state::done:
        return {status::done, 0, {}};
    case parse_state::failed:
        return {status::error, 0, error_};
    default:
        return fail(http_errc::closed_early, 0);
    }
}

} // namespace patroxy::health
