// HTTP/1.1 request framing after RFC 9112 (request line in section 3, fields in section 5, body
// length in section 6.3): strict wherever a lenient reading could mis-frame the next pipelined
// request (conflicting lengths, Transfer-Encoding, line folding, blanks before the colon),
// lenient about bare LF line ends and empty lines before a request.
#include "proxy/stats/http_request.hpp"

#include <algorithm>
#include <cassert>

namespace patroxy::proxy::stats {
namespace {

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

/// A token character (RFC 9110 section 5.6.2): what methods and field names are made of.
bool is_tchar(char c) noexcept
{
    if (is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

/// Visible ASCII, the only bytes a request target may hold ('#' starts a fragment, which a
/// client never sends).
bool is_target_char(char c) noexcept { return c > 0x20 && c < 0x7f && c != '#'; }

/// A field value may hold visible characters, blanks and obs-text, but no control character
/// that could end or hide a line.
bool is_value_char(char c) noexcept
{
    const auto u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u != 0x7f);
}

std::string_view without_eol(std::string_view line) noexcept
{
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

/// A Content-Length element: decimal digits only; nullopt when invalid or past any sane size.
std::optional<std::size_t> parse_length(std::string_view s) noexcept
{
    if (s.empty() || s.size() > 15) return std::nullopt; // 15 digits cannot overflow size_t
    std::size_t value = 0;
    for (const char c : s) {
        if (!is_digit(c)) return std::nullopt;
        value = value * 10 + static_cast<std::size_t>(c - '0');
    }
    return value;
}

/// The origin-form path and query of an absolute-form target ("http://host:port/p?q"), which
/// RFC 9112 section 3.2.2 makes every server accept; nullopt for any other target.
std::optional<std::string_view> strip_absolute_form(std::string_view target) noexcept
{
    for (const std::string_view scheme : {"http://", "https://"}) {
        if (target.size() >= scheme.size() && http_text::iequals(target.substr(0, scheme.size()), scheme)) {
            const auto rest = target.substr(scheme.size());
            const auto path = rest.find_first_of("/?");
            return path == std::string_view::npos ? std::string_view{} : rest.substr(path);
        }
    }
    return std::nullopt;
}

} // namespace

namespace http_text {

bool iequals(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return to_lower(x) == to_lower(y); });
}

std::string_view trim(std::string_view s) noexcept
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

} // namespace http_text

std::string_view http_request::header(std::string_view lower_case_name) const
{
    for (const auto& [name, value] : headers)
        if (name == lower_case_name) return value;
    return {};
}

bool http_request::keep_alive() const
{
    bool close = false;
    bool keep = false;
    for (const auto& [name, value] : headers) {
        if (name != "connection") continue;
        http_text::for_each_element(value, [&](std::string_view option) {
            close = close || http_text::iequals(option, "close");
            keep = keep || http_text::iequals(option, "keep-alive");
        });
    }
    if (close) return false;
    return version_minor >= 1 || keep;
}

http_request_parser::http_request_parser(http_request_limits limits) : limits_(limits) {}

void http_request_parser::reset()
{
    *this = http_request_parser(limits_);
}

http_request_parser::result http_request_parser::fail(request_error e, std::size_t consumed)
{
    state_ = parse_state::failed;
    error_ = e;
    return {status::error, consumed, e};
}

bool http_request_parser::take_line(std::string_view in, std::size_t& pos, std::size_t limit, bool& over)
{
    const auto newline = in.find('\n', pos);
    const std::size_t end = newline == std::string_view::npos ? in.size() : newline + 1;
    if (line_.size() + (end - pos) > limit) {
        over = true;
        return false;
    }
    line_.append(in.substr(pos, end - pos));
    bytes_seen_ += end - pos;
    pos = end;
    return newline != std::string_view::npos;
}

std::optional<request_error> http_request_parser::on_request_line(std::string_view line)
{
    // method SP request-target SP HTTP-version: exactly two single spaces.
    const auto sp1 = line.find(' ');
    const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
        return request_error::bad_request;
    const auto method = line.substr(0, sp1);
    auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const auto version = line.substr(sp2 + 1);
    if (method.empty() || !std::all_of(method.begin(), method.end(), is_tchar)) return request_error::bad_request;
    if (target.empty() || !std::all_of(target.begin(), target.end(), is_target_char))
        return request_error::bad_request;

    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !is_digit(version[5]) || version[6] != '.' ||
        !is_digit(version[7]))
        return request_error::bad_request;
    if (version[5] != '1') return request_error::version_unsupported;

    if (target.front() != '/' && !(target == "*" && method == "OPTIONS")) {
        const auto origin = strip_absolute_form(target);
        if (!origin) return request_error::bad_request;
        target = *origin;
    }
    const auto question = target.find('?');
    request_.method.assign(method);
    request_.path.assign(target.substr(0, question));
    if (request_.path.empty()) request_.path.push_back('/'); // "http://host" or "http://host?q"
    if (question != std::string_view::npos) request_.query.assign(target.substr(question + 1));
    request_.version_minor = static_cast<unsigned>(version[7] - '0');
    return std::nullopt;
}

