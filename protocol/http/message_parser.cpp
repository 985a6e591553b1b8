// HTTP/1.1 framing after RFC 9112: lines (section 2.2), field lines (section 5), message body
// length (section 6.3), chunked coding (section 7.1). Strict wherever a lenient reading could
// mis-frame the next message on a reused connection (conflicting lengths, folding, blanks before
// the colon, a chunk's data without its line end), lenient about bare LF line ends.
#include "protocol/http/message_parser.hpp"

#include "protocol/http/field_text.hpp"

#include <algorithm>

namespace patroxy::protocol::http {
namespace {

/// A chunk-size line is a hex number plus optional extensions; nothing legitimate comes close.
constexpr std::size_t max_chunk_line_bytes = 1024;

/// The line without its LF and an optional CR before it.
std::string_view without_eol(std::string_view line) noexcept
{
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), to_lower);
    return out;
}

/// A decimal Content-Length element without sign or blanks; nullopt when invalid or over 18
/// digits (which cannot overflow 64 bits, and no body cap comes near).
std::optional<std::uint64_t> parse_length(std::string_view s) noexcept
{
    if (s.empty() || s.size() > 18) return std::nullopt;
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

} // namespace

void message_parser::reset_framing() noexcept
{
    state_ = parse_state::start_line;
    line_.clear();
    bytes_seen_ = start_line_bytes_ = field_bytes_ = field_count_ = 0;
    remaining_ = 0;
    framing_ = {};
    cr_seen_ = body_started_ = false;
    error_.clear();
}

parse_result message_parser::fail(std::error_code ec, std::size_t consumed)
{
    state_ = parse_state::failed;
    error_ = ec;
    return {parse_status::error, consumed, ec};
}

parse_result message_parser::feed(std::string_view in)
{
    if (state_ == parse_state::failed) return {parse_status::error, 0, error_};
    if (state_ == parse_state::done) return {parse_status::done, 0, {}};
    const auto result = run(in);
    bytes_seen_ += result.consumed;
    return result;
}

parse_result message_parser::run(std::string_view in)
{
    std::size_t pos = 0;
    for (;;) {
        if (state_ == parse_state::done) return {parse_status::done, pos, {}};
        if (pos == in.size()) return {parse_status::need_more, pos, {}};

        std::error_code ec;
        switch (state_) {
        case parse_state::start_line:
            ec = step_start_line(in, pos);
            break;
        case parse_state::field_line:
        case parse_state::trailer_line:
            ec = step_field_line(in, pos);
            break;
        case parse_state::body_by_length:
        case parse_state::chunk_data:
            body_started_ = true;
            step_counted_body(in, pos);
            break;
        case parse_state::body_to_close:
            body_started_ = true;
            ec = step_body_to_close(in, pos);
            break;
        case parse_state::chunk_size_line:
            body_started_ = true;
            ec = step_chunk_size_line(in, pos);
            break;
        case parse_state::chunk_data_end:
            ec = step_chunk_data_end(in, pos);
            break;
        case parse_state::done:
        case parse_state::failed:
            return {parse_status::error, pos, error_}; // handled before the loop and at its top
        }
        if (ec) return fail(ec, pos);
    }
}

bool message_parser::take_line(std::string_view in, std::size_t& pos, std::size_t limit, http_errc too_long,
                               std::error_code& ec)
{
    const auto newline = in.find('\n', pos);
    const std::size_t end = newline == std::string_view::npos ? in.size() : newline + 1;
    const std::size_t room = limit > line_.size() ? limit - line_.size() : 0;
    if (end - pos > room) {
        pos += room;
        ec = too_long;
        return false;
    }
    line_.append(in.substr(pos, end - pos));
    pos = end;
    return newline != std::string_view::npos;
}

