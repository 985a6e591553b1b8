#include "proxy/app/stats_collector.hpp"

#include "health/http/http_client.hpp"

#include "proxy/session/listener_runtime.hpp"
#include "proxy/net/worker_pool.hpp"
#include "proxy/session/session.hpp"

#include <algorithm>
#include <unistd.h>

namespace patroxy::proxy {
namespace {

using std::chrono::duration_cast;
using std::chrono::seconds;

std::string endpoint_text(const std::string& host, std::uint16_t port) { return host + ":" + std::to_string(port); }

std::string size_text(std::uint64_t bytes)
{
    if (bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + "MB";
    if (bytes % (1u << 10) == 0) return std::to_string(bytes >> 10) + "kB";
    return std::to_string(bytes) + "B";
}

/// "role replica, max_lag 1MB" / "servers pg1, pg2": what the listener routes to.
std::string routes_text(const config::listener& l)
{
    if (!l.role) {
        std::string text = "servers";
        for (std::size_t i = 0; i < l.servers.size(); ++i) text += (i ? ", " : " ") + l.servers[i];
        return text;
    }
    std::string text = "role " + std::string(config::to_string(*l.role));
    if (l.max_lag) text += ", max_lag " + size_text(*l.max_lag);
    if (l.fallback_to_primary) text += ", fallback to primary";
    return text;
}

/// patronictl list's words for a member's role.
std::string patronictl_role(const health::member_view& m)
{
    if (m.dcs) {
        switch (*m.dcs) {
        case health::dcs_role::leader: return "Leader";
        case health::dcs_role::standby_leader: return "Standby Leader";
        case health::dcs_role::sync_standby: return "Sync Standby";
        case health::dcs_role::replica: return "Replica";
        case health::dcs_role::unknown: break;
        }
    }
    if (m.sync_standby) return "Sync Standby";
    switch (m.role) {
    case health::pg_role::primary: return "Leader";
    case health::pg_role::replica: return "Replica";
    case health::pg_role::standby_leader: return "Standby Leader";
    case health::pg_role::unknown: break;
    }
    return {};
}

/// patronictl list's State column: a streaming replica says "streaming".
std::string patronictl_state(const health::cluster_snapshot& s, const health::member_view& m)
{
    if (!m.replication_state.empty() && m.state == "running") return m.replication_state;
    if (m.state.empty() && s.dcs)
        if (const auto* dm = s.dcs->find(m.name)) return dm->state;
    return m.state;
}

bool is_eligible(const health::cluster_snapshot& s, std::size_t listener, std::uint32_t member)
{
    if (listener >= s.eligible.size()) return false;
    const auto& e = s.eligible[listener];
    return std::find(e.begin(), e.end(), member) != e.end();
}

/// The members a listener may route to: every member for a role listener, its own list for a
/// static one.
bool listener_uses(const config::listener& l, const std::string& member)
{
    return l.role || std::find(l.servers.begin(), l.servers.end(), member) != l.servers.end();
}

/// HAProxy's status column: status_text(), or "MAINT (resolution)" (HAProxy's words) while the
/// member's host name does not resolve; the incidents say why.
std::string check_status(const health::member_view& m, const health::check_thresholds& thresholds)
{
    if (!m.address_error.empty()) return "MAINT (resolution)";
    return health::status_text(m.health, thresholds);
}

/// A member's status on one listener, as HAProxy would show it from the same check URI: a member
/// that answers its checks but does not fit the listener's role (a replica on :primary) is DOWN
/// there, since its Patroni endpoint would answer 503. Scripts that read `show stat` or the CSV
/// for "the server that is UP in primary" find the leader, as they did with HAProxy.
std::string listener_status(const health::member_view& m, bool eligible, bool follows_role,
                            const health::check_thresholds& thresholds)
{
    auto status = check_status(m, thresholds);
    if (follows_role && !eligible && status.starts_with("UP")) return "DOWN";
    return status;
}

std::optional<seconds> seconds_since_steady(std::int64_t ns, std::chrono::steady_clock::time_point now)
{
    if (ns == 0) return std::nullopt;
    const std::chrono::steady_clock::time_point then{std::chrono::steady_clock::duration{ns}};
    return duration_cast<seconds>(now - then);
}

/// The sum of `field(runtime)` over every version of a listener.
template <typename Field>
std::uint64_t sum(const std::vector<const listener_runtime*>& versions, Field field)
{
    std::uint64_t total = 0;
    for (const auto* v : versions) total += static_cast<std::uint64_t>(field(*v));
    return total;
}

template <typename Field>
std::uint64_t highest(const std::vector<const listener_runtime*>& versions, Field field)
{
    std::uint64_t best = 0;
    for (const auto* v : versions) best = std::max(best, static_cast<std::uint64_t>(field(*v)));
    return best;
}

/// The sum (or the highest) of one listener counter over every version of a listener.
template <typename T>
std::uint64_t sum_of(const std::vector<const listener_runtime*>& versions, std::atomic<T> listener_counters::*field)
{
    return sum(versions, [field](const listener_runtime& v) { return (v.counters.*field).load(std::memory_order_relaxed); });
}
template <typename T>
std::uint64_t highest_of(const std::vector<const listener_runtime*>& versions, std::atomic<T> listener_counters::*field)
{
    return highest(versions,
                   [field](const listener_runtime& v) { return (v.counters.*field).load(std::memory_order_relaxed); });
}

/// The same for one server counter of member `index`.
template <typename T>
std::uint64_t sum_of(const std::vector<const listener_runtime*>& versions, std::uint32_t index,
                     std::atomic<T> server_counters::*field)
{
    return sum(versions,
               [index, field](const listener_runtime& v) { return (v.servers[index].*field).load(std::memory_order_relaxed); });
}
template <typename T>
std::uint64_t highest_of(const std::vector<const listener_runtime*>& versions, std::uint32_t index,
                         std::atomic<T> server_counters::*field)
{
    return highest(versions,
                   [index, field](const listener_runtime& v) { return (v.servers[index].*field).load(std::memory_order_relaxed); });
}

/// The handshakes of every version of a listener on `leg`; `active` when it does TLS there.
stats::tls_leg_counts tls_counts(const std::vector<const listener_runtime*>& versions, tls_leg leg, bool active)
{
    const auto at = static_cast<std::size_t>(leg);
    stats::tls_leg_counts counts;
    counts.active = active;
    counts.done = sum(versions, [at](const listener_runtime& v) { return v.counters.tls_handshakes[at].load(std::memory_order_relaxed); });
    for (std::size_t kind = 0; kind < tls::handshake_failure_count; ++kind)
        counts.failures.emplace_back(std::string(tls::to_string(static_cast<tls::handshake_failure>(kind))),
                                     sum(versions, [at, kind](const listener_runtime& v) {
                                         return v.counters.tls_failures[at][kind].load(std::memory_order_relaxed);
                                     }));
    return counts;
}

/// Adds `more` into `into` (same bounds: every histogram of a kind is made with the same ones).
void merge(stats::histogram_view& into, const stats::histogram_view& more)
{
    if (into.counts.empty()) {
        into = more;
        return;
    }
    for (std::size_t i = 0; i < into.counts.size() && i < more.counts.size(); ++i) into.counts[i] += more.counts[i];
    into.sum_seconds += more.sum_seconds;
}

constexpr auto relaxed = std::memory_order_relaxed;

/// HAProxy's check->health: rise+fall-1 while up and passing, one less per failed check while
/// going down, 0 when down, one more per passed check while coming up (up again at `rise`).
unsigned check_health(const health::member_health& h, const health::check_thresholds& t)
{
    const unsigned rise = std::max(t.rise, 1u);
    const unsigned fall = std::max(t.fall, 1u);
    switch (h.status) {
    case health::health_status::up: return rise + fall - 1;
    case health::health_status::going_down:
        return rise + fall - 1 - std::min(h.consecutive_failures, fall - 1);
    case health::health_status::coming_up: return std::min(h.consecutive_successes, rise - 1);
    case health::health_status::down:
    case health::health_status::unchecked: break;
    }
    return 0;
}

} // namespace

stats_collector::versions stats_collector::versions_of(const listener_runtime& current) const
{
    versions all;
    for (const auto& r : listeners_)
        if (r.cfg.name == current.cfg.name && &r != &current) all.push_back(&r);
    all.push_back(&current);
    return all;
}

void stats_collector::rate::advance(std::uint64_t total) noexcept
{
    current = total - std::min(total, last_total);
    last_total = total;
    max = std::max(max, current);
}

stats_collector::stats_collector(const std::list<listener_runtime>& listeners, const session_env& env,
                                 const worker_pool& workers, stats::event_log& events)
    : listeners_(listeners), env_(env), workers_(workers), events_(events)
{
}

void stats_collector::configure(const config::config& cfg)
{
    scope_ = cfg.scope;
    thresholds_ = health::thresholds_from(cfg.health);
    if (cfg.stats) {
        refresh_ = std::max(seconds{1}, duration_cast<seconds>(cfg.stats->refresh));
        admin_enabled_ = cfg.stats->admin.value_or(cfg.stats->auth.has_value());
        hide_version_ = cfg.stats->hide_version;
    }
    stats_tls_ = cfg.stats && cfg.stats->tls;
    api_ports_.clear();
    for (const auto& m : cfg.members)
        if (const auto url = health::parse_http_url(m.api)) api_ports_[m.name] = url->port;
}

void stats_collector::on_snapshot(const health::snapshot_ptr& snapshot)
{
    if (!snapshot) return;
    snapshot_ = snapshot;
    for (const auto& m : snapshot->members) {
        auto& checks = checks_[m.name];
        // The poller publishes after every check, so at most one is new; the duration of the
        // last one is the one to record.
        if (m.health.checks > checks.seen && m.health.last_check) checks.durations->observe(m.health.last_check->duration);
        checks.seen = m.health.checks;
    }
    if (snapshot->primary) {
        const auto& now = snapshot->members[*snapshot->primary].name;
        if (!last_leader_.empty() && now != last_leader_) {
            ++leader_changes_;
            events_.add("leader", "leader changed from " + last_leader_ + " to " + now);
        }
        last_leader_ = now;
    }
}

void stats_collector::sample()
{
    for (const auto& l : listeners_) {
        if (l.retired) continue;
        const auto all = versions_of(l);
        listener_rates_[l.cfg.name].advance(sum_of(all, &listener_counters::accepted));
        for (std::uint32_t i = 0; snapshot_ && i < snapshot_->members.size() && i < max_tracked_members; ++i)
            server_rates_[l.cfg.name + "/" + snapshot_->members[i].name].advance(
                sum_of(all, i, &server_counters::sessions_total));
        report_changes(all, seen_[l.cfg.name]);
    }
}

void stats_collector::report_changes(const versions& l, seen_totals& seen)
{
    const seen_totals now{
        .killed = sum(l, [](const listener_runtime& v) {
                      std::uint64_t n = 0;
                      for (const auto& k : v.counters.killed) n += k.load(relaxed);
                      return n;
                  }),
        .queued = sum_of(l, &listener_counters::queued_total),
        .rejected_no_server = sum_of(l, &listener_counters::rejected_no_server),
        .rejected_limit = sum_of(l, &listener_counters::rejected_limit) +
                          sum_of(l, &listener_counters::rejected_global_limit),
        .rejected_member_limit = sum_of(l, &listener_counters::rejected_member_limit)};
    const std::string on = " on listener " + l.back()->cfg.name;
    if (now.killed > seen.killed)
        events_.add("killed", std::to_string(now.killed - seen.killed) + " session(s) killed" + on +
                                  " (their member left it; see the log for why)");
    if (now.queued > seen.queued)
        events_.add("queued", std::to_string(now.queued - seen.queued) + " client(s) queued" + on +
                                  " waiting for an eligible member");
    if (now.rejected_no_server > seen.rejected_no_server)
        events_.add("rejected", std::to_string(now.rejected_no_server - seen.rejected_no_server) +
                                    " client(s) rejected" + on + ": no server (57P03)");
    if (now.rejected_limit > seen.rejected_limit)
        events_.add("rejected", std::to_string(now.rejected_limit - seen.rejected_limit) + " client(s) rejected" + on +
                                    ": max_connections (53300)");
    if (now.rejected_member_limit > seen.rejected_member_limit)
        events_.add("rejected", std::to_string(now.rejected_member_limit - seen.rejected_member_limit) +
                                    " client(s) rejected" + on + ": every eligible member at its max_connections (53300)");
    seen = now;
}

stats::server_row stats_collector::server_row(const versions& all, std::uint32_t index) const
{
    const auto& l = *all.back();
    const auto& m = snapshot_->members[index];
    const auto now = std::chrono::steady_clock::now();
    stats::server_row row;
    row.name = m.name;
    row.address = endpoint_text(m.host, m.port);
    row.sessions_cur = sum(all, [index](const listener_runtime& v) { return v.member_sessions[index].load(relaxed); });
    row.sessions_max = highest_of(all, index, &server_counters::sessions_max);
    row.sessions_total = sum_of(all, index, &server_counters::sessions_total);
    row.lb_total = sum_of(all, index, &server_counters::lb_total);
    const auto last_ns = highest_of(all, index, &server_counters::last_session_ns);
    row.last_session = seconds_since_steady(static_cast<std::int64_t>(last_ns), now);
    if (auto it = server_rates_.find(l.cfg.name + "/" + m.name); it != server_rates_.end()) {
        row.rate_cur = it->second.current;
        row.rate_max = it->second.max;
    }
    row.bytes_in = sum_of(all, index, &server_counters::bytes_in);
    row.bytes_out = sum_of(all, index, &server_counters::bytes_out);
    row.errors_conn = sum_of(all, index, &server_counters::errors_conn);
    row.errors_resp = sum_of(all, index, &server_counters::errors_resp);
    row.killed = sum_of(all, index, &server_counters::killed);
    const auto opaque = sum_of(all, index, &server_counters::opaque_live);
    row.tls_by_client = opaque;
    row.tls_by_patroxy = sum_of(all, index, &server_counters::tls_live) - opaque;
    for (const auto* v : all) merge(row.connect_time, v->servers[index].connect_time.view());

    const bool eligible = is_eligible(*snapshot_, l.index, index);
    row.admin = static_cast<stats::admin_state>(l.admin[index].load(relaxed));
    switch (row.admin) {
    case stats::admin_state::maint: row.status = "MAINT"; break;
    case stats::admin_state::drain: row.status = "DRAIN"; break;
    case stats::admin_state::ready: row.status = listener_status(m, eligible, l.cfg.role.has_value(), thresholds_); break;
    }
    row.last_check = health::last_check_text(m.health);
    const auto setting = snapshot_->setting(l.index, index);
    row.weight = setting.weight;
    row.sessions_limit = setting.max_connections;
    // A primary in a replica listener is there only as its fallback: HAProxy's backup server.
    const bool fallback = eligible && l.cfg.role == config::listener_role::replica && snapshot_->primary == index;
    row.backup = setting.backup || fallback;
    row.active = eligible && !row.backup && row.admin == stats::admin_state::ready;
    row.eligible = eligible;
    row.check_health = check_health(m.health, thresholds_);
    if (auto it = api_ports_.find(m.name); it != api_ports_.end()) row.check_port = it->second;
    row.checks_failed = m.health.failed_checks;
    row.downs = m.health.times_down;
    row.downtime = duration_cast<seconds>(health::downtime(m.health, now));
    if (m.health.last_change != health::health_clock::time_point{})
        row.last_change = duration_cast<seconds>(now - m.health.last_change);

    if (m.has_status) row.role = std::string(health::to_string(m.role));
    row.state = m.state;
    row.timeline = m.timeline;
    row.lag_bytes = m.lag;
    return row;
}

stats::listener_row stats_collector::listener_row(const versions& all) const
{
    const auto& l = *all.back();
    stats::listener_row row;
    row.name = l.cfg.name;
    row.bind = endpoint_text(l.cfg.bind.host, l.cfg.bind.port);
    row.routes = routes_text(l.cfg);
    row.role = l.cfg.role ? std::string(config::to_string(*l.cfg.role)) : "static";
    row.max_lag_bytes = l.cfg.max_lag;
    row.balance = std::string(config::to_string(l.cfg.balance));
    row.queue_cur = sum_of(all, &listener_counters::queued);
    row.queue_max = highest_of(all, &listener_counters::queued_max);
    row.queue_timeout = duration_cast<std::chrono::milliseconds>(l.cfg.queue_timeout);
    row.queued_total = sum_of(all, &listener_counters::queued_total);
    row.sessions_cur = sum_of(all, &listener_counters::active);
    row.sessions_max = highest_of(all, &listener_counters::active_max);
    row.sessions_limit = l.cfg.max_connections;
    row.sessions_total = sum_of(all, &listener_counters::accepted);
    if (auto it = listener_rates_.find(l.cfg.name); it != listener_rates_.end()) {
        row.rate_cur = it->second.current;
        row.rate_max = it->second.max;
    }
    row.bytes_in = sum_of(all, &listener_counters::bytes_in);
    row.bytes_out = sum_of(all, &listener_counters::bytes_out);
    row.denied_limit = sum_of(all, &listener_counters::rejected_limit);
    row.denied_global_limit = sum_of(all, &listener_counters::rejected_global_limit);
    row.denied_member_limit = sum_of(all, &listener_counters::rejected_member_limit);
    row.errors_startup = sum_of(all, &listener_counters::rejected_startup);
    row.denied_no_server = sum_of(all, &listener_counters::rejected_no_server);
    row.denied_plaintext = sum_of(all, &listener_counters::rejected_plaintext);
    row.denied_direct_tls = sum_of(all, &listener_counters::rejected_direct_tls);
    row.accept_pauses = sum_of(all, &listener_counters::accept_pauses);
    row.tls = std::string(config::to_string(l.cfg.tls));
    row.server_tls = std::string(config::to_string(l.cfg.server_tls));
    row.tls_client = tls_counts(all, tls_leg::client, l.cfg.tls == config::tls_mode::terminate);
    row.tls_server = tls_counts(all, tls_leg::server, l.cfg.server_tls != config::server_tls_mode::disable);
    const auto killed = [&all](kill_kind k) {
        return sum(all, [k](const listener_runtime& v) { return v.counters.killed[static_cast<std::size_t>(k)].load(relaxed); });
    };
    row.killed = {.role_lost = killed(kill_kind::role_lost),
                  .member_down = killed(kill_kind::member_down),
                  .over_lag = killed(kill_kind::over_lag),
                  .maint = killed(kill_kind::maint),
                  .backup_replaced = killed(kill_kind::backup_replaced)};
    for (const auto* v : all) merge(row.queue_wait, v->counters.queue_wait.view());

    bool any_server = false; // a member takes new sessions: an active one, else a backup
    if (snapshot_) {
        for (std::uint32_t i = 0; i < snapshot_->members.size() && i < max_tracked_members; ++i) {
            if (!listener_uses(l.cfg, snapshot_->members[i].name)) continue;
            row.servers.push_back(server_row(all, i));
            any_server = any_server || takes_new_sessions(*snapshot_, l.index, i, &l.admin);
        }
        if (l.index < snapshot_->empty_since.size() &&
            snapshot_->empty_since[l.index] != std::chrono::system_clock::time_point{})
            row.empty_for = duration_cast<seconds>(std::chrono::system_clock::now() - snapshot_->empty_since[l.index]);
    }
    if (row.sessions_limit && row.sessions_cur >= row.sessions_limit)
        row.status = "FULL";
    else
        row.status = any_server ? "OPEN" : "NO SERVER";
    return row;
}

std::vector<stats::cluster_member> stats_collector::cluster_panel() const
{
    std::vector<stats::cluster_member> rows;
    if (!snapshot_) return rows;
    for (const auto& m : snapshot_->members) {
        stats::cluster_member row;
        row.name = m.name;
        row.host = endpoint_text(m.host, m.port);
        row.role = patronictl_role(m);
        row.state = patronictl_state(*snapshot_, m);
        row.timeline = m.timeline;
        row.lag_bytes = m.lag;
        row.check_status = check_status(m, thresholds_);
        row.last_check = health::last_check_text(m.health);
        if (auto it = checks_.find(m.name); it != checks_.end()) row.check_duration = it->second.durations->view();
        rows.push_back(std::move(row));
    }
    return rows;
}

stats::stats_view stats_collector::collect() const
{
    stats::stats_view view;
    if (!hide_version_) view.version = PATROXY_VERSION;
    view.pid = static_cast<std::int64_t>(::getpid());
    view.now = std::chrono::system_clock::now();
    view.uptime = duration_cast<seconds>(view.now - started_);
    view.refresh = refresh_;
    view.admin_enabled = admin_enabled_;
    view.scope = scope_;
    if (snapshot_) {
        view.leader = snapshot_->leader_in_dcs;
        if (snapshot_->primary) view.primary = snapshot_->members[*snapshot_->primary].name;
        view.generation = snapshot_->generation;
        for (const auto& inc : snapshot_->incidents) view.incidents.push_back(inc.text);
    }
    view.cluster = cluster_panel();
    for (const auto& l : listeners_)
        if (!l.retired) view.listeners.push_back(listener_row(versions_of(l)));
    view.events = events_.recent();
    view.leader_changes = leader_changes_;
    view.cancels = {.forwarded = env_.cancels_forwarded.load(std::memory_order_relaxed),
                    .unknown_key = env_.cancels_unknown_key.load(std::memory_order_relaxed),
                    .failed = env_.cancels_failed.load(std::memory_order_relaxed),
                    .broadcast = env_.cancels_broadcast.load(std::memory_order_relaxed)};
    view.reloads = reloads_;
    view.reload_failures = reload_failures_;
    view.last_reload_ok = last_reload_ok_;
    const auto buffers = workers_.relay_buffers();
    view.relay_buffers = {.in_use = buffers.in_use, .free = buffers.free, .bytes_each = buffers.buffer_size};
    view.stats_listener.tls = stats_tls_;
    view.stats_listener.tls_handshake_failures.assign(stats_tls_failures_.begin(), stats_tls_failures_.end());
    return view;
}

} // namespace patroxy::proxy
