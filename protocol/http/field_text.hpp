// Character classes and field-value helpers of HTTP (RFC 9110 section 5.6): what the codec checks
// bytes against, and what its users (Basic auth, Accept-Encoding, Connection) read values with.
#pragma once

#include <string_view>

namespace patroxy::protocol::http {

[[nodiscard]] constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

/// ASCII lower case of `c`; other bytes unchanged.
[[nodiscard]] constexpr char to_lower(char c) noexcept
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

/// A token character (RFC 9110 section 5.6.2): what methods and field names are made of.
[[nodiscard]] constexpr bool is_tchar(char c) noexcept
{
    if (is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

/// A byte a field value (or a reason phrase) may hold: visible characters, blanks and obs-text,
/// but no control character that could end, split or hide a line.
[[nodiscard]] constexpr bool is_value_char(char c) noexcept
{
    const auto u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u != 0x7f);
}

/// ASCII case-insensitive equality.
[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept;

/// `s` without leading and trailing spaces and tabs (OWS).
[[nodiscard]] std::string_view trim(std::string_view s) noexcept;

/// Calls `f(element)` for each comma-separated, trimmed, non-empty element of a list field value
/// such as "keep-alive, Upgrade" or "gzip;q=0.8, br".
template <typename F>
void for_each_element(std::string_view value, F&& f)
{
    while (!value.empty()) {
        const auto comma = value.find(',');
        const auto element = trim(value.substr(0, comma));
        if (!element.empty()) f(element);
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
}

} // namespace patroxy::protocol::http
