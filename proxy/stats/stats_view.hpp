// Everything the stats listener shows, as plain values: one copy taken on the control thread, then
// rendered as HTML, JSON, CSV or Prometheus text by pure functions (render_*.hpp). Keeping the
// view separate from the live counters lets the renderers be tested on a fixed view, and lets
// all four formats agree because they read the same numbers.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace patroxy::proxy::stats {

/// An operator's override of one member on one listener (HAProxy's `set server ... state`).
enum class admin_state {
    ready, ///< routed normally
    drain, ///< no new sessions; live ones stay (HAProxy's DRAIN)
    maint, ///< no new sessions, live ones closed (HAProxy's MAINT)
};

/// A latency distribution: fixed upper bounds in seconds, a count per bucket, and the sum. The
/// same shape prometheus-cpp's Histogram takes, so /metrics renders it without re-bucketing.
struct histogram_view {
    std::vector<double> bounds;        ///< ascending upper bounds in seconds, +Inf implied
    std::vector<std::uint64_t> counts; ///< per bucket, NOT cumulative; size bounds.size() + 1
    double sum_seconds = 0;

    [[nodiscard]] std::uint64_t count() const noexcept
    {
        std::uint64_t n = 0;
        for (auto c : counts) n += c;
        return n;
    }
};

/// One member as seen through one listener: HAProxy's server row plus Patroni's columns.
struct server_row {
    std::string name;    ///< member name, e.g. "node1"
    std::string address; ///< "127.0.0.1:5441"

    // Sessions: current, highest seen, total served, times chosen by the balancer (LbTot), and
    // seconds since the last new session (nullopt: never).
    std::uint64_t sessions_cur = 0;
    std::uint64_t sessions_max = 0;
    std::uint64_t sessions_limit = 0; ///< the member's max_connections on this listener; 0 = none
    std::uint64_t sessions_total = 0;
    std::uint64_t lb_total = 0;
    std::optional<std::chrono::seconds> last_session{};
    // Session rate: new sessions in the last second, and the highest such rate seen.
    std::uint64_t rate_cur = 0;
    std::uint64_t rate_max = 0;
    // Bytes relayed (a live session's within a second): in = client -> server, out = server -> client.
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    // Errors: Conn = connects that failed (refused, timed out, early FATAL); Resp = sessions
    // closed by a server error or a malformed server message.
    std::uint64_t errors_conn = 0;
    std::uint64_t errors_resp = 0;
    std::uint64_t killed = 0; ///< sessions closed because the member left the listener (or maint)
    /// Live sessions whose leg to this server is encrypted: by patroxy (server_tls) or by the
    /// client, relayed opaquely (passthrough).
    std::uint64_t tls_by_patroxy = 0;
    std::uint64_t tls_by_client = 0;

    // Server group.
    std::string status;     ///< "UP", "UP 1/3", "DOWN", "DOWN 1/2", "MAINT", "DRAIN", "no check"
    std::string last_check; ///< "L7OK/200 in 3ms", "L4CON in 0ms", "" before the first check
    std::uint32_t weight = 0;
    bool active = false;    ///< eligible on this listener now (HAProxy's Act = Y)
    /// Routable on this listener by role and checks, whatever the operator's drain/maint (HAProxy's
    /// operational state: the runtime API's srv_op_state).
    bool eligible = false;
    /// Routed only when no active member is: a `backup` member of the listener, or the primary as
    /// a read listener's fallback_to_primary. Bck = Y
    bool backup = false;
    std::uint64_t checks_failed = 0;            ///< Chk
    std::uint64_t downs = 0;                    ///< Dwn
    std::chrono::seconds downtime{};            ///< Dwntme
    std::optional<std::chrono::seconds> last_change{}; ///< seconds since it went up/down (LastChg)
    admin_state admin = admin_state::ready;
    /// HAProxy's check health counter: 0 (down) .. rise+fall-1 (up and passing), `rise` and more
    /// meaning up (the runtime API's srv_check_health).
    unsigned check_health = 0;
    /// The port of the member's Patroni REST API, which its checks call; 0 when not known (a
    /// member without `api`, or one discovered through the DCS).
    std::uint16_t check_port = 0;

