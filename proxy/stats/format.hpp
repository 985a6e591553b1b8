// What the four renderings of a stats_view share: human units as an operator reads them on the
// HTML page (bytes, durations, ages, UTC times), HTML escaping, the reading of the status and
// LastChk strings, and the BACKEND summary of a listener's servers.
#pragma once

#include "proxy/stats/stats_view.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace patroxy::proxy::stats {

/// Decimal bytes with one decimal place from 1 kB up: "0 B", "512 B", "1.2 kB", "3.4 MB",
/// "1.0 GB". A value never shows as "1000.0 kB": it moves up to the next unit instead.
[[nodiscard]] std::string format_bytes(std::uint64_t bytes);

/// HAProxy's human_time(), which its LastChg, Dwntme and Last columns use: "0s", "45s",
/// "3m15s", "2h05m", "4d03h" (two units, the second zero-padded). Negative reads as 0s.
[[nodiscard]] std::string format_duration(std::chrono::seconds d);

/// A configured timeout: "0s", "250ms", "30s", "1m30s" (milliseconds only below one second).
[[nodiscard]] std::string format_timeout(std::chrono::milliseconds d);

/// A moment in UTC for people: "2026-11-22 10:15:03" (whole seconds, truncated).
[[nodiscard]] std::string format_utc(std::chrono::system_clock::time_point t);

/// A moment in UTC for programs (RFC 3339): "2026-11-22T10:15:03Z" (whole seconds, truncated).
[[nodiscard]] std::string format_rfc3339(std::chrono::system_clock::time_point t);

/// Seconds since the Unix epoch, with the sub-second part (Prometheus' *_time_seconds).
[[nodiscard]] double unix_seconds(std::chrono::system_clock::time_point t) noexcept;

/// Text made safe for an HTML element or a double-quoted attribute: & < > " ' escaped.
[[nodiscard]] std::string html_escape(std::string_view text);

/// How a member's health reads in a status string ("UP", "UP 1/3", "DOWN", "DOWN 1/2", "MAINT",
/// "DRAIN", "no check"): the words HAProxy's legend uses.
enum class health_reading {
    up,         ///< "UP"
    going_down, ///< "UP 1/3": still up, failing checks
    going_up,   ///< "DOWN 1/2": still down, passing checks
    down,       ///< "DOWN", and anything unrecognised
    no_check,   ///< "no check": not checked (yet)
    maint,      ///< "MAINT"
    drain,      ///< "DRAIN" (HAProxy's NOLB/DRAIN: up, taking no new sessions)
};

/// Reads a status string; admin_state overrides it the way HAProxy's MAINT/DRAIN do.
[[nodiscard]] health_reading read_status(std::string_view status, admin_state admin = admin_state::ready) noexcept;

/// Whether the checks say the member answers: UP, or UP but failing ("UP 1/3"), or DRAIN.
[[nodiscard]] bool reads_as_up(health_reading r) noexcept;

/// LastChk split into HAProxy's CSV check_status / check_code / check_duration:
/// "L7OK/200 in 3ms" -> {"L7OK", "200", 3}; "L4CON in 0ms" -> {"L4CON", "", 0}; "" -> {}.
struct check_parts {
    std::string status;
    std::string code;
    std::optional<std::uint64_t> duration_ms{};
};
[[nodiscard]] check_parts split_last_check(std::string_view last_check);

/// Patronictl's role words ("Leader", "Replica", "Sync Standby", "Standby Leader", "") as one
/// snake_case label: "primary", "replica", "sync_standby", "standby_leader", "unknown".
[[nodiscard]] std::string member_role_label(std::string_view patronictl_role);

/// A listener's BACKEND row: its servers summed. Only what adds up is summed: a highest-ever
/// value (sessions_max, rate_max) has no honest sum, so the summary leaves it out.
struct backend_totals {
    std::uint64_t sessions_cur = 0;
    std::uint64_t sessions_total = 0;
    std::uint64_t lb_total = 0;
    std::uint64_t rate_cur = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::uint64_t errors_conn = 0;
    std::uint64_t errors_resp = 0;
    std::uint64_t killed = 0;
    std::uint64_t weight = 0;  ///< of the servers eligible now (HAProxy: the effective weight)
    std::uint64_t user_weight = 0; ///< of all servers (HAProxy's uweight)
    std::uint64_t active = 0;  ///< eligible, not backup
    std::uint64_t backup = 0;  ///< eligible backups
    std::optional<std::chrono::seconds> last_session{}; ///< the most recent over all servers

    /// HAProxy's rule: the backend is UP while any server may take a session.
    [[nodiscard]] bool up() const noexcept { return active + backup > 0; }
    [[nodiscard]] const char* status() const noexcept { return up() ? "UP" : "DOWN"; }
};
[[nodiscard]] backend_totals sum_servers(const listener_row& listener) noexcept;

} // namespace patroxy::proxy::stats
