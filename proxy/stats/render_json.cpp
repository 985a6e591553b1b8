// The JSON rendering of a stats_view, built with nlohmann::ordered_json so that fields come out
// in the order the view declares them.
#include "proxy/stats/render_json.hpp"

#include "proxy/stats/format.hpp"

#include <nlohmann/json.hpp>

namespace patroxy::proxy::stats {

namespace {

using json = nlohmann::ordered_json;

template <typename T>
json or_null(const std::optional<T>& value)
{
    return value ? json(*value) : json(nullptr);
}

json or_null(const std::optional<std::chrono::seconds>& value)
{
    return value ? json(value->count()) : json(nullptr);
}

json histogram_json(const histogram_view& h)
{
    return {{"bounds", h.bounds}, {"counts", h.counts}, {"sum_seconds", h.sum_seconds}};
}

json server_json(const server_row& s)
{
    return {
        {"name", s.name},
        {"address", s.address},
        {"sessions_cur", s.sessions_cur},
        {"sessions_max", s.sessions_max},
        {"sessions_limit", s.sessions_limit},
        {"sessions_total", s.sessions_total},
        {"lb_total", s.lb_total},
        {"last_session_s", or_null(s.last_session)},
        {"rate_cur", s.rate_cur},
        {"rate_max", s.rate_max},
        {"bytes_in", s.bytes_in},
        {"bytes_out", s.bytes_out},
        {"errors_conn", s.errors_conn},
        {"errors_resp", s.errors_resp},
        {"killed", s.killed},
        {"tls_by_patroxy", s.tls_by_patroxy},
        {"tls_by_client", s.tls_by_client},
        {"status", s.status},
        {"last_check", s.last_check},
        {"weight", s.weight},
        {"active", s.active},
        {"backup", s.backup},
        {"checks_failed", s.checks_failed},
        {"downs", s.downs},
        {"downtime_s", s.downtime.count()},
        {"last_change_s", or_null(s.last_change)},
        {"admin", to_string(s.admin)},
        {"role", s.role},
        {"state", s.state},
        {"timeline", or_null(s.timeline)},
        {"lag_bytes", or_null(s.lag_bytes)},
        {"connect_time", histogram_json(s.connect_time)},
    };
}

json tls_leg_json(const tls_leg_counts& c)
{
    json failures = json::object();
    for (const auto& [reason, n] : c.failures) failures[reason] = n;
    return {{"active", c.active}, {"handshakes", c.done}, {"failures", std::move(failures)}};
}

json listener_json(const listener_row& l)
{
    json servers = json::array();
    for (const server_row& s : l.servers) servers.push_back(server_json(s));
    return {
        {"name", l.name},
        {"bind", l.bind},
        {"routes", l.routes},
        {"balance", l.balance},
        {"queue_cur", l.queue_cur},
        {"queue_max", l.queue_max},
        {"queue_timeout_ms", l.queue_timeout.count()},
        {"queued_total", l.queued_total},
        {"sessions_cur", l.sessions_cur},
        {"sessions_max", l.sessions_max},
        {"sessions_limit", l.sessions_limit},
        {"sessions_total", l.sessions_total},
        {"rate_cur", l.rate_cur},
        {"rate_max", l.rate_max},
        {"bytes_in", l.bytes_in},
        {"bytes_out", l.bytes_out},
        {"denied_limit", l.denied_limit},
        {"denied_global_limit", l.denied_global_limit},
        {"denied_member_limit", l.denied_member_limit},
        {"errors_startup", l.errors_startup},
        {"denied_no_server", l.denied_no_server},
        {"denied_plaintext", l.denied_plaintext},
        {"denied_direct_tls", l.denied_direct_tls},
        {"accept_pauses", l.accept_pauses},
        {"tls", l.tls},
        {"server_tls", l.server_tls},
        {"tls_client", tls_leg_json(l.tls_client)},
        {"tls_server", tls_leg_json(l.tls_server)},
        {"killed",
         {{"role_lost", l.killed.role_lost},
          {"member_down", l.killed.member_down},
          {"over_lag", l.killed.over_lag},
          {"maint", l.killed.maint},
          {"backup_replaced", l.killed.backup_replaced}}},
        {"status", l.status},
        {"empty_for_s", or_null(l.empty_for)},
        {"queue_wait", histogram_json(l.queue_wait)},
        {"servers", std::move(servers)},
    };
}

json member_json(const cluster_member& m)
{
    return {
        {"name", m.name},
        {"host", m.host},
        {"role", m.role},
        {"state", m.state},
        {"timeline", or_null(m.timeline)},
        {"lag_bytes", or_null(m.lag_bytes)},
        {"check_status", m.check_status},
        {"last_check", m.last_check},
        {"check_duration", histogram_json(m.check_duration)},
    };
}

json stats_listener_json(const stats_listener_view& s)
{
    json failures = json::object();
    for (const auto& [reason, count] : s.tls_handshake_failures) failures[reason] = count;
    return {{"tls", s.tls}, {"tls_handshake_failures", std::move(failures)}};
}

} // namespace

std::string render_json(const stats_view& view)
{
    json cluster = json::array();
    for (const cluster_member& m : view.cluster) cluster.push_back(member_json(m));
    json listeners = json::array();
    for (const listener_row& l : view.listeners) listeners.push_back(listener_json(l));
    json events = json::array();
    for (const event& e : view.events)
        events.push_back({{"at", format_rfc3339(e.at)}, {"kind", e.kind}, {"text", e.text}});

    const json doc = {
        {"version", view.version},
        {"pid", view.pid},
        {"now", format_rfc3339(view.now)},
        {"uptime_s", view.uptime.count()},
        {"refresh_s", view.refresh.count()},
        {"admin_enabled", view.admin_enabled},
        {"scope", view.scope},
        {"leader", view.leader},
        {"primary", view.primary},
        {"generation", view.generation},
        {"incidents", view.incidents},
        {"cluster", std::move(cluster)},
        {"listeners", std::move(listeners)},
        {"events", std::move(events)},
        {"leader_changes", view.leader_changes},
        {"cancels",
         {{"forwarded", view.cancels.forwarded},
          {"unknown_key", view.cancels.unknown_key},
          {"failed", view.cancels.failed},
          {"broadcast", view.cancels.broadcast}}},
        {"reloads", view.reloads},
        {"relay_buffers",
         {{"in_use", view.relay_buffers.in_use},
          {"free", view.relay_buffers.free},
          {"bytes_each", view.relay_buffers.bytes_each}}},
        {"stats_listener", stats_listener_json(view.stats_listener)},
    };
    // Replace invalid UTF-8 (a member name or event text is not trusted to be valid) instead of
    // throwing in the middle of a stats request.
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace patroxy::proxy::stats
