// GET /metrics: the families, their types, a few exact series, and promtool's verdict.
#include "proxy/stats/render_metrics.hpp"

#include "tests/unit/stats/sample_view.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

using namespace patroxy::proxy::stats;
using namespace std::chrono_literals;

namespace {

/// "# TYPE name type" lines: family name -> type.
std::map<std::string, std::string> families_of(const std::string& text)
{
    std::map<std::string, std::string> families;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("# TYPE ", 0) != 0) continue;
        std::istringstream words(line.substr(7));
        std::string name;
        std::string type;
        words >> name >> type;
        families[name] = type;
    }
    return families;
}

bool has_line(const std::string& text, const std::string& line)
{
    return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

std::string promtool_path()
{
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "/usr/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        const std::filesystem::path candidate = std::filesystem::path(dir) / "promtool";
        if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
    return {};
}

struct run_result {
    int exit_code = -1;
    std::string output;
};

/// Runs `promtool check metrics` on text and collects what it prints.
run_result promtool_check(const std::string& promtool, const std::string& text)
{
    const std::filesystem::path file = std::filesystem::temp_directory_path() /
                                       ("patroxy_metrics_" + std::to_string(::getpid()) + ".txt");
    std::ofstream(file) << text;
    const std::string command = "'" + promtool + "' check metrics < '" + file.string() + "' 2>&1";
    run_result result;
    if (FILE* pipe = ::popen(command.c_str(), "r")) {
        std::array<char, 512> buf{};
        while (const std::size_t n = std::fread(buf.data(), 1, buf.size(), pipe)) result.output.append(buf.data(), n);
        const int status = ::pclose(pipe);
        if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    }
    std::filesystem::remove(file);
    return result;
}

} // namespace

TEST_CASE("metrics: every patroxy family, with its type", "[stats][metrics]")
{
    const std::map<std::string, std::string> expected{
        {"patroxy_build_info", "gauge"},
        {"patroxy_start_time_seconds", "gauge"},
        {"patroxy_snapshot_generation", "gauge"},
        {"patroxy_leader_changes_total", "counter"},
        {"patroxy_cancel_requests_total", "counter"},
        {"patroxy_config_reloads_total", "counter"},
        {"patroxy_config_reload_failures_total", "counter"},
        {"patroxy_config_last_reload_successful", "gauge"},
        {"patroxy_relay_buffers", "gauge"},
        {"patroxy_relay_buffer_size_bytes", "gauge"},
        {"patroxy_stats_tls_handshake_failures_total", "counter"},
        {"patroxy_listener_sessions_current", "gauge"},
        {"patroxy_listener_sessions_max", "gauge"},
        {"patroxy_listener_sessions_limit", "gauge"},
        {"patroxy_listener_sessions_total", "counter"},
        {"patroxy_listener_rejected_total", "counter"},
        {"patroxy_listener_accept_pauses_total", "counter"},
        {"patroxy_listener_queue_current", "gauge"},
        {"patroxy_listener_queued_total", "counter"},
        {"patroxy_listener_queue_wait_seconds", "histogram"},
        {"patroxy_listener_bytes_in_total", "counter"},
        {"patroxy_listener_bytes_out_total", "counter"},
        {"patroxy_listener_eligible_members", "gauge"},
        {"patroxy_listener_info", "gauge"},
        {"patroxy_listener_max_lag_bytes", "gauge"},
        {"patroxy_sessions_killed_total", "counter"},
        {"patroxy_listener_tls_handshakes_total", "counter"},
        {"patroxy_listener_tls_handshake_failures_total", "counter"},
        {"patroxy_server_tls_sessions", "gauge"},
        {"patroxy_server_up", "gauge"},
        {"patroxy_server_admin_state", "gauge"},
        {"patroxy_server_sessions_current", "gauge"},
        {"patroxy_server_sessions_total", "counter"},
        {"patroxy_server_lb_total", "counter"},
        {"patroxy_server_bytes_in_total", "counter"},
        {"patroxy_server_bytes_out_total", "counter"},
        {"patroxy_server_connection_errors_total", "counter"},
        {"patroxy_server_response_errors_total", "counter"},
        {"patroxy_server_check_failures_total", "counter"},
        {"patroxy_server_downs_total", "counter"},
        {"patroxy_server_downtime_seconds_total", "counter"},
        {"patroxy_server_connect_seconds", "histogram"},
        {"patroxy_member_role", "gauge"},
        {"patroxy_member_healthy", "gauge"},
        {"patroxy_member_timeline", "gauge"},
        {"patroxy_member_lag_bytes", "gauge"},
        {"patroxy_member_check_duration_seconds", "histogram"},
    };
    const std::string text = render_metrics(test::sample_view());
    CHECK(families_of(text) == expected);
    for (const auto& [name, type] : expected) {
        INFO(name);
        CHECK(text.find("# HELP " + name + " ") != std::string::npos);
    }
}

