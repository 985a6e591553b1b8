// HAProxy's value syntaxes that patroxy reads: times ("3s", "500" meaning ms), whole numbers,
// and addresses (bind lists such as ":5000,:5001", server addresses such as "pg1:5432").
#pragma once

#include "config/config.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace patroxy::config::haproxy {

/// The unit of a time written without one: milliseconds for timeouts and check intervals,
/// seconds for `stats refresh`.
enum class time_unit { milliseconds, seconds };

/// A value and the line that set it, so that a message can say where a setting came from.
template <class T>
struct located {
    T value{};
    unsigned line = 0;
};

/// HAProxy's time (parse_time_err() in its src/tools.c): digits, then us, ms, s, m, h or d, or
/// no unit for `bare`; rounded up to whole units of `bare`, as HAProxy does, then to ms. nullopt
/// with `why` set when malformed or above HAProxy's limit (2^31 - 1 of `bare`).
[[nodiscard]] std::optional<duration> parse_time(std::string_view text, time_unit bare, std::string& why);

/// A whole number written as digits only, at most `max`; nullopt otherwise.
[[nodiscard]] std::optional<std::uint64_t> parse_count(std::string_view text, std::uint64_t max);

/// A duration as a config would write it: "3s", "500ms", "30m", "2h".
[[nodiscard]] std::string time_text(duration d);

/// A `bind` address word (after environment expansion): one address or a comma-separated list,
/// each "[ipv4@|ipv6@|…]host:port" or "…:first-last" for a range. "*:5000" and ":5000" listen on
/// every IPv4 address ("0.0.0.0"), "[::]:5000" and ":::5000" on every IPv6 one. Empty with `why`
/// set when an address is not a TCP address patroxy can listen on.
[[nodiscard]] std::vector<endpoint> parse_bind_addresses(std::string_view word, std::string& why);

/// A `server` address: "[ipv4@|ipv6@]host:port", "[v6]:port" or "v6:port". Host names stay as
/// they are written. nullopt with `why` set otherwise; a missing port is an error too (HAProxy
/// would use the port the client connected to, which patroxy cannot know).
[[nodiscard]] std::optional<endpoint> parse_server_address(std::string_view word, std::string& why);

/// The host of a URL for `host`: IPv6 addresses in brackets.
[[nodiscard]] std::string url_host(const std::string& host);

} // namespace patroxy::config::haproxy
