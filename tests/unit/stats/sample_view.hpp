// A fixed stats_view for the renderer tests: a three-member cluster (node1 leader, node2 sync
// standby failing its checks, node3 stopped) behind two listeners, primary and replicas, with
// events, an incident and histograms. Every number is chosen by hand so that the tests can
// state what each format must show; the listeners' totals equal their servers' sums.
#pragma once

#include "proxy/stats/stats_view.hpp"

#include <map>

#include <chrono>
#include <utility>

namespace patroxy::proxy::stats::test {

using namespace std::chrono_literals;

/// 2026-11-22 10:15:03 UTC.
inline std::chrono::system_clock::time_point sample_now()
{
    return std::chrono::system_clock::time_point{std::chrono::seconds{1795342503}};
}

inline histogram_view sample_histogram(std::vector<double> bounds, std::vector<std::uint64_t> counts, double sum)
{
    histogram_view h;
    h.bounds = std::move(bounds);
    h.counts = std::move(counts);
    h.sum_seconds = sum;
    return h;
}

inline histogram_view connect_buckets(std::vector<std::uint64_t> counts, double sum)
{
    return sample_histogram({0.001, 0.01, 0.1}, std::move(counts), sum);
}

inline cluster_member sample_member(const char* name, const char* host, const char* role, const char* state)
{
    cluster_member m;
    m.name = name;
    m.host = host;
    m.role = role;
    m.state = state;
    return m;
}

inline server_row sample_server(const char* name, const char* address, const char* status, const char* last_check)
{
    server_row s;
    s.name = name;
    s.address = address;
    s.status = status;
    s.last_check = last_check;
    s.weight = 1;
    return s;
}

/// Handshake counts of one leg: `done`, and the failures given by reason (the others 0), in the
/// order of tls::handshake_failure as the collector lists them.
inline tls_leg_counts sample_tls_leg(std::uint64_t done, std::map<std::string, std::uint64_t> failed)
{
    tls_leg_counts c;
    c.active = true;
    c.done = done;
    for (const char* reason : {"timeout", "closed", "protocol_version", "no_shared_cipher", "no_client_certificate",
                               "certificate_rejected", "peer_rejected", "no_alpn", "not_tls", "other"})
        c.failures.emplace_back(reason, failed.count(reason) ? failed.at(reason) : 0);
    return c;
}

inline listener_row sample_primary_listener()
{
    listener_row l;
    l.name = "primary";
    l.bind = "127.0.0.1:5000";
    l.routes = "role primary";
    l.role = "primary";
    l.balance = "roundrobin";
    l.queue_cur = 0;
    l.queue_max = 4;
    l.queue_timeout = 30000ms;
    l.queued_total = 12;
    l.accept_pauses = 3;
    l.sessions_cur = 3;
    l.sessions_max = 17;
    l.sessions_limit = 100;
    l.sessions_total = 1520;
    l.rate_cur = 2;
    l.rate_max = 31;
    l.bytes_in = 5'242'880;
    l.bytes_out = 987'654'321;
    l.denied_limit = 0;
    l.errors_startup = 2;
    l.denied_no_server = 1;
    l.killed.role_lost = 2;
    l.killed.member_down = 1;
    l.status = "OPEN";
    l.queue_wait = sample_histogram({0.1, 1, 10}, {7, 3, 2, 0}, 4.25);
    l.tls = "terminate";
    l.server_tls = "verify-full";
    l.denied_plaintext = 4;
    l.tls_client = sample_tls_leg(1510, {{"timeout", 1}, {"no_client_certificate", 2}});
    l.tls_server = sample_tls_leg(1500, {{"certificate_rejected", 1}});

    server_row node1 = sample_server("node1", "127.0.0.1:5441", "UP", "L7OK/200 in 3ms");
    node1.sessions_cur = 3;
    node1.sessions_max = 17;
    node1.sessions_total = 1500;
    node1.lb_total = 1500;
    node1.last_session = 2s;
    node1.rate_cur = 2;
    node1.rate_max = 31;
    node1.bytes_in = 5'200'000;
    node1.bytes_out = 987'000'000;
    node1.errors_conn = 1;
    node1.active = true;
    node1.last_change = 7380s;
    node1.role = "primary";
    node1.state = "running";
    node1.timeline = 3;
    node1.connect_time = connect_buckets({1400, 95, 5, 0}, 2.5);
    node1.tls_by_patroxy = 3;

    server_row node2 = sample_server("node2", "127.0.0.1:5442", "DOWN", "L7TOUT in 1001ms");
    node2.sessions_max = 9;
    node2.sessions_total = 20;
    node2.lb_total = 20;
    node2.last_session = 7400s;
    node2.rate_max = 5;
    node2.bytes_in = 42'880;
    node2.bytes_out = 654'321;
    node2.errors_resp = 1;
    node2.killed = 3;
    node2.checks_failed = 4;
    node2.downs = 1;
    node2.downtime = 7390s;
    node2.last_change = 7390s;
    node2.role = "replica";
    node2.state = "streaming";
    node2.timeline = 3;
    node2.lag_bytes = 1'234'567;
    node2.connect_time = connect_buckets({18, 2, 0, 0}, 0.03);

    server_row node3 = sample_server("node3", "127.0.0.1:5443", "MAINT", "L4CON in 0ms");
    node3.checks_failed = 9;
    node3.downs = 2;
    node3.downtime = 600s;
    node3.last_change = 300s;
    node3.admin = admin_state::maint;
    node3.connect_time = connect_buckets({0, 0, 0, 0}, 0);

    l.servers = {node1, node2, node3};
    return l;
}

inline listener_row sample_replicas_listener()
{
    listener_row l;
    l.name = "replicas";
    l.bind = "127.0.0.1:5001";
    l.routes = "role replica, max_lag 1MB";
    l.role = "replica";
    l.max_lag_bytes = 1024 * 1024;
    l.balance = "leastconn";
    l.queue_timeout = 0ms;
    l.sessions_cur = 5;
    l.sessions_max = 40;
    l.sessions_total = 300;
    l.rate_cur = 1;
    l.rate_max = 12;
    l.bytes_in = 1'000'000;
    l.bytes_out = 50'000'000;
    l.killed.over_lag = 1;
    l.status = "OPEN";
    l.queue_wait = sample_histogram({0.1, 1, 10}, {0, 0, 0, 0}, 0);
    l.tls = "passthrough";
    l.server_tls = "disable";
    l.denied_direct_tls = 1;
    l.tls_client.active = false;
    l.tls_server.active = false;

    server_row node1 = sample_server("node1", "127.0.0.1:5441", "UP", "L7OK/200 in 3ms");
    node1.backup = true;
    node1.last_change = 7380s;
    node1.role = "primary";
    node1.state = "running";
    node1.timeline = 3;
    node1.connect_time = connect_buckets({0, 0, 0, 0}, 0);

    server_row node2 = sample_server("node2", "127.0.0.1:5442", "UP 1/3", "L7TOUT in 1001ms");
    node2.weight = 2;
    node2.sessions_cur = 5;
    node2.sessions_max = 40;
    node2.sessions_total = 299;
    node2.lb_total = 299;
    node2.last_session = 1s;
    node2.rate_cur = 1;
    node2.rate_max = 12;
    node2.bytes_in = 999'000;
    node2.bytes_out = 49'000'000;
    node2.killed = 1;
    node2.active = true;
    node2.checks_failed = 4;
    node2.last_change = 7400s;
    node2.role = "replica";
    node2.state = "streaming";
    node2.timeline = 3;
    node2.lag_bytes = 1'234'567;
    node2.connect_time = connect_buckets({250, 45, 4, 0}, 1.75);
    node2.tls_by_client = 2;

    server_row node3 = sample_server("node3", "127.0.0.1:5443", "DRAIN", "L4CON in 0ms");
    node3.sessions_total = 1;
    node3.lb_total = 1;
    node3.last_session = 3600s;
    node3.bytes_in = 1'000;
    node3.bytes_out = 1'000'000;
    node3.errors_conn = 2;
    node3.checks_failed = 9;
    node3.downs = 2;
    node3.downtime = 600s;
    node3.last_change = 300s;
    node3.admin = admin_state::drain;
    node3.connect_time = connect_buckets({1, 0, 0, 0}, 0.0005);

    l.servers = {node1, node2, node3};
    return l;
}

inline event sample_event(std::chrono::seconds ago, const char* kind, const char* text)
{
    return event{sample_now() - ago, kind, text};
}

/// The fixed view: see the file comment.
inline stats_view sample_view()
{
    stats_view v;
    v.version = "0.1.0";
    v.pid = 4242;
    v.now = sample_now();
    v.uptime = 7500s;
    v.refresh = 10s;
    v.admin_enabled = true;
    v.scope = "demo";
    v.leader = "node1";
    v.primary = "node1";
    v.generation = 42;
    v.incidents = {"node3: GET /patroni refused <127.0.0.1:8010> & no SQL check"};

    cluster_member node1 = sample_member("node1", "127.0.0.1:5441", "Leader", "running");
    node1.timeline = 3;
    node1.check_status = "UP";
    node1.last_check = "L7OK/200 in 3ms";
    node1.check_duration = sample_histogram({0.005, 0.05, 0.5}, {90, 8, 2, 0}, 0.45);
    cluster_member node2 = sample_member("node2", "127.0.0.1:5442", "Sync Standby", "streaming");
    node2.timeline = 3;
    node2.lag_bytes = 1'234'567;
    node2.check_status = "UP 1/3";
    node2.last_check = "L7TOUT in 1001ms";
    node2.check_duration = sample_histogram({0.005, 0.05, 0.5}, {80, 15, 3, 2}, 3.1);
    cluster_member node3 = sample_member("node3", "127.0.0.1:5443", "Replica", "stopped");
    node3.check_status = "DOWN";
    node3.last_check = "L4CON in 0ms";
    node3.check_duration = sample_histogram({0.005, 0.05, 0.5}, {50, 0, 0, 0}, 0.05);
    v.cluster = {node1, node2, node3};

    v.listeners = {sample_primary_listener(), sample_replicas_listener()};

    v.events = {
        sample_event(5s, "admin", "node3 set to drain on replicas"),
        sample_event(300s, "admin", "node3 set to maint on primary"),
        sample_event(7380s, "leader", "leader changed from node2 to node1"),
        sample_event(7385s, "killed", "3 sessions of primary on node2 closed: <role lost> & \"reconnect\""),
        sample_event(7390s, "member_down", "node2 is no longer the primary"),
    };
    v.leader_changes = 1;
    v.cancels = {7, 2, 1, 3};
    v.reloads = 1;
    v.reload_failures = 2;
    v.last_reload_ok = true; // failed twice, then applied
    v.relay_buffers = {.in_use = 6, .free = 58, .bytes_each = 32768};
    v.stats_listener.tls = true;
    v.stats_listener.tls_handshake_failures = {{"closed", 5}, {"no_client_certificate", 2}, {"timeout", 3}};
    return v;
}

/// The sample view with the drop-in's limits at work on "primary": node1 has max_connections 20,
/// and clients were refused over the listener's limit (2), the global one (3) and for every
/// member full (4); 5 backup sessions were replaced.
inline stats_view sample_view_with_limits()
{
    stats_view v = sample_view();
    auto& primary = v.listeners.at(0);
    primary.servers.at(0).sessions_limit = 20;
    primary.denied_limit = 2;
    primary.denied_global_limit = 3;
    primary.denied_member_limit = 4;
    primary.killed.backup_replaced = 5;
    return v;
}

} // namespace patroxy::proxy::stats::test
