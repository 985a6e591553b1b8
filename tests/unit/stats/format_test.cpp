// Human units and the readings of status strings shared by the stats renderers.
#include "proxy/stats/format.hpp"

#include <catch2/catch.hpp>

#include <limits>

using namespace patroxy::proxy::stats;
using namespace std::chrono_literals;

TEST_CASE("bytes: plain below 1 kB, decimal units with one decimal place above", "[stats][format]")
{
    CHECK(format_bytes(0) == "0 B");
    CHECK(format_bytes(512) == "512 B");
    CHECK(format_bytes(999) == "999 B");
    CHECK(format_bytes(1000) == "1.0 kB");
    CHECK(format_bytes(1234) == "1.2 kB");
    CHECK(format_bytes(3'400'000) == "3.4 MB");
    CHECK(format_bytes(1'000'000'000) == "1.0 GB");
    CHECK(format_bytes(987'654'321) == "987.7 MB");
}

TEST_CASE("bytes: a value that rounds to 1000 moves up a unit", "[stats][format]")
{
    CHECK(format_bytes(999'949) == "999.9 kB");
    CHECK(format_bytes(999'950) == "1.0 MB");
    CHECK(format_bytes(999'999'999) == "1.0 GB");
    CHECK(format_bytes(std::numeric_limits<std::uint64_t>::max()) == "18.4 EB");
}

TEST_CASE("durations: HAProxy's two-unit human time", "[stats][format]")
{
    CHECK(format_duration(0s) == "0s");
    CHECK(format_duration(45s) == "45s");
    CHECK(format_duration(59s) == "59s");
    CHECK(format_duration(60s) == "1m00s");
    CHECK(format_duration(195s) == "3m15s");
    CHECK(format_duration(3599s) == "59m59s");
    CHECK(format_duration(3600s) == "1h00m");
    CHECK(format_duration(2h + 5min + 59s) == "2h05m");
    CHECK(format_duration(86399s) == "23h59m");
    CHECK(format_duration(24h) == "1d00h");
    CHECK(format_duration(4 * 24h + 3h + 59min) == "4d03h");
    CHECK(format_duration(-5s) == "0s");
}

TEST_CASE("timeouts show milliseconds only below a second", "[stats][format]")
{
    CHECK(format_timeout(0ms) == "0s");
    CHECK(format_timeout(250ms) == "250ms");
    CHECK(format_timeout(1000ms) == "1s");
    CHECK(format_timeout(30000ms) == "30s");
    CHECK(format_timeout(90500ms) == "1m30s");
}

TEST_CASE("moments in UTC, whole seconds", "[stats][format]")
{
    const std::chrono::system_clock::time_point t{std::chrono::seconds{1795342503} + 999ms};
    CHECK(format_utc(t) == "2026-11-22 10:15:03");
    CHECK(format_rfc3339(t) == "2026-11-22T10:15:03Z");
    CHECK(format_utc(std::chrono::system_clock::time_point{}) == "1970-01-01 00:00:00");
    CHECK(unix_seconds(t) == Approx(1795342503.999));
}

TEST_CASE("HTML escaping covers element text and quoted attributes", "[stats][format]")
{
    CHECK(html_escape("") == "");
    CHECK(html_escape("node1") == "node1");
    CHECK(html_escape(R"(<a href="x">'&'</a>)") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    CHECK(html_escape("&amp;") == "&amp;amp;");
}

TEST_CASE("status strings read as HAProxy's legend states", "[stats][format]")
{
    CHECK(read_status("UP") == health_reading::up);
    CHECK(read_status("UP 1/3") == health_reading::going_down);
    CHECK(read_status("DOWN") == health_reading::down);
    CHECK(read_status("DOWN 1/2") == health_reading::going_up);
    CHECK(read_status("no check") == health_reading::no_check);
    CHECK(read_status("MAINT") == health_reading::maint);
    CHECK(read_status("DRAIN") == health_reading::drain);
    CHECK(read_status("") == health_reading::down);
    CHECK(read_status("UPPER") == health_reading::down);
    SECTION("the operator's state wins over the checks")
    {
        CHECK(read_status("UP", admin_state::maint) == health_reading::maint);
        CHECK(read_status("DOWN", admin_state::drain) == health_reading::drain);
        CHECK(read_status("UP", admin_state::ready) == health_reading::up);
    }
    CHECK(reads_as_up(health_reading::up));
    CHECK(reads_as_up(health_reading::going_down));
    CHECK(reads_as_up(health_reading::drain));
    CHECK_FALSE(reads_as_up(health_reading::going_up));
    CHECK_FALSE(reads_as_up(health_reading::no_check));
    CHECK_FALSE(reads_as_up(health_reading::maint));
}

TEST_CASE("LastChk splits into HAProxy's check_status, check_code, check_duration", "[stats][format]")
{
    const check_parts ok = split_last_check("L7OK/200 in 3ms");
    CHECK(ok.status == "L7OK");
    CHECK(ok.code == "200");
    CHECK(ok.duration_ms == std::optional<std::uint64_t>{3});

    const check_parts refused = split_last_check("L4CON in 0ms");
    CHECK(refused.status == "L4CON");
    CHECK(refused.code.empty());
    CHECK(refused.duration_ms == std::optional<std::uint64_t>{0});

    const check_parts none = split_last_check("");
    CHECK(none.status.empty());
    CHECK(none.code.empty());
    CHECK_FALSE(none.duration_ms);

    const check_parts odd = split_last_check("L7STS/503 in soon");
    CHECK(odd.status == "L7STS");
    CHECK(odd.code == "503");
    CHECK_FALSE(odd.duration_ms);
}

TEST_CASE("patronictl's role words become one label each", "[stats][format]")
{
    CHECK(member_role_label("Leader") == "primary");
    CHECK(member_role_label("Replica") == "replica");
    CHECK(member_role_label("Sync Standby") == "sync_standby");
    CHECK(member_role_label("Standby Leader") == "standby_leader");
    CHECK(member_role_label("") == "unknown");
}

TEST_CASE("the BACKEND summary sums what adds up", "[stats][format]")
{
    listener_row l;
    server_row a;
    a.sessions_cur = 2;
    a.sessions_total = 10;
    a.lb_total = 9;
    a.bytes_in = 100;
    a.bytes_out = 1000;
    a.errors_conn = 1;
    a.killed = 4;
    a.weight = 3;
    a.active = true;
    a.last_session = 30s;
    server_row b;
    b.sessions_total = 5;
    b.lb_total = 5;
    b.errors_resp = 2;
    b.weight = 2;
    b.backup = true;
    b.active = true;
    b.last_session = 7s;
    server_row c;
    c.weight = 1;
    l.servers = {a, b, c};

    const backend_totals t = sum_servers(l);
    CHECK(t.sessions_cur == 2);
    CHECK(t.sessions_total == 15);
    CHECK(t.lb_total == 14);
    CHECK(t.bytes_in == 100);
    CHECK(t.bytes_out == 1000);
    CHECK(t.errors_conn == 1);
    CHECK(t.errors_resp == 2);
    CHECK(t.killed == 4);
    CHECK(t.weight == 5);
    CHECK(t.user_weight == 6);
    CHECK(t.active == 1);
    CHECK(t.backup == 1);
    CHECK(t.last_session == std::optional<std::chrono::seconds>{7s});
    CHECK(std::string(t.status()) == "UP");

    l.servers = {c};
    CHECK(std::string(sum_servers(l).status()) == "DOWN");
    CHECK_FALSE(sum_servers(l).last_session);
}
