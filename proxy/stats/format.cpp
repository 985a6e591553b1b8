// Human units, escaping and the readings of status strings shared by the stats renderers.
#include "proxy/stats/format.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace patroxy::proxy::stats {

namespace {

/// "%d%s%02d%s": a value in two units, the second padded as HAProxy's human_time() pads it.
std::string two_units(long long big, const char* big_unit, long long small, const char* small_unit)
{
    std::array<char, 48> buf{};
    const int n = std::snprintf(buf.data(), buf.size(), "%lld%s%02lld%s", big, big_unit, small, small_unit);
    return {buf.data(), static_cast<std::size_t>(n)};
}

/// Calendar fields of a moment in UTC, to whole seconds.
std::tm utc_fields(std::chrono::system_clock::time_point t)
{
    const std::time_t secs = std::chrono::system_clock::to_time_t(
        std::chrono::floor<std::chrono::seconds>(t));
    std::tm fields{};
    gmtime_r(&secs, &fields);
    return fields;
}

std::string strftime_utc(std::chrono::system_clock::time_point t, const char* pattern)
{
    const std::tm fields = utc_fields(t);
    std::array<char, 40> buf{};
    const std::size_t n = std::strftime(buf.data(), buf.size(), pattern, &fields);
    return {buf.data(), n};
}

bool starts_with_word(std::string_view text, std::string_view word) noexcept
{
    return text.substr(0, word.size()) == word && (text.size() == word.size() || text[word.size()] == ' ');
}

} // namespace

std::string format_bytes(std::uint64_t bytes)
{
    if (bytes < 1000) return std::to_string(bytes) + " B";
    static constexpr std::array<const char*, 6> units{"kB", "MB", "GB", "TB", "PB", "EB"};
    // Pick the unit in which the value, rounded to tenths, stays below 1000.
    double value = static_cast<double>(bytes) / 1000.0;
    std::size_t unit = 0;
    while (unit + 1 < units.size() && std::round(value * 10.0) >= 10000.0) {
        value /= 1000.0;
        ++unit;
    }
    std::array<char, 32> buf{};
    const int n = std::snprintf(buf.data(), buf.size(), "%.1f %s", value, units[unit]);
    return {buf.data(), static_cast<std::size_t>(n)};
}

std::string format_duration(std::chrono::seconds d)
{
    const long long s = d.count() < 0 ? 0 : static_cast<long long>(d.count());
    if (s < 60) return std::to_string(s) + "s";
    if (s < 3600) return two_units(s / 60, "m", s % 60, "s");
    if (s < 86400) return two_units(s / 3600, "h", (s % 3600) / 60, "m");
    return two_units(s / 86400, "d", (s % 86400) / 3600, "h");
}

std::string format_timeout(std::chrono::milliseconds d)
{
    if (d.count() > 0 && d < std::chrono::seconds{1}) return std::to_string(d.count()) + "ms";
    return format_duration(std::chrono::duration_cast<std::chrono::seconds>(d));
}

std::string format_utc(std::chrono::system_clock::time_point t)
{
    return strftime_utc(t, "%Y-%m-%d %H:%M:%S");
}

std::string format_rfc3339(std::chrono::system_clock::time_point t)
{
    return strftime_utc(t, "%Y-%m-%dT%H:%M:%SZ");
}

double unix_seconds(std::chrono::system_clock::time_point t) noexcept
{
    return std::chrono::duration<double>(t.time_since_epoch()).count();
}

std::string html_escape(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
    return out;
}

health_reading read_status(std::string_view status, admin_state admin) noexcept
{
    if (admin == admin_state::maint || starts_with_word(status, "MAINT")) return health_reading::maint;
    if (admin == admin_state::drain || starts_with_word(status, "DRAIN")) return health_reading::drain;
    if (status == "no check") return health_reading::no_check;
    // "UP 1/3" and "DOWN 1/2" carry the count of checks toward the other state.
    if (starts_with_word(status, "UP"))
        return status.size() > 2 ? health_reading::going_down : health_reading::up;
    if (starts_with_word(status, "DOWN"))
        return status.size() > 4 ? health_reading::going_up : health_reading::down;
    return health_reading::down;
}

bool reads_as_up(health_reading r) noexcept
{
    return r == health_reading::up || r == health_reading::going_down || r == health_reading::drain;
}

check_parts split_last_check(std::string_view last_check)
{
    check_parts parts;
    std::string_view head = last_check;
    if (const auto in = last_check.find(" in "); in != std::string_view::npos) {
        head = last_check.substr(0, in);
        std::string_view ms = last_check.substr(in + 4);
        if (ms.size() > 2 && ms.substr(ms.size() - 2) == "ms") {
            ms.remove_suffix(2);
            std::uint64_t value = 0;
            const auto [end, ec] = std::from_chars(ms.data(), ms.data() + ms.size(), value);
            if (ec == std::errc{} && end == ms.data() + ms.size()) parts.duration_ms = value;
        }
    }
    const auto slash = head.find('/');
    parts.status.assign(head.substr(0, slash));
    if (slash != std::string_view::npos) parts.code.assign(head.substr(slash + 1));
    return parts;
}

std::string member_role_label(std::string_view patronictl_role)
{
    if (patronictl_role.empty()) return "unknown";
    if (patronictl_role == "Leader") return "primary";
    std::string label;
    label.reserve(patronictl_role.size());
    for (char c : patronictl_role) {
        const auto u = static_cast<unsigned char>(c);
        label += std::isalnum(u) ? static_cast<char>(std::tolower(u)) : '_';
    }
    return label;
}

backend_totals sum_servers(const listener_row& listener) noexcept
{
    backend_totals t;
    for (const server_row& s : listener.servers) {
        t.sessions_cur += s.sessions_cur;
        t.sessions_total += s.sessions_total;
        t.lb_total += s.lb_total;
        t.rate_cur += s.rate_cur;
        t.bytes_in += s.bytes_in;
        t.bytes_out += s.bytes_out;
        t.errors_conn += s.errors_conn;
        t.errors_resp += s.errors_resp;
        t.killed += s.killed;
        t.user_weight += s.weight;
        if (s.active) {
            t.weight += s.weight;
            ++(s.backup ? t.backup : t.active);
        }
        if (s.last_session && (!t.last_session || *s.last_session < *t.last_session))
            t.last_session = s.last_session;
    }
    return t;
}

} // namespace patroxy::proxy::stats