std::error_code message_parser::step_start_line(std::string_view in, std::size_t& pos)
{
    // Each byte is judged as it arrives, within the line and within its cap, so the outcome and
    // the byte it names do not depend on how the input was cut.
    const auto newline = in.find('\n', pos);
    const std::size_t line_end = newline == std::string_view::npos ? in.size() : newline + 1;
    const std::size_t room = limits_.max_start_line - std::min(line_.size(), limits_.max_start_line);
    const std::size_t checked_end = std::min(line_end, pos + room);
    for (std::size_t i = pos; i < checked_end; ++i) {
        if (!start_byte_ok(line_.size() + (i - pos), in[i])) {
            pos = i;
            return http_errc::bad_start_line;
        }
    }
    std::error_code ec;
    if (!take_line(in, pos, limits_.max_start_line, http_errc::start_line_too_long, ec)) return ec;
    const auto line = without_eol(line_);
    // Empty lines before a request are skipped (RFC 9112 section 2.2); a response's start-byte
    // check has already refused one.
    if (!line.empty()) {
        ec = on_start_line(line);
        start_line_bytes_ = line_.size();
        state_ = parse_state::field_line;
    }
    line_.clear();
    return ec;
}

std::error_code message_parser::step_field_line(std::string_view in, std::size_t& pos)
{
    std::error_code ec;
    if (!take_line(in, pos, limits_.max_field_bytes - field_bytes_, http_errc::fields_too_large, ec)) return ec;
    field_bytes_ += line_.size();
    const auto line = without_eol(line_);
    if (!line.empty())
        ec = on_field_line(line);
    else if (state_ == parse_state::field_line)
        ec = on_head_complete();
    else
        state_ = parse_state::done; // the empty line after the trailers
    line_.clear();
    return ec;
}

std::error_code message_parser::on_field_line(std::string_view line)
{
    // A leading blank is obsolete line folding and a blank before the colon is forbidden (RFC
    // 9112 section 5.1): both are ways to smuggle a field past one parser and not another. A
    // token-only name refuses them both.
    const auto colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) return http_errc::bad_field;
    const auto raw_name = line.substr(0, colon);
    if (!std::all_of(raw_name.begin(), raw_name.end(), is_tchar)) return http_errc::bad_field;
    const auto value = trim(line.substr(colon + 1));
    if (!std::all_of(value.begin(), value.end(), is_value_char)) return http_errc::bad_field;
    if (++field_count_ > limits_.max_fields) return http_errc::too_many_fields;
    if (state_ == parse_state::trailer_line) return {}; // trailers are checked for shape, then dropped

    std::string name = lower(raw_name);
    if (const auto ec = note_framing_field(name, value)) return ec;
    current().headers.emplace_back(std::move(name), std::string(value));
    return {};
}

std::error_code message_parser::note_framing_field(std::string_view name, std::string_view value)
{
    if (name == "content-length") {
        // "Content-Length: 42, 42" (one value repeated) is tolerated, a conflict is not.
        bool bad = value.empty();
        for_each_element(value, [&](std::string_view element) {
            const auto length = parse_length(element);
            if (!length || (framing_.content_length && *framing_.content_length != *length))
                bad = true;
            else
                framing_.content_length = length;
        });
        if (bad) return http_errc::bad_content_length;
    } else if (name == "transfer-encoding") {
        framing_.has_transfer_encoding = true;
        for_each_element(value, [&](std::string_view coding) {
            framing_.chunked_last = iequals(coding, "chunked");
            ++framing_.codings;
            if (framing_.chunked_last) ++framing_.chunked_codings;
        });
    } else if (name == "connection") {
        for_each_element(value, [&](std::string_view option) {
            framing_.connection_close = framing_.connection_close || iequals(option, "close");
            framing_.connection_keep_alive = framing_.connection_keep_alive || iequals(option, "keep-alive");
        });
    } else if (name == "expect") {
        framing_.expect_continue = iequals(value, "100-continue");
    }
    return {};
}

