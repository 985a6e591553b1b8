// Tables of HAProxy keywords with what patroxy says about each (why one changes nothing, or why
// patroxy cannot honour it), and the reasons several tables share, so the same cause reads the
// same wherever it is met.
#pragma once

#include <string_view>

namespace patroxy::config::haproxy {

/// A keyword and the sentence a message gives for it.
struct keyword_note {
    std::string_view name;
    std::string_view why;
};

/// The entry of `table` (any array of structs with a `name`) named `name`, or nullptr.
template <class Table>
constexpr const typename Table::value_type* find_keyword(const Table& table, std::string_view name) noexcept
{
    for (const auto& entry : table)
        if (entry.name == name) return &entry;
    return nullptr;
}

namespace why {
inline constexpr std::string_view own_logs = "patroxy writes its own log lines (stderr, or journald under systemd)";
inline constexpr std::string_view http_only =
    "HTTP processing has no meaning for PostgreSQL traffic or patroxy's stats page";
inline constexpr std::string_view no_stickiness = "patroxy has no stickiness: each session is balanced anew";
inline constexpr std::string_view tls_settings = "TLS is set in patroxy's native tls settings";
inline constexpr std::string_view no_proxy_protocol = "patroxy does not send the PROXY protocol to servers";
} // namespace why

} // namespace patroxy::config::haproxy
