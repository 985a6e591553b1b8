// A small line logger: one write(2) per line to stderr, so lines from different threads never
// interleave. Not for the data path's per-message work: log events, not bytes.
#pragma once

#include <optional>
#include <sstream>
#include <string_view>

namespace patroxy::proxy {

enum class log_level { debug = 0, info = 1, warning = 2, error = 3 };

/// Lines below this level are dropped; set once at startup.
void set_log_level(log_level level) noexcept;
[[nodiscard]] bool log_enabled(log_level level) noexcept;
/// Parses "debug", "info", "warning", "error"; false when unknown.
[[nodiscard]] bool parse_log_level(std::string_view text, log_level& out) noexcept;

/// Writes one line "<UTC time> <LEVEL> <text>" to stderr.
void write_log_line(log_level level, std::string_view text);

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
