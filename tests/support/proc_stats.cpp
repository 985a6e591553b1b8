#include "tests/support/proc_stats.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

namespace patroxy::test {

std::optional<std::size_t> rss_kb(pid_t pid)
{
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
    return std::nullopt;
}

std::optional<std::chrono::milliseconds> cpu_time(pid_t pid)
{
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(stat, text)) return std::nullopt;
    // The command name is in parentheses and may hold spaces: count fields after the last ')'.
    const auto close = text.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(text.substr(close + 2));
    std::string skip;
    for (int field = 3; field < 14; ++field) fields >> skip; // state .. cmajflt
    unsigned long long utime = 0, stime = 0;
    if (!(fields >> utime >> stime)) return std::nullopt;
    const auto ticks_per_second = static_cast<unsigned long long>(::sysconf(_SC_CLK_TCK));
    return std::chrono::milliseconds((utime + stime) * 1000 / ticks_per_second);
}

std::optional<int> highest_fd(pid_t pid)
{
    std::error_code ec;
    int highest = -1;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec))
        highest = std::max(highest, std::stoi(entry.path().filename().string()));
    if (ec || highest < 0) return std::nullopt;
    return highest;
}

} // namespace patroxy::test
