// Located errors and warnings of a haproxy.cfg; see report.hpp.
#include "config/haproxy/report.hpp"

#include <algorithm>

namespace patroxy::config::haproxy {

std::string report::where(unsigned line) const
{
    return line == 0 ? file_ : file_ + ":" + std::to_string(line);
}

void report::add(std::vector<entry>& to, char kind, unsigned line, std::string message)
{
    if (said_.emplace(line, std::string(1, kind) + message).second) to.push_back({line, std::move(message)});
}

void report::error(unsigned line, std::string message)
{
    add(errors_, 'E', line, std::move(message));
}

void report::warn(unsigned line, std::string message)
{
    add(warnings_, 'W', line, std::move(message));
}

namespace {

/// Stable, so two messages of one line keep the order they were found in.
template <class Entry>
void sort_by_line(std::vector<Entry>& entries)
{
    std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.line < b.line; });
}

} // namespace

std::vector<config_error> report::take_errors()
{
    sort_by_line(errors_);
    std::vector<config_error> out;
    for (auto& e : errors_) out.push_back({where(e.line), std::move(e.message)});
    errors_.clear();
    return out;
}

std::vector<std::string> report::take_warnings()
{
    sort_by_line(warnings_);
    std::vector<std::string> out;
    for (auto& w : warnings_) out.push_back(where(w.line) + ": " + std::move(w.message));
    warnings_.clear();
    return out;
}

} // namespace patroxy::config::haproxy