std::optional<request_error> http_request_parser::on_header_line(std::string_view line)
{
    // A leading blank is obsolete line folding and a blank before the colon is forbidden (RFC
    // 9112 section 5.1): both are ways to smuggle a field past one parser and not another.
    const auto colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) return request_error::bad_request;
    const auto raw_name = line.substr(0, colon);
    if (!std::all_of(raw_name.begin(), raw_name.end(), is_tchar)) return request_error::bad_request;
    const auto value = http_text::trim(line.substr(colon + 1));
    if (!std::all_of(value.begin(), value.end(), is_value_char)) return request_error::bad_request;
    if (request_.headers.size() >= limits_.max_headers) return request_error::header_too_large;

    std::string name(raw_name);
    std::transform(name.begin(), name.end(), name.begin(), http_text::to_lower);
    if (name == "content-length") {
        // "Content-Length: 42, 42" (one value repeated) is tolerated, a conflict is not.
        bool bad = value.empty();
        http_text::for_each_element(value, [&](std::string_view element) {
            const auto length = parse_length(element);
            if (!length || (content_length_ && *content_length_ != *length))
                bad = true;
            else
                content_length_ = length;
        });
        if (bad) return request_error::bad_request;
    } else if (name == "transfer-encoding") {
        http_text::for_each_element(value, [&](std::string_view coding) {
            chunked_ = http_text::iequals(coding, "chunked");
            other_coding_ = !chunked_;
        });
    } else if (name == "expect") {
        expect_continue_ = http_text::iequals(value, "100-continue");
    }
    request_.headers.emplace_back(std::move(name), std::string(value));
    return std::nullopt;
}

std::optional<request_error> http_request_parser::on_headers_end()
{
    if (chunked_ || other_coding_) {
        // Only chunked frames a request body, and a request with both Transfer-Encoding and
        // Content-Length is a smuggling attempt (RFC 9112 section 6.1).
        if (other_coding_ || content_length_) return request_error::bad_request;
        return request_error::length_required;
    }
    const auto length = content_length_.value_or(0);
    if (length > limits_.max_body) return request_error::payload_too_large;
    body_remaining_ = length;
    request_.body.reserve(length);
    state_ = length == 0 ? parse_state::done : parse_state::body;
    continue_requested_ = length > 0 && expect_continue_ && request_.version_minor >= 1;
    return std::nullopt;
}

http_request_parser::result http_request_parser::feed(std::string_view in)
{
    if (state_ == parse_state::failed) return {status::error, 0, error_};
    if (state_ == parse_state::done) return {status::done, 0, {}};

    std::size_t pos = 0;
    for (;;) {
        if (state_ == parse_state::done) return {status::done, pos, {}};
        if (pos == in.size()) return {status::need_more, pos, {}};

        bool over = false;
        switch (state_) {
        case parse_state::request_line: {
            const bool complete = take_line(in, pos, limits_.max_request_line, over);
            if (over) return fail(request_error::uri_too_long, pos);
            // The method must be a token: reject garbage (a TLS ClientHello, a PostgreSQL startup
            // packet) at its first byte instead of after a whole line or the read timeout.
            const auto method = without_eol(std::string_view(line_).substr(0, line_.find(' ')));
            if (!std::all_of(method.begin(), method.end(), is_tchar)) return fail(request_error::bad_request, pos);
            if (!complete) return {status::need_more, pos, {}};
            const auto line = without_eol(line_);
            if (!line.empty()) { // empty lines before a request are skipped (RFC 9112 section 2.2)
                if (const auto e = on_request_line(line)) return fail(*e, pos);
                state_ = parse_state::header_line;
            }
            line_.clear();
            break;
        }
        case parse_state::header_line: {
            const bool complete = take_line(in, pos, limits_.max_header_bytes - header_bytes_, over);
            if (over) return fail(request_error::header_too_large, pos);
            if (!complete) return {status::need_more, pos, {}};
            header_bytes_ += line_.size();
            const auto line = without_eol(line_);
            const auto e = line.empty() ? on_headers_end() : on_header_line(line);
            line_.clear();
            if (e) return fail(*e, pos);
            break;
        }
        case parse_state::body: {
            const auto n = std::min(body_remaining_, in.size() - pos);
            request_.body.append(in.substr(pos, n));
            bytes_seen_ += n;
            pos += n;
            body_remaining_ -= n;
            continue_requested_ = false; // the client did not wait for it
            if (body_remaining_ == 0) state_ = parse_state::done;
            break;
        }
        case parse_state::done:
        case parse_state::failed:
            assert(false && "handled before the switch");
            return {status::error, pos, error_};
        }
    }
}

} // namespace patroxy::proxy::stats
