// A small line logger: one write(2) per line to stderr, so lines from different threads never
// interleave. Not for the data path's per-message work: log events, not bytes. Lines are text
// ("<time> <LEVEL> <text>") or, with log.format json, one JSON object each, the whole log alike,
// so it can be shipped as it is.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>

namespace patroxy::proxy {

enum class log_level { debug = 0, info = 1, warning = 2, error = 3 };

/// Lines below this level are dropped from now on.
void set_log_level(log_level level) noexcept;
/// The command line's --log-level: set now, and from then on set_configured_log_level() changes
/// nothing, so the flag wins over the config's log.level at start and on every reload.
void pin_log_level(log_level level) noexcept;
/// The config's log.level: applied unless the command line pinned one.
void set_configured_log_level(log_level level) noexcept;
[[nodiscard]] bool log_enabled(log_level level) noexcept;
/// Parses "debug", "info", "warning", "error"; false when unknown.
[[nodiscard]] bool parse_log_level(std::string_view text, log_level& out) noexcept;

enum class log_format { text, json };

/// How lines are written from now on; set at startup and on a reload.
void set_log_format(log_format format) noexcept;
[[nodiscard]] log_format current_log_format() noexcept;

/// Writes one line to stderr: "<UTC time> <LEVEL> <text>", or {"time","level","msg"} in JSON.
void write_log_line(log_level level, std::string_view text);

/// One field of a structured record (a session's close, a cancel). A value that is empty, or
/// marks itself absent, prints as "-" in text and null in JSON.
struct log_field {
    std::string_view key;
    std::string value;
    bool number = false; ///< a JSON number, unquoted; value holds its digits (or is empty: null)
};

/// A record of `kind` ("session", "cancel") in `format`, stamped `time` at `level`, without the
/// newline. Text: "<time> <LEVEL> <kind> key=value ..." (a value with a space, quote, '=' or a
/// control character quoted and escaped, so a client's application_name cannot forge a field
/// or a line). JSON: {"time":...,"level":...,"kind":...,"key":value,...}.
[[nodiscard]] std::string format_log_record(log_format format, std::string_view time, log_level level,
                                            std::string_view kind, std::span<const log_field> fields);
/// A free-text line in `format`, without the newline.
[[nodiscard]] std::string format_log_text(log_format format, std::string_view time, log_level level,
                                          std::string_view text);
/// format_log_record() at the current time and format, written as one line.
void write_log_record(log_level level, std::string_view kind, std::span<const log_field> fields);

/// Builds one line with operator<< and writes it when destroyed:
///   log_line(log_level::info) << "listening name=" << name;
/// A line below the log level builds nothing (no stream is constructed), but its operands are
/// still evaluated: guard an expensive one with log_enabled().
class log_line {
public:
    explicit log_line(log_level level) : level_(level)
    {
        if (log_enabled(level)) out_.emplace();
    }
    log_line(const log_line&) = delete;
    log_line& operator=(const log_line&) = delete;
    ~log_line()
    {
        if (out_) write_log_line(level_, out_->view());
    }

    template <class T>
    log_line& operator<<(const T& value)
    {
        if (out_) *out_ << value;
        return *this;
    }

private:
    log_level level_;
    std::optional<std::ostringstream> out_; ///< only for a line that will be written
};

} // namespace patroxy::proxy
