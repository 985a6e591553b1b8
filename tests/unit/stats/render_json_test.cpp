// GET /stats.json: the sample view rendered in full, and the edge cases of its encoding.
#include "proxy/stats/render_json.hpp"

#include "tests/unit/stats/sample_view.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace patroxy::proxy::stats;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// Written by hand from sample_view.hpp, field by field.
constexpr const char* expected_sample = R"json({
  "version": "0.1.0", "pid": 4242, "now": "2026-11-22T10:15:03Z", "uptime_s": 7500, "refresh_s": 10,
  "admin_enabled": true, "scope": "demo", "leader": "node1", "primary": "node1", "generation": 42,
  "incidents": ["node3: GET /patroni refused <127.0.0.1:8010> & no SQL check"],
  "cluster": [
    {"name": "node1", "host": "127.0.0.1:5441", "role": "Leader", "state": "running", "timeline": 3,
     "lag_bytes": null, "check_status": "UP", "last_check": "L7OK/200 in 3ms",
     "check_duration": {"bounds": [0.005, 0.05, 0.5], "counts": [90, 8, 2, 0], "sum_seconds": 0.45}},
    {"name": "node2", "host": "127.0.0.1:5442", "role": "Sync Standby", "state": "streaming", "timeline": 3,
     "lag_bytes": 1234567, "check_status": "UP 1/3", "last_check": "L7TOUT in 1001ms",
     "check_duration": {"bounds": [0.005, 0.05, 0.5], "counts": [80, 15, 3, 2], "sum_seconds": 3.1}},
    {"name": "node3", "host": "127.0.0.1:5443", "role": "Replica", "state": "stopped", "timeline": null,
     "lag_bytes": null, "check_status": "DOWN", "last_check": "L4CON in 0ms",
     "check_duration": {"bounds": [0.005, 0.05, 0.5], "counts": [50, 0, 0, 0], "sum_seconds": 0.05}}
  ],
  "listeners": [
    {"name": "primary", "bind": "127.0.0.1:5000", "routes": "role primary", "balance": "roundrobin",
     "queue_cur": 0, "queue_max": 4, "queue_timeout_ms": 30000, "queued_total": 12,
     "sessions_cur": 3, "sessions_max": 17, "sessions_limit": 100, "sessions_total": 1520,
     "rate_cur": 2, "rate_max": 31, "bytes_in": 5242880, "bytes_out": 987654321,
     "denied_limit": 0, "denied_global_limit": 0, "denied_member_limit": 0, "errors_startup": 2, "denied_no_server": 1, "denied_plaintext": 4, "denied_direct_tls": 0, "accept_pauses": 3,
     "tls": "terminate", "server_tls": "verify-full",
     "tls_client": {"active": true, "handshakes": 1510,
                    "failures": {"timeout": 1, "closed": 0, "protocol_version": 0, "no_shared_cipher": 0, "no_client_certificate": 2, "certificate_rejected": 0, "peer_rejected": 0, "no_alpn": 0, "not_tls": 0, "other": 0}},
     "tls_server": {"active": true, "handshakes": 1500,
                    "failures": {"timeout": 0, "closed": 0, "protocol_version": 0, "no_shared_cipher": 0, "no_client_certificate": 0, "certificate_rejected": 1, "peer_rejected": 0, "no_alpn": 0, "not_tls": 0, "other": 0}},
     "killed": {"role_lost": 2, "member_down": 1, "over_lag": 0, "maint": 0, "backup_replaced": 0},
     "status": "OPEN", "empty_for_s": null,
     "queue_wait": {"bounds": [0.1, 1, 10], "counts": [7, 3, 2, 0], "sum_seconds": 4.25},
     "servers": [
       {"name": "node1", "address": "127.0.0.1:5441", "sessions_cur": 3, "sessions_max": 17, "sessions_limit": 0,
        "sessions_total": 1500, "lb_total": 1500, "last_session_s": 2, "rate_cur": 2, "rate_max": 31,
        "bytes_in": 5200000, "bytes_out": 987000000, "errors_conn": 1, "errors_resp": 0, "killed": 0,
        "tls_by_patroxy": 3, "tls_by_client": 0, "status": "UP", "last_check": "L7OK/200 in 3ms", "weight": 1, "active": true, "backup": false,
        "checks_failed": 0, "downs": 0, "downtime_s": 0, "last_change_s": 7380, "admin": "ready",
        "role": "primary", "state": "running", "timeline": 3, "lag_bytes": null,
        "connect_time": {"bounds": [0.001, 0.01, 0.1], "counts": [1400, 95, 5, 0], "sum_seconds": 2.5}},
       {"name": "node2", "address": "127.0.0.1:5442", "sessions_cur": 0, "sessions_max": 9, "sessions_limit": 0,
        "sessions_total": 20, "lb_total": 20, "last_session_s": 7400, "rate_cur": 0, "rate_max": 5,
        "bytes_in": 42880, "bytes_out": 654321, "errors_conn": 0, "errors_resp": 1, "killed": 3,
        "tls_by_patroxy": 0, "tls_by_client": 0, "status": "DOWN", "last_check": "L7TOUT in 1001ms", "weight": 1, "active": false, "backup": false,
        "checks_failed": 4, "downs": 1, "downtime_s": 7390, "last_change_s": 7390, "admin": "ready",
        "role": "replica", "state": "streaming", "timeline": 3, "lag_bytes": 1234567,
        "connect_time": {"bounds": [0.001, 0.01, 0.1], "counts": [18, 2, 0, 0], "sum_seconds": 0.03}},
       {"name": "node3", "address": "127.0.0.1:5443", "sessions_cur": 0, "sessions_max": 0, "sessions_limit": 0,
        "sessions_total": 0, "lb_total": 0, "last_session_s": null, "rate_cur": 0, "rate_max": 0,
        "bytes_in": 0, "bytes_out": 0, "errors_conn": 0, "errors_resp": 0, "killed": 0,
        "tls_by_patroxy": 0, "tls_by_client": 0, "status": "MAINT", "last_check": "L4CON in 0ms", "weight": 1, "active": false, "backup": false,
        "checks_failed": 9, "downs": 2, "downtime_s": 600, "last_change_s": 300, "admin": "maint",
        "role": "", "state": "", "timeline": null, "lag_bytes": null,
        "connect_time": {"bounds": [0.001, 0.01, 0.1], "counts": [0, 0, 0, 0], "sum_seconds": 0}}
     ]},
    {"name": "replicas", "bind": "127.0.0.1:5001", "routes": "role replica, max_lag 1MB", "balance": "leastconn",
     "queue_cur": 0, "queue_max": 0, "queue_timeout_ms": 0, "queued_total": 0,
     "sessions_cur": 5, "sessions_max": 40, "sessions_limit": 0, "sessions_total": 300,
     "rate_cur": 1, "rate_max": 12, "bytes_in": 1000000, "bytes_out": 50000000,
     "denied_limit": 0, "denied_global_limit": 0, "denied_member_limit": 0, "errors_startup": 0, "denied_no_server": 0, "denied_plaintext": 0, "denied_direct_tls": 1, "accept_pauses": 0,
     "tls": "passthrough", "server_tls": "disable",
     "tls_client": {"active": false, "handshakes": 0, "failures": {}},
     "tls_server": {"active": false, "handshakes": 0, "failures": {}},
     "killed": {"role_lost": 0, "member_down": 0, "over_lag": 1, "maint": 0, "backup_replaced": 0},
     "status": "OPEN", "empty_for_s": null,
     "queue_wait": {"bounds": [0.1, 1, 10], "counts": [0, 0, 0, 0], "sum_seconds": 0},
     "servers": [
       {"name": "node1", "address": "127.0.0.1:5441", "sessions_cur": 0, "sessions_max": 0, "sessions_limit": 0,
        "sessions_total": 0, "lb_total": 0, "last_session_s": null, "rate_cur": 0, "rate_max": 0,
        "bytes_in": 0, "bytes_out": 0, "errors_conn": 0, "errors_resp": 0, "killed": 0,
        "tls_by_patroxy": 0, "tls_by_client": 0, "status": "UP", "last_check": "L7OK/200 in 3ms", "weight": 1, "active": false, "backup": true,
        "checks_failed": 0, "downs": 0, "downtime_s": 0, "last_change_s": 7380, "admin": "ready",
        "role": "primary", "state": "running", "timeline": 3, "lag_bytes": null,
        "connect_time": {"bounds": [0.001, 0.01, 0.1], "counts": [0, 0, 0, 0], "sum_seconds": 0}},
       {"name": "node2", "address": "127.0.0.1:5442", "sessions_cur": 5, "sessions_max": 40, "sessions_limit": 0,
        "sessions_total": 299, "lb_total": 299, "last_session_s": 1, "rate_cur": 1, "rate_max": 12,
        "bytes_in": 999000, "bytes_out": 49000000, "errors_conn": 0, "errors_resp": 0, "killed": 1,
        "tls_by_patroxy": 0, "tls_by_client": 2, "status": "UP 1/3", "last_check": "L7TOUT in 1001ms", "weight": 2, "active": true, "backup": false,
        "checks_failed": 4, "downs": 0, "downtime_s": 0, "last_change_s": 7400, "admin": "ready",
        "role": "replica", "state": "streaming", "timeline": 3, "lag_bytes": 1234567,
        "connect_time": {"bounds": [0.001, 0.01, 0.1], "counts": [250, 45, 4, 0], "sum_seconds": 1.75}},
       {"name": "node3", "address": "127.0.0.1:5443", "sessions_cur": 0, "sessions_max": 0, "sessions_limit": 0,
        "sessions_total": 1, "lb_total": 1, "last_session_s": 3600, "rate_cur": 0, "rate_max": 0,
        "bytes_in": 1000, "bytes_out": 1000000, "errors_conn": 2, "errors_resp": 0, "killed": 0,
        "tls_by_patroxy": 0, "tls_by_client": 0, "status": "DRAIN", "last_check": "L4CON in 0ms", "weight": 1, "active": false, "backup": false,
        "checks_failed": 9, "downs": 2, "downtime_s": 600, "last_change_s": 300, "admin": "drain",
        "role": "", "state": "", "timeline": null, "lag_bytes": null,
        "connect_time": {"bounds": [0.001, 0.01, 0.1], "counts": [1, 0, 0, 0], "sum_seconds": 0.0005}}
     ]}
  ],
  "events": [
    {"at": "2026-11-22T10:14:58Z", "kind": "admin", "text": "node3 set to drain on replicas"},
    {"at": "2026-11-22T10:10:03Z", "kind": "admin", "text": "node3 set to maint on primary"},
    {"at": "2026-11-22T08:12:03Z", "kind": "leader", "text": "leader changed from node2 to node1"},
    {"at": "2026-11-22T08:11:58Z", "kind": "killed",
     "text": "3 sessions of primary on node2 closed: <role lost> & \"reconnect\""},
    {"at": "2026-11-22T08:11:53Z", "kind": "member_down", "text": "node2 is no longer the primary"}
  ],
  "leader_changes": 1,
  "cancels": {"forwarded": 7, "unknown_key": 2, "failed": 1, "broadcast": 3},
  "reloads": 1,
  "relay_buffers": {"in_use": 6, "free": 58, "bytes_each": 32768},
  "stats_listener": {"tls": true, "tls_handshake_failures": {"closed": 5, "no_client_certificate": 2, "timeout": 3}}
})json";

} // namespace