TEST_CASE("metrics: process-wide series", "[stats][metrics]")
{
    const std::string text = render_metrics(test::sample_view());
    CHECK(has_line(text, R"(patroxy_build_info{version="0.1.0"} 1)"));
    CHECK(has_line(text, "patroxy_start_time_seconds 1795335003")); // now - uptime
    CHECK(has_line(text, "patroxy_snapshot_generation 42"));
    CHECK(has_line(text, "patroxy_leader_changes_total 1"));
    CHECK(has_line(text, R"(patroxy_cancel_requests_total{result="forwarded"} 7)"));
    CHECK(has_line(text, R"(patroxy_cancel_requests_total{result="unknown_key"} 2)"));
    CHECK(has_line(text, R"(patroxy_cancel_requests_total{result="failed"} 1)"));
    CHECK(has_line(text, "patroxy_config_reloads_total 1"));
    CHECK(has_line(text, "patroxy_config_reload_failures_total 2"));
    CHECK(has_line(text, "patroxy_config_last_reload_successful 1"));
    CHECK(has_line(text, R"(patroxy_relay_buffers{state="in_use"} 6)"));
    CHECK(has_line(text, R"(patroxy_relay_buffers{state="free"} 58)"));
    CHECK(has_line(text, "patroxy_relay_buffer_size_bytes 32768"));
}

TEST_CASE("metrics: a refused reload reads 0 until one is applied", "[stats][metrics]")
{
    stats_view v = test::sample_view();
    v.last_reload_ok = false;
    CHECK(has_line(render_metrics(v), "patroxy_config_last_reload_successful 0"));
}

TEST_CASE("metrics: the HTTPS stats listener's failed handshakes, by reason", "[stats][metrics]")
{
    const std::string text = render_metrics(test::sample_view());
    CHECK(has_line(text, R"(patroxy_stats_tls_handshake_failures_total{reason="timeout"} 3)"));
    CHECK(has_line(text, R"(patroxy_stats_tls_handshake_failures_total{reason="closed"} 5)"));
    CHECK(has_line(text, R"(patroxy_stats_tls_handshake_failures_total{reason="no_client_certificate"} 2)"));

    stats_view plain = test::sample_view();
    plain.stats_listener.tls = false;
    CHECK(render_metrics(plain).find("patroxy_stats_tls") == std::string::npos);
}

TEST_CASE("metrics: listener series", "[stats][metrics]")
{
    const std::string text = render_metrics(test::sample_view());
    CHECK(has_line(text, R"(patroxy_listener_sessions_current{listener="primary"} 3)"));
    CHECK(has_line(text, R"(patroxy_listener_sessions_max{listener="replicas"} 40)"));
    CHECK(has_line(text, R"(patroxy_listener_sessions_limit{listener="primary"} 100)"));
    CHECK(text.find(R"(patroxy_listener_sessions_limit{listener="replicas"})") == std::string::npos); // unlimited
    CHECK(has_line(text, R"(patroxy_listener_sessions_total{listener="primary"} 1520)"));
    CHECK(has_line(text, R"(patroxy_listener_rejected_total{listener="primary",reason="limit"} 0)"));
    CHECK(has_line(text, R"(patroxy_listener_rejected_total{listener="primary",reason="startup"} 2)"));
    CHECK(has_line(text, R"(patroxy_listener_rejected_total{listener="primary",reason="no_server"} 1)"));
    CHECK(has_line(text, R"(patroxy_listener_queue_current{listener="primary"} 0)"));
    CHECK(has_line(text, R"(patroxy_listener_queued_total{listener="primary"} 12)"));
    CHECK(has_line(text, R"(patroxy_listener_accept_pauses_total{listener="primary"} 3)"));
    CHECK(has_line(text, R"(patroxy_listener_accept_pauses_total{listener="replicas"} 0)"));
    CHECK(has_line(text, R"(patroxy_listener_bytes_out_total{listener="primary"} 987654321)"));
    CHECK(has_line(text, R"(patroxy_listener_eligible_members{listener="primary"} 1)"));
    CHECK(has_line(text, R"(patroxy_listener_info{listener="primary",role="primary"} 1)"));
    CHECK(has_line(text, R"(patroxy_listener_info{listener="replicas",role="replica"} 1)"));
    CHECK(has_line(text, R"(patroxy_listener_max_lag_bytes{listener="replicas"} 1048576)"));
    CHECK(text.find(R"(patroxy_listener_max_lag_bytes{listener="primary"})") == std::string::npos); // unbounded
    CHECK(has_line(text, R"(patroxy_sessions_killed_total{listener="primary",reason="role_lost"} 2)"));
    CHECK(has_line(text, R"(patroxy_sessions_killed_total{listener="primary",reason="member_down"} 1)"));
    CHECK(has_line(text, R"(patroxy_sessions_killed_total{listener="replicas",reason="over_lag"} 1)"));
    CHECK(has_line(text, R"(patroxy_sessions_killed_total{listener="replicas",reason="maint"} 0)"));
}

