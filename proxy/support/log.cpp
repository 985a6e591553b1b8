// The line logger's sink: timestamps in UTC with milliseconds, written with a single write(2).
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

constexpr std::array<std::string_view, 4> level_names{"DEBUG", "INFO", "WARNING", "ERROR"};

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

} // namespace

void set_log_level(log_level level) noexcept { min_level.store(static_cast<int>(level)); }

bool log_enabled(log_level level) noexcept { return static_cast<int>(level) >= min_level.load(std::memory_order_relaxed); }

bool parse_log_level(std::string_view text, log_level& out) noexcept
{
    constexpr std::array<std::string_view, 4> names{"debug", "info", "warning", "error"};
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (text == names[i]) {
            out = static_cast<log_level>(i);
            return true;
        }
    }
    return false;
}

void write_log_line(log_level level, std::string_view text)
{
    std::string line = utc_timestamp();
    line += ' ';
    line += level_names[static_cast<std::size_t>(level)];
    line += ' ';
    line += text;
    line += '\n';
    // One write per line: concurrent lines from several workers stay whole.
    std::size_t done = 0;
    while (done < line.size()) {
        const auto n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
        if (n <= 0) return;
        done += static_cast<std::size_t>(n);
    }
}

} // namespace patroxy::proxy
