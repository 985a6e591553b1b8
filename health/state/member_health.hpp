// The per-member check state machine (rise/fall, in HAProxy's check->health style) and the facts
// the stats page shows about the last check. Pure: the poller feeds it one probe_result per check.
#pragma once

#include "config/config.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace patroxy::health {

using health_clock = std::chrono::steady_clock;

/// How one check of a member's Patroni API ended, with HAProxy's check status codes.
enum class check_code {
    l4con,  ///< L4CON: connection refused, reset or unreachable
    l4tout, ///< L4TOUT: no connection within the timeout
    l6tout, ///< L6TOUT: connected, but the TLS handshake did not finish within the timeout (https)
    l6rsp,  ///< L6RSP: TLS failed: the certificate did not verify, the server refused ours, an alert
    l7tout, ///< L7TOUT: connected, but no complete answer within the timeout
    l7sts,  ///< L7STS: an HTTP status other than 200 (Patroni answers 200 to GET /patroni)
    l7rsp,  ///< L7RSP: an answer that is not HTTP or whose body does not decode
    l7ok,   ///< L7OK: 200 and a decoded body; Patroni answered, whatever it said
};

/// One finished check, as the poller saw it.
struct probe_result {
    check_code code = check_code::l4con;
    std::optional<unsigned> http_status{}; ///< when an HTTP status line was read
    std::chrono::milliseconds duration{};   ///< from connect to the end of the answer
    std::string detail{};                   ///< e.g. "connection refused", "field 'role' is missing"
};

/// rise/fall as in HAProxy's `default-server rise 2 fall 3`.
struct check_thresholds {
    unsigned rise = 2; ///< consecutive successes that bring a down member up
    unsigned fall = 3; ///< consecutive failures that take an up member down
};

/// The thresholds configured under "health".
[[nodiscard]] check_thresholds thresholds_from(const config::health_settings& h) noexcept;

/// Where a member stands. `going_down` and `coming_up` are HAProxy's "UP 1/3" and "DOWN 1/2".
enum class health_status {
    unchecked,  ///< no check has finished yet
    up,         ///< routable; the last check succeeded
    going_down, ///< still routable; 1..fall-1 consecutive checks failed
    down,       ///< not routable; the last check failed
    coming_up,  ///< still not routable; 1..rise-1 consecutive checks succeeded
};

/// A member's check state plus the facts HAProxy's stats page shows about it.
struct member_health {
    health_status status = health_status::unchecked;
    unsigned consecutive_failures = 0;
    unsigned consecutive_successes = 0;
    std::optional<probe_result> last_check{}; ///< nullopt until the first check finishes
    health_clock::time_point last_check_at{};
    std::uint64_t checks = 0;        ///< checks finished
    std::uint64_t failed_checks = 0; ///< of which failed (HAProxy's "Chk")
    std::uint64_t times_down = 0;    ///< transitions to down, the first failed check included ("Dwn")
    /// Downtime of down periods that have ended; see downtime() for the running total.
    std::chrono::milliseconds past_downtime{};
    /// When the member last went up or down (or, before that, nothing: epoch).
    health_clock::time_point last_change{};
};

/// Whether a probe result counts as an answer. Only L7OK does: refused connections, timeouts,
/// TLS failures, non-200 statuses and undecodable bodies all count toward `fall`.
[[nodiscard]] constexpr bool is_success(check_code c) noexcept { return c == check_code::l7ok; }

/// Whether sessions may be routed to the member: up, or up but failing fewer than `fall` checks.
[[nodiscard]] constexpr bool is_up(health_status s) noexcept
{
    return s == health_status::up || s == health_status::going_down;
}

/// Whether the member is counted down: down, or down and succeeding fewer than `rise` checks.
[[nodiscard]] constexpr bool is_down(health_status s) noexcept
{
    return s == health_status::down || s == health_status::coming_up;
}

/// The state after one more check finished at `now`.
///
/// An up member goes down after `fall` consecutive failures; a down one comes up after `rise`
/// consecutive successes. A member never checked yet is decided by its first check alone (up on
/// success, down on failure), so at startup operators do not wait rise x interval for a member
/// that answers, nor route to one that does not. Thresholds of 0 count as 1.
[[nodiscard]] member_health next_health(const member_health& prev, const probe_result& r, const check_thresholds& t,
                                        health_clock::time_point now);

/// Total time spent down, the current down period included.
[[nodiscard]] std::chrono::milliseconds downtime(const member_health& h, health_clock::time_point now) noexcept;

/// HAProxy's status column: "UP", "UP 1/3", "DOWN", "DOWN 1/2", or "no check".
[[nodiscard]] std::string status_text(const member_health& h, const check_thresholds& t);

/// HAProxy's LastChk column: "L7OK/200 in 3ms", "L4CON in 0ms", "L7STS/503 in 2ms"; empty
/// before the first check.
[[nodiscard]] std::string last_check_text(const member_health& h);

/// "L4CON", "L4TOUT", "L6TOUT", "L6RSP", "L7TOUT", "L7STS", "L7RSP", "L7OK".
[[nodiscard]] std::string_view to_string(check_code c) noexcept;

/// "unchecked", "up", "going_down", "down", "coming_up".
[[nodiscard]] std::string_view to_string(health_status s) noexcept;

} // namespace patroxy::health