TEST_CASE("metrics: histograms from per-bucket counts come out cumulative", "[stats][metrics]")
{
    const std::string text = render_metrics(test::sample_view());
    // queue_wait of primary: bounds 0.1, 1, 10; counts 7, 3, 2, 0; sum 4.25
    CHECK(has_line(text, R"(patroxy_listener_queue_wait_seconds_bucket{listener="primary",le="0.1"} 7)"));
    CHECK(has_line(text, R"(patroxy_listener_queue_wait_seconds_bucket{listener="primary",le="1"} 10)"));
    CHECK(has_line(text, R"(patroxy_listener_queue_wait_seconds_bucket{listener="primary",le="10"} 12)"));
    CHECK(has_line(text, R"(patroxy_listener_queue_wait_seconds_bucket{listener="primary",le="+Inf"} 12)"));
    CHECK(has_line(text, R"(patroxy_listener_queue_wait_seconds_count{listener="primary"} 12)"));
    CHECK(has_line(text, R"(patroxy_listener_queue_wait_seconds_sum{listener="primary"} 4.25)"));
    // check_duration of node2: 80, 15, 3, 2 over 0.005, 0.05, 0.5
    CHECK(has_line(text, R"(patroxy_member_check_duration_seconds_bucket{member="node2",le="0.5"} 98)"));
    CHECK(has_line(text, R"(patroxy_member_check_duration_seconds_bucket{member="node2",le="+Inf"} 100)"));
    CHECK(has_line(text, R"(patroxy_server_connect_seconds_count{listener="replicas",member="node2"} 299)"));
}

TEST_CASE("metrics: per listener and member", "[stats][metrics]")
{
    const std::string text = render_metrics(test::sample_view());
    CHECK(has_line(text, R"(patroxy_server_up{listener="primary",member="node1"} 1)"));
    CHECK(has_line(text, R"(patroxy_server_up{listener="primary",member="node2"} 0)"));
    CHECK(has_line(text, R"(patroxy_server_admin_state{listener="primary",member="node3",state="maint"} 1)"));
    CHECK(has_line(text, R"(patroxy_server_admin_state{listener="primary",member="node3",state="ready"} 0)"));
    CHECK(has_line(text, R"(patroxy_server_admin_state{listener="primary",member="node3",state="drain"} 0)"));
    CHECK(has_line(text, R"(patroxy_server_admin_state{listener="replicas",member="node3",state="drain"} 1)"));
    CHECK(has_line(text, R"(patroxy_server_sessions_current{listener="replicas",member="node2"} 5)"));
    CHECK(has_line(text, R"(patroxy_server_sessions_total{listener="primary",member="node1"} 1500)"));
    CHECK(has_line(text, R"(patroxy_server_lb_total{listener="replicas",member="node2"} 299)"));
    CHECK(has_line(text, R"(patroxy_server_bytes_in_total{listener="primary",member="node1"} 5200000)"));
    CHECK(has_line(text, R"(patroxy_server_bytes_out_total{listener="primary",member="node1"} 987000000)"));
    CHECK(has_line(text, R"(patroxy_server_connection_errors_total{listener="replicas",member="node3"} 2)"));
    CHECK(has_line(text, R"(patroxy_server_response_errors_total{listener="primary",member="node2"} 1)"));
    CHECK(has_line(text, R"(patroxy_server_check_failures_total{listener="primary",member="node3"} 9)"));
    CHECK(has_line(text, R"(patroxy_server_downs_total{listener="primary",member="node2"} 1)"));
    CHECK(has_line(text, R"(patroxy_server_downtime_seconds_total{listener="primary",member="node2"} 7390)"));
}