    // Patroni.
    std::string role;  ///< as the member reports itself: "primary", "replica", "" when unknown
    std::string state; ///< "running", "starting", ... "" when unknown
    std::optional<std::uint64_t> timeline{};
    std::optional<std::uint64_t> lag_bytes{};

    histogram_view connect_time; ///< backend connect time, this member through this listener
};

/// Sessions a listener closed because their member may no longer serve it, by why.
struct kill_counts {
    std::uint64_t role_lost = 0;   ///< the member is no longer the primary / no longer a replica
    std::uint64_t member_down = 0; ///< the member failed its checks (marked DOWN)
    std::uint64_t over_lag = 0;    ///< replica past max_lag with on_lag: shutdown
    std::uint64_t maint = 0;       ///< an operator put the member in maint
    /// A backup's session, closed because a non-backup member is back (shutdown_backup_sessions).
    std::uint64_t backup_replaced = 0;

    [[nodiscard]] std::uint64_t total() const noexcept
    {
        return role_lost + member_down + over_lag + maint + backup_replaced;
    }
};

/// TLS handshakes patroxy did on one leg of a listener's sessions.
struct tls_leg_counts {
    bool active = false;    ///< the listener does TLS on this leg (terminate / server_tls)
    std::uint64_t done = 0; ///< completed handshakes
    /// Failed ones by reason (the label values of tls::handshake_failure: "timeout", ...),
    /// every reason listed, in that order.
    std::vector<std::pair<std::string, std::uint64_t>> failures;

    [[nodiscard]] std::uint64_t failed() const noexcept
    {
        std::uint64_t n = 0;
        for (const auto& f : failures) n += f.second;
        return n;
    }
};

/// One listener: HAProxy's FRONTEND row (and, for the table, its servers).
struct listener_row {
    std::string name;    ///< "primary"
    std::string bind;    ///< "127.0.0.1:5000"
    std::string routes;  ///< "role primary" / "role replica, max_lag 1MB" / "servers node1, node2"
    /// The config's role ("primary", "replica", "read-only", ...), "static" for a servers list:
    /// what alert rules select listeners by, since the names are the operator's.
    std::string role;
    std::optional<std::uint64_t> max_lag_bytes{}; ///< the listener's max_lag; none when unbounded
    std::string balance; ///< "roundrobin", "leastconn", "first"

    std::uint64_t queue_cur = 0;  ///< clients waiting for an eligible member now
    std::uint64_t queue_max = 0;  ///< the most seen waiting at once
    std::chrono::milliseconds queue_timeout{}; ///< how long a client may wait (shown as the Limit)
    std::uint64_t queued_total = 0; ///< clients that had to wait, ever

    std::uint64_t sessions_cur = 0;
    std::uint64_t sessions_max = 0;
    std::uint64_t sessions_limit = 0; ///< max_connections; 0 = none
    std::uint64_t sessions_total = 0; ///< connections accepted
    std::uint64_t rate_cur = 0;
    std::uint64_t rate_max = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;

    // Why clients were turned away.
    std::uint64_t denied_limit = 0;     ///< over max_connections: 53300 (HAProxy's Denied)
    std::uint64_t denied_global_limit = 0; ///< over the global max_connections: 53300
    std::uint64_t denied_member_limit = 0; ///< every eligible member full until queue_timeout: 53300
    std::uint64_t errors_startup = 0;   ///< malformed or timed-out startups (HAProxy's Req errors)
    std::uint64_t denied_no_server = 0; ///< no eligible member before queue_timeout: 57P03
    std::uint64_t denied_plaintext = 0; ///< plaintext startup under client_tls: require: 28000
    std::uint64_t denied_direct_tls = 0; ///< a direct-TLS client on a listener that cannot take it
    /// Times accepting paused because accept() failed (out of file descriptors), all workers.
    std::uint64_t accept_pauses = 0;
    kill_counts killed{};

    std::string tls;        ///< what the listener does with TLS: "passthrough", "disable", "terminate"
    std::string server_tls; ///< its leg to the servers: "disable", "prefer", ... "verify-full"
    tls_leg_counts tls_client; ///< handshakes with clients (tls: terminate)
    tls_leg_counts tls_server; ///< handshakes with servers (server_tls)

