// Patroni's ?lag= sizes; see patroni_size.hpp. Written from Patroni 3.0.2's strtol(), strtod(),
// convert_to_base_unit() and rint() in patroni/utils.py, one step each.
#include "config/haproxy/patroni_size.hpp"

#include <array>
#include <cmath>
#include <string>

namespace patroxy::config::haproxy {
namespace {

/// A number read from the front of a string and what follows it.
struct leading_number {
    std::optional<long double> value; ///< nullopt when the string does not start with one
    std::string_view rest;
};

bool is_digit(char c) noexcept
{
    return c >= '0' && c <= '9';
}

int digit_value(char c) noexcept
{
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return 99;
}

/// Python's str.strip() for the blanks a URL query can carry.
std::string_view strip(std::string_view s)
{
    constexpr std::string_view blanks = " \t\n\r\f\v";
    const auto first = s.find_first_not_of(blanks);
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(blanks) - first + 1);
}

/// Digits of `base` from `s[i]` on, accumulated into `value`; returns the index after them.
std::size_t read_digits(std::string_view s, std::size_t i, int base, long double& value)
{
    for (; i < s.size() && digit_value(s[i]) < base; ++i) value = value * base + digit_value(s[i]);
    return i;
}

/// Patroni's strtol(): the first of ^[-+]?0x[0-9a-fA-F]+, ^[-+]?0[0-7]*, ^[-+]?(0|[1-9][0-9]*).
leading_number read_integer(std::string_view s)
{
    std::size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    const long double sign = (i == 1 && s[0] == '-') ? -1.0L : 1.0L;
    long double value = 0;
    if (s.substr(i, 2) == "0x" && i + 2 < s.size() && digit_value(s[i + 2]) < 16) {
        const auto end = read_digits(s, i + 2, 16, value);
        return {sign * value, s.substr(end)};
    }
    if (i < s.size() && s[i] == '0') {
        const auto end = read_digits(s, i + 1, 8, value);
        return {sign * value, s.substr(end)};
    }
    if (i < s.size() && is_digit(s[i])) {
        const auto end = read_digits(s, i, 10, value);
        return {sign * value, s.substr(end)};
    }
    return {std::nullopt, s};
}

/// Patroni's strtod(): ^[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?, matched as Python's regex
/// engine does (a '.' without a digit after it is left over).
leading_number read_decimal(std::string_view s)
{
    std::size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    const std::size_t start = i;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i + 1 < s.size() && s[i] == '.' && is_digit(s[i + 1])) {
        i += 1;
        while (i < s.size() && is_digit(s[i])) ++i;
    } else if (i == start) {
        return {std::nullopt, s};
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        std::size_t j = i + 1;
        if (j < s.size() && (s[j] == '-' || s[j] == '+')) ++j;
        if (j < s.size() && is_digit(s[j])) {
            while (j < s.size() && is_digit(s[j])) ++j;
            i = j;
        }
    }
    return {std::stold(std::string(s.substr(0, i))), s.substr(i)};
}

/// Patroni's rint(): to the nearest integer, halves to even.
long double rint_even(long double v)
{
    return std::nearbyint(v); // the default rounding mode rounds halves to even
}

struct size_unit {
    std::string_view name;
    long double bytes;
    long double rounding; ///< Patroni rounds to whole units of the next smaller one
};

constexpr long double kib = 1024.0L;
constexpr std::array size_units{
    size_unit{"B", 1, 1},
    size_unit{"kB", kib, 1},
    size_unit{"MB", kib * kib, kib},
    size_unit{"GB", kib * kib * kib, kib * kib},
    size_unit{"TB", kib * kib * kib * kib, kib * kib * kib},
};

} // namespace

std::optional<long double> patroni_lag_bytes(std::string_view text)
{
    const auto s = strip(text);
    auto number = read_integer(s);
    const bool fraction_follows = !number.rest.empty() &&
                                  (number.rest[0] == '.' || number.rest[0] == 'e' || number.rest[0] == 'E');
    if (fraction_follows) number = read_decimal(s);
    if (!number.value) return std::nullopt;
    const auto unit = strip(number.rest);
    if (unit.empty()) return rint_even(*number.value);
    for (const auto& u : size_units) {
        if (u.name == unit) return rint_even(rint_even(*number.value * u.bytes / u.rounding) * u.rounding);
    }
    return std::nullopt; // "1mb", "1 MiB", "1MB/s": Patroni reads no number and sets no limit
}

} // namespace patroxy::config::haproxy