TEST_CASE("metrics: per member, unknown values left out", "[stats][metrics]")
{
    const std::string text = render_metrics(test::sample_view());
    CHECK(has_line(text, R"(patroxy_member_role{member="node1",role="primary"} 1)"));
    CHECK(has_line(text, R"(patroxy_member_role{member="node2",role="sync_standby"} 1)"));
    CHECK(has_line(text, R"(patroxy_member_role{member="node3",role="replica"} 1)"));
    CHECK(has_line(text, R"(patroxy_member_healthy{member="node1"} 1)"));
    CHECK(has_line(text, R"(patroxy_member_healthy{member="node2"} 1)")); // UP 1/3 is still up
    CHECK(has_line(text, R"(patroxy_member_healthy{member="node3"} 0)"));
    CHECK(has_line(text, R"(patroxy_member_timeline{member="node1"} 3)"));
    CHECK(text.find(R"(patroxy_member_timeline{member="node3"})") == std::string::npos);
    CHECK(has_line(text, R"(patroxy_member_lag_bytes{member="node2"} 1234567)"));
    CHECK(text.find(R"(patroxy_member_lag_bytes{member="node1"})") == std::string::npos);
    CHECK(text.find(R"(patroxy_member_lag_bytes{member="node3"})") == std::string::npos);
}

TEST_CASE("metrics: a histogram whose counts do not fit its bounds is fitted, not thrown on", "[stats][metrics]")
{
    stats_view v = test::sample_view();
    v.cluster[0].check_duration = test::sample_histogram({0.1}, {1, 2, 3}, 1.0); // one count too many
    v.cluster[1].check_duration = test::sample_histogram({0.1, 1}, {}, 0);        // no counts at all
    v.cluster[2].check_duration = test::sample_histogram({1, 0.1}, {1, 1, 1}, 1); // unsorted: left out
    std::string text;
    REQUIRE_NOTHROW(text = render_metrics(v));
    CHECK(has_line(text, R"(patroxy_member_check_duration_seconds_bucket{member="node1",le="0.1"} 1)"));
    CHECK(has_line(text, R"(patroxy_member_check_duration_seconds_bucket{member="node1",le="+Inf"} 6)"));
    CHECK(has_line(text, R"(patroxy_member_check_duration_seconds_count{member="node2"} 0)"));
    CHECK(text.find(R"(patroxy_member_check_duration_seconds_count{member="node3"})") == std::string::npos);
}

TEST_CASE("metrics pass promtool check metrics without lint problems", "[stats][metrics][promtool]")
{
    const std::string promtool = promtool_path();
    if (promtool.empty()) {
        WARN("promtool is not on PATH (Debian package prometheus): check skipped");
        return;
    }
    stats_view https_without_failures;
    https_without_failures.stats_listener.tls = true; // a family with no series yet
    for (const stats_view& v : {test::sample_view(), stats_view{}, https_without_failures}) {
        const run_result result = promtool_check(promtool, render_metrics(v));
        INFO("promtool said: " << result.output);
        CHECK(result.exit_code == 0);
        CHECK(result.output.empty());
    }
}

TEST_CASE("metrics: limit rejections by reason, backup kills and a member's max_connections", "[stats][metrics]")
{
    const std::string text = render_metrics(test::sample_view_with_limits());
    CHECK(has_line(text, R"(patroxy_listener_rejected_total{listener="primary",reason="global_maxconn"} 3)"));
    CHECK(has_line(text, R"(patroxy_listener_rejected_total{listener="primary",reason="member_maxconn"} 4)"));
    CHECK(has_line(text, R"(patroxy_sessions_killed_total{listener="primary",reason="backup_replaced"} 5)"));
    CHECK(has_line(text, R"(patroxy_server_sessions_limit{listener="primary",member="node1"} 20)"));
    CHECK(text.find(R"(patroxy_server_sessions_limit{listener="primary",member="node2"})") == std::string::npos);
}

TEST_CASE("metrics: stats.hide_version leaves patroxy_build_info out", "[stats][metrics]")
{
    CHECK(render_metrics(test::sample_view()).find("patroxy_build_info{") != std::string::npos);
    stats_view v = test::sample_view();
    v.version.clear();
    CHECK(render_metrics(v).find("patroxy_build_info") == std::string::npos);
}
