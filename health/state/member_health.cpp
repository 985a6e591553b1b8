// The rise/fall state machine. Explicit consecutive counters instead of HAProxy's single
// `health` counter: the behaviour is the same (a success while "UP 1/3" restores UP at once, a
// failure while "DOWN 1/2" restarts the climb), and the counters are what the stats page shows.
#include "health/state/member_health.hpp"

#include <algorithm>

namespace patroxy::health {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

/// Moves `h` to `to` at `now`, keeping the up/down bookkeeping. Only up <-> down moves are
/// changes; "UP 1/3" is still up and "DOWN 1/2" still down.
void move_to(member_health& h, health_status to, health_clock::time_point now)
{
    const bool was_down = is_down(h.status);
    const bool now_down = is_down(to);
    const bool was_up = is_up(h.status);
    const bool now_up = is_up(to);
    if (was_down && !now_down) h.past_downtime += duration_cast<milliseconds>(now - h.last_change);
    if (now_down && !was_down) ++h.times_down;
    if ((now_down && !was_down) || (now_up && !was_up)) h.last_change = now;
    h.status = to;
}

health_status after_success(const member_health& h, unsigned rise)
{
    if (!is_down(h.status)) return health_status::up; // unchecked, up, going_down
    return h.consecutive_successes >= rise ? health_status::up : health_status::coming_up;
}

health_status after_failure(const member_health& h, unsigned fall)
{
    if (!is_up(h.status)) return health_status::down; // unchecked, down, coming_up
    return h.consecutive_failures >= fall ? health_status::down : health_status::going_down;
}

} // namespace

check_thresholds thresholds_from(const config::health_settings& h) noexcept
{
    return {.rise = h.rise, .fall = h.fall};
}

member_health next_health(const member_health& prev, const probe_result& r, const check_thresholds& t,
                          health_clock::time_point now)
{
    member_health h = prev;
    h.last_check = r;
    h.last_check_at = now;
    ++h.checks;
    if (is_success(r.code)) {
        ++h.consecutive_successes;
        h.consecutive_failures = 0;
        move_to(h, after_success(h, std::max(t.rise, 1u)), now);
    } else {
        ++h.failed_checks;
        ++h.consecutive_failures;
        h.consecutive_successes = 0;
        move_to(h, after_failure(h, std::max(t.fall, 1u)), now);
    }
    return h;
}

milliseconds downtime(const member_health& h, health_clock::time_point now) noexcept
{
    if (!is_down(h.status)) return h.past_downtime;
    return h.past_downtime + duration_cast<milliseconds>(now - h.last_change);
}

std::string status_text(const member_health& h, const check_thresholds& t)
{
    switch (h.status) {
    case health_status::unchecked: return "no check";
    case health_status::up: return "UP";
    case health_status::down: return "DOWN";
    case health_status::going_down:
        return "UP " + std::to_string(h.consecutive_failures) + "/" + std::to_string(std::max(t.fall, 1u));
    case health_status::coming_up:
        return "DOWN " + std::to_string(h.consecutive_successes) + "/" + std::to_string(std::max(t.rise, 1u));
    }
    return "?";
}

std::string last_check_text(const member_health& h)
{
    if (!h.last_check) return {};
    const probe_result& r = *h.last_check;
    // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict, a false positive) on the
    // equivalent chain of operator+.
    std::string text(to_string(r.code));
    if (r.http_status) text.append("/").append(std::to_string(*r.http_status));
    text.append(" in ").append(std::to_string(r.duration.count())).append("ms");
    return text;
}

std::string_view to_string(check_code c) noexcept
{
    switch (c) {
    case check_code::l4con: return "L4CON";
    case check_code::l4tout: return "L4TOUT";
    case check_code::l6tout: return "L6TOUT";
    case check_code::l6rsp: return "L6RSP";
    case check_code::l7tout: return "L7TOUT";
    case check_code::l7sts: return "L7STS";
    case check_code::l7rsp: return "L7RSP";
    case check_code::l7ok: return "L7OK";
    }
    return "?";
}

std::string_view to_string(health_status s) noexcept
{
    switch (s) {
    case health_status::unchecked: return "unchecked";
    case health_status::up: return "up";
    case health_status::going_down: return "going_down";
    case health_status::down: return "down";
    case health_status::coming_up: return "coming_up";
    }
    return "?";
}

} // namespace patroxy::health
