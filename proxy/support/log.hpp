// A small line logger: one write(2) per line to stderr, so lines from different threads never
// interleave. Not for the data path's per-message work: log events, not bytes.
#pragma once

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
class log_line {
public:
    explicit log_line(log_level level) : level_(level), enabled_(log_enabled(level)) {}
    log_line(const log_line&) = delete;
    log_line& operator=(const log_line&) = delete;
    ~log_line()
    {
        if (enabled_) write_log_line(level_, out_.view());
    }

    template <class T>
    log_line& operator<<(const T& value)
    {
        if (enabled_) out_ << value;
        return *this;
    }

private:
    log_level level_;
    bool enabled_;
    std::ostringstream out_;
};

} // namespace patroxy::proxy
