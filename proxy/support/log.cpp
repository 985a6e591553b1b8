// The line logger's sink: timestamps in UTC with milliseconds, text or JSON lines, each written
// with a single write(2).
#include "proxy/support/log.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <ctime>
#include <string>
#include <unistd.h>

namespace patroxy::proxy {
namespace {

std::atomic<int> min_level{static_cast<int>(log_level::info)};
std::atomic<log_format> line_format{log_format::text};
std::atomic<bool> level_pinned{false};

constexpr std::array<std::string_view, 4> level_names{"DEBUG", "INFO", "WARNING", "ERROR"};
constexpr std::array<std::string_view, 4> json_level_names{"debug", "info", "warning", "error"};

std::string utc_timestamp()
{
    const auto now = std::chrono::system_clock::now();
    const auto secs = std::chrono::system_clock::to_time_t(now);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    std::array<char, 40> buf{};
    const auto n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%S", &tm);
    std::string out(buf.data(), n);
    out += '.';
    out += static_cast<char>('0' + ms / 100);
    out += static_cast<char>('0' + ms / 10 % 10);
    out += static_cast<char>('0' + ms % 10);
    out += 'Z';
    return out;
}

void append_hex_escape(std::string& out, unsigned char c, std::string_view prefix)
{
    constexpr std::string_view digits = "0123456789abcdef";
    out += prefix;
    out += digits[c >> 4];
    out += digits[c & 0xf];
}

/// A JSON string literal. Bytes that are not valid UTF-8 pass as they are: PostgreSQL takes a
/// startup's names as bytes, and a log shipper copes better with them than with a lost field.
void append_json_string(std::string& out, std::string_view s)
{
    out += '"';
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (ch == '"') out += "\\\"";
        else if (ch == '\\') out += "\\\\";
        else if (ch == '\n') out += "\\n";
        else if (ch == '\t') out += "\\t";
        else if (c < 0x20 || c == 0x7f) append_hex_escape(out, c, "\\u00");
        else out += ch;
    }
    out += '"';
}

/// Whether a text value must be quoted to stay one field: it would otherwise split the line
/// into more fields, or more lines.
bool needs_quotes(std::string_view s)
{
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (ch == ' ' || ch == '"' || ch == '=' || ch == '\\' || c < 0x20 || c == 0x7f) return true;
    }
    return false;
}

void append_text_value(std::string& out, std::string_view s)
{
    if (s.empty()) {
        out += '-';
        return;
    }
    if (!needs_quotes(s)) {
        out += s;
        return;
    }
    out += '"';
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20 || c == 0x7f) {
            append_hex_escape(out, c, "\\x");
        } else {
            out += ch;
        }
    }
    out += '"';
}

void append_json_head(std::string& out, std::string_view time, log_level level)
{
    out += "{\"time\":";
    append_json_string(out, time);
    out += ",\"level\":";
    append_json_string(out, json_level_names[static_cast<std::size_t>(level)]);
}

void append_text_head(std::string& out, std::string_view time, log_level level)
{
    out += time;
    out += ' ';
    out += level_names[static_cast<std::size_t>(level)];
    out += ' ';
}

void write_stderr_line(std::string line)
{
    line += '\n';
    // One write per line: concurrent lines from several workers stay whole.
    std::size_t done = 0;
    while (done < line.size()) {
        const auto n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
        if (n <= 0) return;
        done += static_cast<std::size_t>(n);
    }
}

} // namespace

void set_log_level(log_level level) noexcept { min_level.store(static_cast<int>(level)); }

void pin_log_level(log_level level) noexcept
{
    level_pinned.store(true);
    set_log_level(level);
}

void set_configured_log_level(log_level level) noexcept
{
    if (!level_pinned.load()) set_log_level(level);
}

bool log_enabled(log_level level) noexcept { return static_cast<int>(level) >= min_level.load(std::memory_order_relaxed); }

bool parse_log_level(std::string_view text, log_level& out) noexcept
{
    for (std::size_t i = 0; i < json_level_names.size(); ++i) {
        if (text == json_level_names[i]) {
            out = static_cast<log_level>(i);
            return true;
        }
    }
    return false;
}

void set_log_format(log_format format) noexcept { line_format.store(format); }

log_format current_log_format() noexcept { return line_format.load(std::memory_order_relaxed); }

std::string format_log_text(log_format format, std::string_view time, log_level level, std::string_view text)
{
    std::string line;
    if (format == log_format::json) {
        append_json_head(line, time, level);
        line += ",\"msg\":";
        append_json_string(line, text);
        line += '}';
        return line;
    }
    append_text_head(line, time, level);
    // A message may quote what a peer sent (a server's error text): it stays one line.
    for (const char ch : text) {
        if (ch == '\n' || ch == '\r') line += ' ';
        else line += ch;
    }
    return line;
}

std::string format_log_record(log_format format, std::string_view time, log_level level, std::string_view kind,
                              std::span<const log_field> fields)
{
    std::string line;
    if (format == log_format::json) {
        append_json_head(line, time, level);
        line += ",\"kind\":";
        append_json_string(line, kind);
        for (const auto& f : fields) {
            line += ',';
            append_json_string(line, f.key);
            line += ':';
            if (f.value.empty()) line += "null";
            else if (f.number) line += f.value;
            else append_json_string(line, f.value);
        }
        line += '}';
        return line;
    }
    append_text_head(line, time, level);
    line += kind;
    for (const auto& f : fields) {
        line += ' ';
        line += f.key;
        line += '=';
        append_text_value(line, f.value);
    }
    return line;
}

void write_log_line(log_level level, std::string_view text)
{
    write_stderr_line(format_log_text(current_log_format(), utc_timestamp(), level, text));
}

void write_log_record(log_level level, std::string_view kind, std::span<const log_field> fields)
{
    write_stderr_line(format_log_record(current_log_format(), utc_timestamp(), level, kind, fields));
}

} // namespace patroxy::proxy
