// The config's value syntaxes that are not JSON types: durations ("250ms"), sizes ("16kB") and
// bind addresses ("0.0.0.0:5000", "[::1]:5000").
#include "config/config.hpp"

#include <array>
#include <charconv>
#include <limits>
#include <span>
#include <string>

namespace patroxy::config {
namespace {

struct unit {
    std::string_view suffix;
    std::uint64_t factor;
};

constexpr std::array duration_units{
    unit{"ms", 1}, unit{"s", 1000}, unit{"m", 60 * 1000}, unit{"h", 60 * 60 * 1000}};

// 1024-based with PostgreSQL's spelling ("kB", not "KB"), as in postgresql.conf.
constexpr std::array size_units{
    unit{"B", 1}, unit{"kB", 1024}, unit{"MB", 1024 * 1024}, unit{"GB", 1024 * 1024 * 1024}};

/// Whole digits, then a unit from `units`, nothing else; bare "0" too, since zero needs no unit.
/// Returns the amount in the smallest unit, or nullopt when malformed or above `max`.
std::optional<std::uint64_t> parse_quantity(std::string_view text, std::span<const unit> units,
                                            std::uint64_t max)
{
    if (text == "0") {
        return 0;
    }
    std::uint64_t count = 0;
    const char* end = text.data() + text.size();
    auto [rest, ec] = std::from_chars(text.data(), end, count); // no sign, no space, no fraction
    if (ec != std::errc{}) {
        return std::nullopt; // no digits, or more than 64 bits of them
    }
    const std::string_view suffix(rest, static_cast<std::size_t>(end - rest));
    for (const auto& u : units) {
        if (u.suffix == suffix) {
            if (count > max / u.factor) {
                return std::nullopt;
            }
            return count * u.factor;
        }
    }
    return std::nullopt;
}

/// The inverse of parse_quantity(): `amount` (in the smallest unit) in the largest unit of
/// `units` that divides it exactly, so the text reads back to the same amount.
std::string format_quantity(std::uint64_t amount, std::span<const unit> units)
{
    if (amount == 0) {
        return "0";
    }
    for (auto u = units.rbegin(); u != units.rend(); ++u) {
        if (amount % u->factor == 0) {
            return std::to_string(amount / u->factor) + std::string(u->suffix);
        }
    }
    return std::to_string(amount) + std::string(units.front().suffix); // not reached: the first factor is 1
}

/// A port written as plain digits in 1..65535.
std::optional<std::uint16_t> parse_port(std::string_view text)
{
    unsigned port = 0;
    const char* end = text.data() + text.size();
    auto [rest, ec] = std::from_chars(text.data(), end, port);
    if (ec != std::errc{} || rest != end || port == 0 || port > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(port);
}

} // namespace

std::optional<duration> parse_duration(std::string_view text)
{
    // Cap at what std::chrono::nanoseconds holds, so converting to a clock's duration is safe.
    constexpr auto max_ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<duration>(std::chrono::nanoseconds::max()).count());
    auto ms = parse_quantity(text, duration_units, max_ms);
    if (!ms) {
        return std::nullopt;
    }
    return duration(static_cast<duration::rep>(*ms));
}

std::optional<std::uint64_t> parse_size(std::string_view text)
{
    return parse_quantity(text, size_units, std::numeric_limits<std::uint64_t>::max());
}

std::string duration_text(duration d)
{
    if (d.count() < 0) {
        // No config holds one; shown as written so that reading it back fails loudly.
        return std::to_string(d.count()) + "ms";
    }
    return format_quantity(static_cast<std::uint64_t>(d.count()), duration_units);
}

std::string size_text(std::uint64_t bytes)
{
    return format_quantity(bytes, size_units);
}

std::optional<endpoint> parse_endpoint(std::string_view text)
{
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
        return std::nullopt;
    }
    std::string_view host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    } else if (host.find_first_of("[]:") != std::string_view::npos) {
        return std::nullopt; // an IPv6 address without brackets is ambiguous with the port
    }
    auto port = parse_port(text.substr(colon + 1));
    if (host.empty() || host.find_first_of(" \t\r\n") != std::string_view::npos || !port) {
        return std::nullopt;
    }
    return endpoint{std::string(host), *port};
}

std::string to_string(const endpoint& e)
{
    const bool v6 = e.host.find(':') != std::string::npos;
    return (v6 ? "[" + e.host + "]" : e.host) + ":" + std::to_string(e.port);
}

} // namespace patroxy::config
