// The Prometheus rendering of a stats_view: a registry built from the view, then serialized.
// Names follow Prometheus' conventions (base units, _total on counters), so that
// `promtool check metrics` finds nothing to lint.
#include "proxy/stats/render_metrics.hpp"

#include "proxy/stats/format.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <utility>

namespace patroxy::proxy::stats {

namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;
using prometheus::Labels;

double as_double(std::uint64_t v) noexcept { return static_cast<double>(v); }

Family<Gauge>& gauge(prometheus::Registry& r, const char* name, const char* help)
{
    return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}

Family<Counter>& counter(prometheus::Registry& r, const char* name, const char* help)
{
    return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}

Family<Histogram>& histogram(prometheus::Registry& r, const char* name, const char* help)
{
    return prometheus::BuildHistogram().Name(name).Help(help).Register(r);
}

void set(Family<Gauge>& family, const Labels& labels, double value) { family.Add(labels).Set(value); }

void add(Family<Counter>& family, const Labels& labels, std::uint64_t total)
{
    family.Add(labels).Increment(as_double(total));
}

/// One histogram series from the view's per-bucket counts. Counts that do not match the bounds
/// are fitted (missing buckets read 0, extra ones land in +Inf) rather than thrown on;
/// unsorted bounds, which prometheus-cpp would reject, leave the series out.
void observe(Family<Histogram>& family, const Labels& labels, const histogram_view& h)
{
    if (!std::is_sorted(h.bounds.begin(), h.bounds.end())) return;
    std::vector<double> increments(h.bounds.size() + 1, 0.0);
    for (std::size_t i = 0; i < h.counts.size(); ++i)
        increments[std::min(i, h.bounds.size())] += as_double(h.counts[i]);
    family.Add(labels, h.bounds).ObserveMultiple(increments, h.sum_seconds);
}

void process_metrics(prometheus::Registry& r, const stats_view& v)
{
    if (!v.version.empty()) // stats.hide_version
        set(gauge(r, "patroxy_build_info", "patroxy's version, as a label; the value is always 1"),
            {{"version", v.version}}, 1);
    set(gauge(r, "patroxy_start_time_seconds", "When patroxy started, in seconds since the Unix epoch"), {},
        unix_seconds(v.now - v.uptime));
    set(gauge(r, "patroxy_snapshot_generation", "Generation of the cluster snapshot routing uses now"), {},
        as_double(v.generation));
    add(counter(r, "patroxy_leader_changes_total", "Times the DCS leader changed to another member"), {},
        v.leader_changes);
    auto& cancels = counter(r, "patroxy_cancel_requests_total", "CancelRequests received, by what became of them");
    add(cancels, {{"result", "forwarded"}}, v.cancels.forwarded);
    add(cancels, {{"result", "unknown_key"}}, v.cancels.unknown_key);
    add(cancels, {{"result", "failed"}}, v.cancels.failed);
    add(cancels, {{"result", "broadcast"}}, v.cancels.broadcast);
    add(counter(r, "patroxy_config_reloads_total", "Configuration reloads applied"), {}, v.reloads);
    add(counter(r, "patroxy_config_reload_failures_total",
                "Configuration reloads refused (the previous configuration kept running)"),
        {}, v.reload_failures);
    // Prometheus' own name for the same fact, so that an alert clears once a later reload succeeds.
    set(gauge(r, "patroxy_config_last_reload_successful", "1 when the latest reload was applied (or none was tried)"),
        {}, v.last_reload_ok ? 1 : 0);
    auto& buffers = gauge(r, "patroxy_relay_buffers",
                          "Relay buffers: lent to sessions moving bytes (in_use), kept for reuse (free)");
    set(buffers, {{"state", "in_use"}}, as_double(v.relay_buffers.in_use));
    set(buffers, {{"state", "free"}}, as_double(v.relay_buffers.free));
    set(gauge(r, "patroxy_relay_buffer_size_bytes", "Size of one relay buffer"), {},
        as_double(v.relay_buffers.bytes_each));
}

/// Only for an HTTPS stats listener: a plain one has no handshakes, and an empty family would
/// only raise the question. A reason's series appears with its first failure.
void stats_listener_metrics(prometheus::Registry& r, const stats_view& v)
{
    if (!v.stats_listener.tls) return;
    auto& failures = counter(r, "patroxy_stats_tls_handshake_failures_total",
                             "Connections to the HTTPS stats listener that ended before their TLS handshake "
                             "completed, by why");
    for (const auto& [reason, count] : v.stats_listener.tls_handshake_failures)
        add(failures, {{"reason", reason}}, count);
}

/// Handshakes per listener and leg, for the legs the listener does TLS on.
void listener_tls_metrics(prometheus::Registry& r, const stats_view& v)
{
    auto& done = counter(r, "patroxy_listener_tls_handshakes_total",
                         "TLS handshakes patroxy completed, with clients (leg client, tls terminate) and with "
                         "servers (leg server, server_tls)");
    auto& failed = counter(r, "patroxy_listener_tls_handshake_failures_total",
                           "TLS handshakes that failed, by leg and why");
    for (const listener_row& l : v.listeners) {
        for (const auto& [leg, counts] : {std::pair{"client", &l.tls_client}, std::pair{"server", &l.tls_server}}) {
            if (!counts->active) continue;
            add(done, {{"listener", l.name}, {"leg", leg}}, counts->done);
            for (const auto& [reason, n] : counts->failures)
                add(failed, {{"listener", l.name}, {"leg", leg}, {"reason", reason}}, n);
        }
    }
}

void listener_metrics(prometheus::Registry& r, const stats_view& v)
{
    auto& cur = gauge(r, "patroxy_listener_sessions_current", "Client sessions open now");
    auto& max = gauge(r, "patroxy_listener_sessions_max", "Most client sessions open at once");
    auto& limit = gauge(r, "patroxy_listener_sessions_limit", "max_connections (absent when unlimited)");
    auto& total = counter(r, "patroxy_listener_sessions_total", "Client connections accepted");
    auto& rejected = counter(r, "patroxy_listener_rejected_total",
                             "Clients turned away: over max_connections (limit), over the global "
                             "max_connections (global_maxconn), every eligible member at its max_connections "
                             "until queue_timeout (member_maxconn), bad or slow startup (startup), no eligible "
                             "member within queue_timeout (no_server), plaintext under client_tls require "
                             "(plaintext), direct TLS the listener cannot take (direct_tls)");
    auto& pauses = counter(r, "patroxy_listener_accept_pauses_total",
                           "Times accepting paused because accept() failed, out of file descriptors or socket memory");
    auto& queue = gauge(r, "patroxy_listener_queue_current", "Clients waiting for an eligible member now");
    auto& queued = counter(r, "patroxy_listener_queued_total", "Clients that had to wait for an eligible member");
    auto& wait = histogram(r, "patroxy_listener_queue_wait_seconds", "Time clients spent waiting for an eligible member");
    auto& in = counter(r, "patroxy_listener_bytes_in_total", "Bytes from clients to servers, counted within a second as sessions relay them");
    auto& out = counter(r, "patroxy_listener_bytes_out_total", "Bytes from servers to clients, counted within a second as sessions relay them");
    auto& eligible = gauge(r, "patroxy_listener_eligible_members", "Members this listener may route new sessions to now");
    auto& info = gauge(r, "patroxy_listener_info",
                       "The listener's role (primary, replica, ..., static for a servers list); always 1");
    auto& max_lag = gauge(r, "patroxy_listener_max_lag_bytes",
                          "The listener's max_lag: replicas further behind are not routed to (absent when unbounded)");
    auto& killed = counter(r, "patroxy_sessions_killed_total",
                           "Sessions closed because their member may no longer serve the listener, by why");

    for (const listener_row& l : v.listeners) {
        const Labels labels{{"listener", l.name}};
        set(info, {{"listener", l.name}, {"role", l.role}}, 1);
        if (l.max_lag_bytes) set(max_lag, labels, as_double(*l.max_lag_bytes));
        set(cur, labels, as_double(l.sessions_cur));
        set(max, labels, as_double(l.sessions_max));
        if (l.sessions_limit > 0) set(limit, labels, as_double(l.sessions_limit));
        add(total, labels, l.sessions_total);
        add(rejected, {{"listener", l.name}, {"reason", "limit"}}, l.denied_limit);
        add(rejected, {{"listener", l.name}, {"reason", "global_maxconn"}}, l.denied_global_limit);
        add(rejected, {{"listener", l.name}, {"reason", "member_maxconn"}}, l.denied_member_limit);
        add(rejected, {{"listener", l.name}, {"reason", "startup"}}, l.errors_startup);
        add(rejected, {{"listener", l.name}, {"reason", "no_server"}}, l.denied_no_server);
        add(rejected, {{"listener", l.name}, {"reason", "plaintext"}}, l.denied_plaintext);
        add(rejected, {{"listener", l.name}, {"reason", "direct_tls"}}, l.denied_direct_tls);
        add(pauses, labels, l.accept_pauses);
        set(queue, labels, as_double(l.queue_cur));
        add(queued, labels, l.queued_total);
        observe(wait, labels, l.queue_wait);
        add(in, labels, l.bytes_in);
        add(out, labels, l.bytes_out);
        set(eligible, labels,
            as_double(static_cast<std::uint64_t>(std::count_if(l.servers.begin(), l.servers.end(),
                                                               [](const server_row& s) { return s.active; }))));
        add(killed, {{"listener", l.name}, {"reason", "role_lost"}}, l.killed.role_lost);
        add(killed, {{"listener", l.name}, {"reason", "member_down"}}, l.killed.member_down);
        add(killed, {{"listener", l.name}, {"reason", "over_lag"}}, l.killed.over_lag);
        add(killed, {{"listener", l.name}, {"reason", "maint"}}, l.killed.maint);
        add(killed, {{"listener", l.name}, {"reason", "backup_replaced"}}, l.killed.backup_replaced);
    }
}

void server_metrics(prometheus::Registry& r, const stats_view& v)
{
    auto& up = gauge(r, "patroxy_server_up", "1 when the member is eligible on the listener now");
    auto& admin = gauge(r, "patroxy_server_admin_state",
                        "The operator's state of the member on the listener: 1 for the current one");
    auto& cur = gauge(r, "patroxy_server_sessions_current", "Sessions open on the member through the listener");
    auto& limit = gauge(r, "patroxy_server_sessions_limit",
                        "The member's max_connections on the listener (absent when unlimited)");
    auto& total = counter(r, "patroxy_server_sessions_total", "Sessions the member served through the listener");
    auto& lb = counter(r, "patroxy_server_lb_total", "Times the balancer chose the member");
    auto& in = counter(r, "patroxy_server_bytes_in_total", "Bytes from clients to the member, counted within a second as sessions relay them");
    auto& out = counter(r, "patroxy_server_bytes_out_total", "Bytes from the member to clients, counted within a second as sessions relay them");
    auto& conn_errors = counter(r, "patroxy_server_connection_errors_total",
                                "Connects to the member that failed (refused, timed out, early FATAL)");
    auto& resp_errors = counter(r, "patroxy_server_response_errors_total",
                                "Sessions closed by a server error or a malformed server message");
    auto& check_failures = counter(r, "patroxy_server_check_failures_total", "Failed health checks of the member");
    auto& downs = counter(r, "patroxy_server_downs_total", "Times the member went from UP to DOWN");
    auto& downtime = counter(r, "patroxy_server_downtime_seconds_total", "Time the member spent DOWN");
    auto& connect = histogram(r, "patroxy_server_connect_seconds", "Time to connect to the member");
    auto& tls = gauge(r, "patroxy_server_tls_sessions",
                      "Sessions open on the member through the listener whose leg to it is encrypted, by who "
                      "encrypts it: patroxy (server_tls) or the client (passthrough, opaque to patroxy)");
    static constexpr std::array states{admin_state::ready, admin_state::drain, admin_state::maint};

    for (const listener_row& l : v.listeners) {
        for (const server_row& s : l.servers) {
            const Labels labels{{"listener", l.name}, {"member", s.name}};
            set(up, labels, s.active ? 1 : 0);
            for (admin_state state : states)
                set(admin, {{"listener", l.name}, {"member", s.name}, {"state", to_string(state)}},
                    state == s.admin ? 1 : 0);
            set(cur, labels, as_double(s.sessions_cur));
            if (s.sessions_limit > 0) set(limit, labels, as_double(s.sessions_limit));
            add(total, labels, s.sessions_total);
            add(lb, labels, s.lb_total);
            add(in, labels, s.bytes_in);
            add(out, labels, s.bytes_out);
            add(conn_errors, labels, s.errors_conn);
            add(resp_errors, labels, s.errors_resp);
            add(check_failures, labels, s.checks_failed);
            add(downs, labels, s.downs);
            add(downtime, labels, static_cast<std::uint64_t>(std::max<std::int64_t>(s.downtime.count(), 0)));
            observe(connect, labels, s.connect_time);
            set(tls, {{"listener", l.name}, {"member", s.name}, {"by", "patroxy"}}, as_double(s.tls_by_patroxy));
            set(tls, {{"listener", l.name}, {"member", s.name}, {"by", "client"}}, as_double(s.tls_by_client));
        }
    }
}

void member_metrics(prometheus::Registry& r, const stats_view& v)
{
    auto& role = gauge(r, "patroxy_member_role",
                       "The member's role as patronictl names it (primary, replica, sync_standby, "
                       "standby_leader, ..., unknown); always 1");
    auto& healthy = gauge(r, "patroxy_member_healthy", "1 when the member's Patroni REST API passes its checks");
    auto& timeline = gauge(r, "patroxy_member_timeline", "The member's PostgreSQL timeline (absent when unknown)");
    auto& lag = gauge(r, "patroxy_member_lag_bytes", "The member's replication lag behind the leader (absent when unknown)");
    auto& check = histogram(r, "patroxy_member_check_duration_seconds", "Duration of GET /patroni checks of the member");

    for (const cluster_member& m : v.cluster) {
        const Labels labels{{"member", m.name}};
        set(role, {{"member", m.name}, {"role", member_role_label(m.role)}}, 1);
        set(healthy, labels, reads_as_up(read_status(m.check_status)) ? 1 : 0);
        if (m.timeline) set(timeline, labels, as_double(*m.timeline));
        if (m.lag_bytes) set(lag, labels, as_double(*m.lag_bytes));
        observe(check, labels, m.check_duration);
    }
}

} // namespace

std::string render_metrics(const stats_view& view)
{
    prometheus::Registry registry;
    process_metrics(registry, view);
    stats_listener_metrics(registry, view);
    listener_metrics(registry, view);
    listener_tls_metrics(registry, view);
    server_metrics(registry, view);
    member_metrics(registry, view);
    return prometheus::TextSerializer{}.Serialize(registry.Collect());
}

} // namespace patroxy::proxy::stats