    std::string status; ///< "OPEN", "FULL" (at max_connections), "NO SERVER" (nothing eligible)
    std::optional<std::chrono::seconds> empty_for{}; ///< how long it has had no eligible member

    histogram_view queue_wait; ///< time clients spent queued

    std::vector<server_row> servers; ///< every configured/discovered member this listener may use
};

/// One row of the `patronictl list`-like cluster panel.
struct cluster_member {
    std::string name;
    std::string host;   ///< "127.0.0.1:5441"
    std::string role;   ///< patronictl's words: "Leader", "Replica", "Sync Standby", "" unknown
    std::string state;  ///< "running", "streaming", "stopped", ...
    std::optional<std::uint64_t> timeline{};
    std::optional<std::uint64_t> lag_bytes{};
    std::string check_status; ///< "UP", "DOWN 1/2", ... (status_text)
    std::string last_check;   ///< "L7OK/200 in 3ms"
    histogram_view check_duration; ///< GET /patroni durations
};

/// One line of the recent-events list.
struct event {
    std::chrono::system_clock::time_point at;
    std::string kind; ///< "leader", "member_down", "member_up", "killed", "queued", "rejected", "admin", "reload", "incident"
    std::string text; ///< "leader changed from node1 to node2"
};

/// Cancel requests by what became of them.
struct cancel_counts {
    std::uint64_t forwarded = 0;
    std::uint64_t unknown_key = 0;
    std::uint64_t failed = 0;
    std::uint64_t broadcast = 0; ///< unknown key on a passthrough listener: sent to every server holding an opaque TLS session
};

/// Relay buffers over all workers: lent to sessions that are moving bytes (an idle session owns
/// none), and kept for reuse. Each is `bytes_each` long.
struct relay_buffer_counts {
    std::uint64_t in_use = 0;
    std::uint64_t free = 0;
    std::uint64_t bytes_each = 0;
};

/// The stats listener itself.
struct stats_listener_view {
    bool tls = false; ///< HTTPS ("tls": true in the stats object)
    /// Connections that ended before their TLS handshake completed, by reason: the label value
    /// (the proxy's names for handshake failures: "timeout", "no_client_certificate", ...) and
    /// the count, for each reason seen so far.
    std::vector<std::pair<std::string, std::uint64_t>> tls_handshake_failures;

    [[nodiscard]] std::uint64_t tls_handshake_failures_total() const noexcept
    {
        std::uint64_t n = 0;
        for (const auto& reason : tls_handshake_failures) n += reason.second;
        return n;
    }
};

struct stats_view {
    std::string version;                        ///< patroxy's version; empty with stats.hide_version
    std::int64_t pid = 0;
    std::chrono::system_clock::time_point now{};
    std::chrono::seconds uptime{};
    std::chrono::seconds refresh{10}; ///< the page's auto-refresh
    bool admin_enabled = false;       ///< stats.admin (or, unset, stats.auth): the admin forms are offered

    std::string scope;   ///< Patroni scope (cluster name); may be empty
    std::string leader;  ///< member that holds the DCS leader lock; empty when none
    std::string primary; ///< member writes go to now; empty when none
    std::uint64_t generation = 0; ///< snapshot generation
    std::vector<std::string> incidents; ///< why routing is degraded now, one line each

    std::vector<cluster_member> cluster;
    std::vector<listener_row> listeners;
    std::vector<event> events; ///< newest first

    std::uint64_t leader_changes = 0;
    cancel_counts cancels{};
    std::uint64_t reloads = 0;
    std::uint64_t reload_failures = 0; ///< SIGHUPs whose config was refused (the old one kept running)
    bool last_reload_ok = true;        ///< the latest reload was applied (true before any)
    relay_buffer_counts relay_buffers{};
    stats_listener_view stats_listener{};
};

[[nodiscard]] constexpr const char* to_string(admin_state s) noexcept
{
    switch (s) {
    case admin_state::ready: return "ready";
    case admin_state::drain: return "drain";
    case admin_state::maint: return "maint";
    }
    return "ready";
}

/// "ready", "drain" or "maint" (an admin form's value); nullopt for anything else.
[[nodiscard]] std::optional<admin_state> parse_admin_state(std::string_view text) noexcept;

} // namespace patroxy::proxy::stats