TEST_CASE("the sample view renders as exactly the expected JSON", "[stats][json]")
{
    const json actual = json::parse(render_json(test::sample_view()));
    const json expected = json::parse(expected_sample);
    INFO("differences: " << json::diff(actual, expected).dump());
    CHECK(actual == expected);
}

TEST_CASE("JSON keeps the view's field order and is one compact line", "[stats][json]")
{
    const std::string text = render_json(test::sample_view());
    CHECK(text.find('\n') == std::string::npos);
    CHECK(text.rfind(R"({"version":"0.1.0","pid":4242,"now":"2026-11-22T10:15:03Z",)", 0) == 0);
    const std::string tail =
        R"("stats_listener":{"tls":true,"tls_handshake_failures":{"closed":5,"no_client_certificate":2,"timeout":3}}})";
    CHECK(text.find(tail) == text.size() - tail.size());
}

TEST_CASE("JSON: optionals become numbers once known, durations stay integer seconds", "[stats][json]")
{
    stats_view v = test::sample_view();
    v.listeners[0].empty_for = 95s;
    v.listeners[0].queue_timeout = 250ms;
    v.listeners[0].servers[2].last_session = 61s;
    v.listeners[0].servers[2].timeline = 4;
    v.cluster[0].lag_bytes = 0;

    const json doc = json::parse(render_json(v));
    CHECK(doc["listeners"][0]["empty_for_s"] == 95);
    CHECK(doc["listeners"][0]["queue_timeout_ms"] == 250);
    CHECK(doc["listeners"][0]["servers"][2]["last_session_s"] == 61);
    CHECK(doc["listeners"][0]["servers"][2]["timeline"] == 4);
    CHECK(doc["cluster"][0]["lag_bytes"] == 0);
}

TEST_CASE("JSON of an empty view has every top-level field and empty lists", "[stats][json]")
{
    const json doc = json::parse(render_json(stats_view{}));
    CHECK(doc["now"] == "1970-01-01T00:00:00Z");
    CHECK(doc["cluster"] == json::array());
    CHECK(doc["listeners"] == json::array());
    CHECK(doc["events"] == json::array());
    CHECK(doc["incidents"] == json::array());
    CHECK(doc["leader"] == "");
    CHECK(doc["cancels"] == json({{"forwarded", 0}, {"unknown_key", 0}, {"failed", 0}, {"broadcast", 0}}));
}

TEST_CASE("JSON replaces invalid UTF-8 from the view instead of failing the request", "[stats][json]")
{
    stats_view v;
    v.events.push_back(event{test::sample_now(), "incident", std::string("bad \xff byte")});
    std::string text;
    REQUIRE_NOTHROW(text = render_json(v));
    CHECK(json::parse(text)["events"][0]["text"] == "bad \xef\xbf\xbd byte");
}
