// HAProxy's times, numbers and addresses; see values.hpp.
#include "config/haproxy/values.hpp"

#include <array>
#include <charconv>

namespace patroxy::config::haproxy {
namespace {

struct time_suffix {
    std::string_view text;
    std::uint64_t microseconds;
};

constexpr std::array time_suffixes{
    time_suffix{"us", 1},
    time_suffix{"ms", 1'000},
    time_suffix{"s", 1'000'000},
    time_suffix{"m", 60'000'000},
    time_suffix{"h", 3'600'000'000},
    time_suffix{"d", 86'400'000'000},
};

/// Address prefixes of TCP sockets (str2sa_range()); the others name Unix sockets, UDP, QUIC or
/// inherited file descriptors.
constexpr std::array tcp_prefixes{std::string_view("ipv4@"), std::string_view("ipv6@"), std::string_view("ip@"),
                                  std::string_view("tcp@"),  std::string_view("tcp4@"), std::string_view("tcp6@")};

struct split_address {
    std::string host;
    std::string port; ///< the text after the separating colon; empty when there is none
    bool v6 = false;  ///< ipv6@/tcp6@: an empty or '*' host means every IPv6 address
};

/// "[prefix@]host:port" into its parts; nullopt with `why` set for a non-TCP address.
std::optional<split_address> split(std::string_view word, std::string& why)
{
    split_address out;
    std::string_view rest = word;
    if (const auto at = rest.find('@'); at != std::string_view::npos) {
        const auto prefix = rest.substr(0, at + 1);
        bool known = false;
        for (const auto p : tcp_prefixes) known = known || p == prefix;
        if (!known) {
            why = "'" + std::string(word) + "' is not a TCP address (patroxy takes host:port, optionally with ipv4@ or ipv6@)";
            return std::nullopt;
        }
        out.v6 = prefix == "ipv6@" || prefix == "tcp6@";
        rest.remove_prefix(at + 1);
    }
    if (rest.empty() || rest.front() == '/') {
        why = rest.empty() ? "empty address (an environment variable that is not set?)"
                           : "'" + std::string(word) + "' is a Unix socket path; patroxy listens and connects over TCP";
        return std::nullopt;
    }
    if (rest.front() == '[') {
        const auto close = rest.find(']');
        if (close == std::string_view::npos || (close + 1 < rest.size() && rest[close + 1] != ':')) {
            why = "'" + std::string(word) + "': expected [IPv6-address]:port";
            return std::nullopt;
        }
        out.host = std::string(rest.substr(1, close - 1));
        if (close + 1 < rest.size()) out.port = std::string(rest.substr(close + 2));
        return out;
    }
    // Without brackets the last colon separates the port, so ":::5000" is "::" and 5000.
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
        out.host = std::string(rest);
        return out;
    }
    out.host = std::string(rest.substr(0, colon));
    out.port = std::string(rest.substr(colon + 1));
    // A bracket outside [IPv6]:port ("10.0.3.[:5000") is no host; the native reader refuses it too.
    if (out.host.find_first_of("[]") != std::string::npos) {
        why = "'" + std::string(word) + "': a host cannot hold '[' or ']' (write an IPv6 address as [address]:port)";
        return std::nullopt;
    }
    return out;
}

std::optional<std::uint16_t> port_number(std::string_view text)
{
    const auto n = parse_count(text, 65535);
    if (!n || *n == 0) return std::nullopt;
    return static_cast<std::uint16_t>(*n);
}

/// Patroxy binds at most this many ports from one range ("5000-5099"): more is surely a typo.
constexpr unsigned max_range = 100;

} // namespace

std::optional<duration> parse_time(std::string_view text, time_unit bare, std::string& why)
{
    std::uint64_t value = 0;
    const char* end = text.data() + text.size();
    const auto [rest, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || text.empty() || text.front() < '0' || text.front() > '9') {
        why = "expected a time such as 3s or 500ms (no unit means " +
              std::string(bare == time_unit::seconds ? "seconds" : "milliseconds") + "), got '" + std::string(text) + "'";
        return std::nullopt;
    }
    const std::string_view suffix(rest, static_cast<std::size_t>(end - rest));
    const std::uint64_t bare_us = bare == time_unit::seconds ? 1'000'000 : 1'000;
    std::uint64_t unit_us = bare_us;
    if (!suffix.empty()) {
        unit_us = 0;
        for (const auto& s : time_suffixes)
            if (s.text == suffix) unit_us = s.microseconds;
        if (unit_us == 0) {
            why = "unexpected '" + std::string(suffix) + "' after the time '" + std::string(text) +
                  "'; units are us, ms, s, m, h, d";
            return std::nullopt;
        }
    }
    // HAProxy keeps times in 31 bits of the bare unit and rounds a fraction of it up.
    constexpr std::uint64_t limit = 0x7fffffff;
    if (value > limit * bare_us / unit_us + 1) {
        why = "time '" + std::string(text) + "' is too large (HAProxy's limit is about 24 days)";
        return std::nullopt;
    }
    const std::uint64_t in_bare = (value * unit_us + bare_us - 1) / bare_us;
    if (in_bare > limit) {
        why = "time '" + std::string(text) + "' is too large (HAProxy's limit is about 24 days)";
        return std::nullopt;
    }
    return duration(static_cast<duration::rep>(in_bare * (bare_us / 1000)));
}

std::optional<std::uint64_t> parse_count(std::string_view text, std::uint64_t max)
{
    std::uint64_t n = 0;
    const char* end = text.data() + text.size();
    const auto [rest, ec] = std::from_chars(text.data(), end, n);
    if (text.empty() || text.front() == '-' || text.front() == '+' || ec != std::errc{} || rest != end || n > max)
        return std::nullopt;
    return n;
}

std::string time_text(duration d)
{
    const auto ms = d.count();
    if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
    if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
    if (ms != 0 && ms % 1'000 == 0) return std::to_string(ms / 1'000) + "s";
    return std::to_string(ms) + "ms";
}

std::vector<endpoint> parse_bind_addresses(std::string_view word, std::string& why)
{
    std::vector<endpoint> out;
    for (std::size_t start = 0; start <= word.size();) {
        auto comma = word.find(',', start);
        if (comma == std::string_view::npos) comma = word.size();
        const auto item = word.substr(start, comma - start);
        start = comma + 1;
        auto parts = split(item, why);
        if (!parts) return {};
        if (parts->host.empty() || parts->host == "*") parts->host = parts->v6 ? "::" : "0.0.0.0";
        const auto dash = parts->port.find('-');
        const auto first = port_number(parts->port.substr(0, dash));
        const auto last = dash == std::string::npos ? first : port_number(parts->port.substr(dash + 1));
        if (!first || !last || *last < *first || unsigned{*last} - *first >= max_range) {
            why = parts->port.empty() ? "'" + std::string(item) + "' has no port"
                                      : "'" + std::string(item) + "': expected a port 1-65535 or a range such as 5000-5002 (at most " +
                                            std::to_string(max_range) + " ports)";
            return {};
        }
        for (unsigned p = *first; p <= *last; ++p) out.push_back({parts->host, static_cast<std::uint16_t>(p)});
        if (comma == word.size()) break;
    }
    return out;
}

std::optional<endpoint> parse_server_address(std::string_view word, std::string& why)
{
    auto parts = split(word, why);
    if (!parts) return std::nullopt;
    if (parts->host.empty() || parts->host == "*" || parts->host == "0.0.0.0" || parts->host == "::") {
        why = "'" + std::string(word) + "' names no server (HAProxy would connect to the client's own destination)";
        return std::nullopt;
    }
    if (parts->port.empty()) {
        why = "'" + std::string(word) +
              "' has no port: HAProxy would use the port the client connected to; give the server's PostgreSQL port";
        return std::nullopt;
    }
    const auto port = port_number(parts->port);
    if (!port) {
        why = "'" + std::string(word) + "': expected a port 1-65535 (no offsets or ranges)";
        return std::nullopt;
    }
    return endpoint{parts->host, *port};
}

std::string url_host(const std::string& host)
{
    return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

} // namespace patroxy::config::haproxy