std::error_code message_parser::on_head_complete()
{
    auto& msg = current();
    msg.keep_alive = !framing_.connection_close && (msg.version_minor >= 1 || framing_.connection_keep_alive);
    body_framing framing;
    if (const auto ec = on_head_end(framing_, framing)) return ec;

    switch (framing.how) {
    case body_framing::kind::interim:
        // Skipped, but charged to the field budget with its start line: an endless stream of
        // interim answers still ends at max_field_bytes.
        if (start_line_bytes_ > limits_.max_field_bytes - field_bytes_) return http_errc::fields_too_large;
        field_bytes_ += start_line_bytes_;
        clear_message();
        framing_ = {};
        state_ = parse_state::start_line;
        return {};
    case body_framing::kind::none:
        state_ = parse_state::done;
        return {};
    case body_framing::kind::length:
        if (framing.length > limits_.max_body_bytes) return http_errc::body_too_large;
        remaining_ = framing.length;
        msg.body.reserve(static_cast<std::size_t>(remaining_));
        state_ = remaining_ == 0 ? parse_state::done : parse_state::body_by_length;
        return {};
    case body_framing::kind::chunked:
        state_ = parse_state::chunk_size_line;
        return {};
    case body_framing::kind::to_close:
        state_ = parse_state::body_to_close;
        return {};
    }
    return http_errc::bad_start_line; // unreachable: every kind is handled above
}

void message_parser::step_counted_body(std::string_view in, std::size_t& pos)
{
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - pos));
    current().body.append(in.substr(pos, n));
    pos += n;
    remaining_ -= n;
    if (remaining_ == 0)
        state_ = state_ == parse_state::body_by_length ? parse_state::done : parse_state::chunk_data_end;
}

std::error_code message_parser::step_body_to_close(std::string_view in, std::size_t& pos)
{
    auto& body = current().body;
    const std::size_t room = limits_.max_body_bytes - body.size();
    if (in.size() - pos > room) {
        // What fits is kept and the first byte over the cap is the offending one, as it would be
        // had the bytes come one at a time.
        body.append(in.substr(pos, room));
        pos += room;
        return http_errc::body_too_large;
    }
    body.append(in.substr(pos));
    pos = in.size();
    return {};
}

std::error_code message_parser::step_chunk_size_line(std::string_view in, std::size_t& pos)
{
    std::error_code ec;
    if (!take_line(in, pos, max_chunk_line_bytes, http_errc::bad_chunk, ec)) return ec;
    ec = on_chunk_size(without_eol(line_));
    line_.clear();
    return ec;
}

std::error_code message_parser::on_chunk_size(std::string_view line)
{
    // chunk-size [ BWS ";" chunk-ext ]: the extensions carry nothing we use.
    const std::uint64_t room = limits_.max_body_bytes - current().body.size();
    std::uint64_t size = 0;
    std::size_t i = 0;
    for (; i < line.size() && hex_value(line[i]) >= 0; ++i) {
        const auto digit = static_cast<std::uint64_t>(hex_value(line[i]));
        // Checked before each digit is added, so the value never overflows before it is refused.
        if (room < digit || size > (room - digit) / 16) return http_errc::body_too_large;
        size = size * 16 + digit;
    }
    if (i == 0) return http_errc::bad_chunk;
    const auto rest = trim(line.substr(i));
    if (!rest.empty() && rest.front() != ';') return http_errc::bad_chunk;
    if (!std::all_of(rest.begin(), rest.end(), is_value_char)) return http_errc::bad_chunk;
    if (size == 0) {
        // Trailers get budgets of their own.
        field_bytes_ = 0;
        field_count_ = 0;
        state_ = parse_state::trailer_line;
    } else {
        remaining_ = size;
        state_ = parse_state::chunk_data;
    }
    return {};
}

std::error_code message_parser::step_chunk_data_end(std::string_view in, std::size_t& pos)
{
    // Exactly CRLF (or a bare LF) must follow the data; anything else means the size lied.
    const char c = in[pos];
    if (c == '\n') {
        ++pos;
        cr_seen_ = false;
        state_ = parse_state::chunk_size_line;
        return {};
    }
    if (c == '\r' && !cr_seen_) {
        ++pos;
        cr_seen_ = true;
        return {};
    }
    return http_errc::bad_chunk;
}

parse_result message_parser::finish()
{
    switch (state_) {
    case parse_state::body_to_close:
        state_ = parse_state::done;
        return {parse_status::done, 0, {}};
    case parse_state::done:
        return {parse_status::done, 0, {}};
    case parse_state::failed:
        return {parse_status::error, 0, error_};
    default:
        return fail(http_errc::closed_early, 0);
    }
}

} // namespace patroxy::protocol::http
