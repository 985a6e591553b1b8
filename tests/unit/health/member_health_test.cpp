// The rise/fall state machine: transitions for every status, the first check, and the facts the
// stats page shows (HAProxy's Status, LastChk, Chk, Dwn, Dwntme, last change).
#include "health/state/member_health.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace patroxy::health;
using namespace std::chrono_literals;

namespace {

const check_thresholds rise2_fall3{.rise = 2, .fall = 3};
const health_clock::time_point t0{std::chrono::seconds(1000)};

probe_result ok() { return {.code = check_code::l7ok, .http_status = 200u, .duration = 3ms, .detail = {}}; }
probe_result refused() { return {.code = check_code::l4con, .http_status = {}, .duration = 0ms, .detail = "connection refused"}; }

/// Feeds `results` ('+' success, '-' failure) one second apart from t0.
member_health run(const std::string& results, const check_thresholds& t = rise2_fall3, member_health h = {})
{
    auto now = t0;
    for (const char c : results) {
        h = next_health(h, c == '+' ? ok() : refused(), t, now);
        now += 1s;
    }
    return h;
}

} // namespace

TEST_CASE("transitions: rise 2, fall 3", "[health][state]")
{
    struct row {
        const char* checks;
        health_status expected;
        const char* status_text;
    };
    const auto [checks, expected, text] = GENERATE(values<row>({
        {"", health_status::unchecked, "no check"},
        {"+", health_status::up, "UP"},          // first success: up at once
        {"-", health_status::down, "DOWN"},      // first failure: down at once
        {"+-", health_status::going_down, "UP 1/3"},
        {"+--", health_status::going_down, "UP 2/3"},
        {"+---", health_status::down, "DOWN"},   // fall 3
        {"+--+", health_status::up, "UP"},      // a success while going down restores UP at once
        {"+--+--", health_status::going_down, "UP 2/3"}, // failures must be consecutive
        {"-+", health_status::coming_up, "DOWN 1/2"},
        {"-++", health_status::up, "UP"},       // rise 2
        {"-+-+", health_status::coming_up, "DOWN 1/2"}, // successes must be consecutive
        {"+---++", health_status::up, "UP"},
        {"+-----", health_status::down, "DOWN"},
        {"+++", health_status::up, "UP"},
    }));
    INFO("checks: " << checks);
    const auto h = run(checks);
    CHECK(h.status == expected);
    CHECK(status_text(h, rise2_fall3) == text);
}

TEST_CASE("rise 1 and fall 1 act on every check, 0 counts as 1", "[health][state]")
{
    for (const auto t : {check_thresholds{.rise = 1, .fall = 1}, check_thresholds{.rise = 0, .fall = 0}}) {
        CHECK(run("+-", t).status == health_status::down);
        CHECK(run("+-+", t).status == health_status::up);
    }
}

TEST_CASE("routable means up or going down", "[health][state]")
{
    CHECK(is_up(health_status::up));
    CHECK(is_up(health_status::going_down));
    CHECK_FALSE(is_up(health_status::coming_up));
    CHECK_FALSE(is_up(health_status::down));
    CHECK_FALSE(is_up(health_status::unchecked));
    CHECK(is_down(health_status::coming_up));
    CHECK_FALSE(is_down(health_status::unchecked));
}

TEST_CASE("only L7OK is a success", "[health][state]")
{
    for (const auto code : {check_code::l4con, check_code::l4tout, check_code::l6tout, check_code::l6rsp, check_code::l7tout,
                            check_code::l7sts, check_code::l7rsp}) {
        INFO(to_string(code));
        CHECK_FALSE(is_success(code));
        const auto h = next_health(run("+"), probe_result{.code = code, .http_status = {}, .duration = 1ms, .detail = {}},
                                   rise2_fall3, t0 + 5s);
        CHECK(h.status == health_status::going_down);
    }
    CHECK(is_success(check_code::l7ok));
}

TEST_CASE("counters: checks, failed checks, consecutive runs, times down", "[health][state]")
{
    const auto h = run("+---++-");
    CHECK(h.checks == 7);
    CHECK(h.failed_checks == 4);
    CHECK(h.consecutive_failures == 1);
    CHECK(h.consecutive_successes == 0);
    CHECK(h.times_down == 1);
    CHECK(run("-").times_down == 1); // down at the first check counts, as HAProxy's Dwn does
    CHECK(run("-----").times_down == 1);
    CHECK(run("+---+++---").times_down == 2);
}

TEST_CASE("last change and downtime", "[health][state]")
{
    // Checks at t0+0s .. t0+5s: up at 0, down at 3 (third failure), up at 5 (second success).
    const auto h = run("+---++");
    CHECK(h.last_change == t0 + 5s);
    CHECK(h.past_downtime == 2s);
    CHECK(downtime(h, t0 + 100s) == 2s); // up now: no running downtime

    const auto d = run("+---"); // down since t0+3s
    CHECK(d.last_change == t0 + 3s);
    CHECK(d.past_downtime == 0ms);
    CHECK(downtime(d, t0 + 10s) == 7s);

    const auto going = run("+--"); // going down is no change
    CHECK(going.last_change == t0);

    const auto coming = run("+----+"); // coming up is no change either; still down
    CHECK(coming.last_change == t0 + 3s);
    CHECK(downtime(coming, t0 + 6s) == 3s);
}

TEST_CASE("last check facts for the stats page", "[health][state]")
{
    CHECK(last_check_text(member_health{}).empty());
    CHECK(last_check_text(run("+")) == "L7OK/200 in 3ms");
    CHECK(last_check_text(run("+-")) == "L4CON in 0ms");

    const auto h = next_health(run("+"), probe_result{.code = check_code::l7sts, .http_status = 500u, .duration = 12ms,
                                                      .detail = "HTTP 500"},
                               rise2_fall3, t0 + 7s);
    CHECK(last_check_text(h) == "L7STS/500 in 12ms");
    CHECK(h.last_check_at == t0 + 7s);
    REQUIRE(h.last_check);
    CHECK(h.last_check->detail == "HTTP 500");

    const auto timeout = next_health({}, probe_result{.code = check_code::l4tout, .http_status = {}, .duration = 1000ms,
                                                      .detail = {}},
                                     rise2_fall3, t0);
    CHECK(last_check_text(timeout) == "L4TOUT in 1000ms");
    CHECK(to_string(check_code::l7rsp) == "L7RSP");
    CHECK(to_string(check_code::l7tout) == "L7TOUT");
    CHECK(to_string(check_code::l6tout) == "L6TOUT");
    CHECK(to_string(check_code::l6rsp) == "L6RSP");
    CHECK(to_string(health_status::going_down) == "going_down");
}

TEST_CASE("thresholds come from the health settings", "[health][state]")
{
    patroxy::config::health_settings s;
    s.rise = 5;
    s.fall = 7;
    const auto t = thresholds_from(s);
    CHECK(t.rise == 5);
    CHECK(t.fall == 7);
}
