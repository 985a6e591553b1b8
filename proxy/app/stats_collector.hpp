// Turns the proxy's live state (listener and server counters on every worker, the latest
// snapshot, the event log) into a stats::stats_view, the one copy all four stats formats render.
// Runs on the control thread: it is fed every snapshot the poller publishes and samples the
// counters once a second for session rates and for the aggregated events (N sessions killed,
// N clients queued or rejected).
#pragma once

#include "config/config.hpp"
#include "health/cluster_snapshot.hpp"
#include "proxy/stats/atomic_histogram.hpp"
#include "proxy/stats/event_log.hpp"
#include "proxy/stats/stats_view.hpp"

#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace patroxy::proxy {

struct listener_runtime;
struct session_env;
class worker_pool;

class stats_collector {
public:
    stats_collector(const std::list<listener_runtime>& listeners, const session_env& env, const worker_pool& workers,
                    stats::event_log& events);

    /// The settings the view reflects (scope, rise/fall, refresh, whether admin forms are offered).
    void configure(const config::config& cfg);

    /// Every snapshot the poller publishes: check durations and leader changes.
    void on_snapshot(const health::snapshot_ptr& snapshot);

    /// Once a second: session rates, and one event per listener for what happened in that
    /// second (sessions killed, clients queued, clients rejected).
    void sample();

    void count_reload() noexcept
    {
        ++reloads_;
        last_reload_ok_ = true;
    }
    /// A reload refused (bad file, unloadable certificate): the previous config goes on.
    void count_reload_failure() noexcept
    {
        ++reload_failures_;
        last_reload_ok_ = false;
    }

    /// A connection to the HTTPS stats listener whose handshake failed, by the proxy's name for
    /// why ("timeout", "no_client_certificate", ...). Kept here, not in the server, so that the
    /// totals survive a reload that restarts the stats listener.
    void count_stats_tls_failure(std::string_view reason) { ++stats_tls_failures_[std::string(reason)]; }

    [[nodiscard]] stats::stats_view collect() const;

    /// The latest snapshot, or null before the first.
    [[nodiscard]] const health::snapshot_ptr& snapshot() const noexcept { return snapshot_; }

private:
    /// New sessions per second: the last completed second and the highest seen.
    struct rate {
        std::uint64_t last_total = 0;
        std::uint64_t current = 0;
        std::uint64_t max = 0;
        void advance(std::uint64_t total) noexcept;
    };
    /// Totals seen at the previous sample, to report what changed in the last second.
    struct seen_totals {
        std::uint64_t killed = 0;
        std::uint64_t queued = 0;
        std::uint64_t rejected_no_server = 0;
        std::uint64_t rejected_limit = 0; ///< the listener's or the global max_connections
        std::uint64_t rejected_member_limit = 0;
    };
    struct member_checks {
        std::uint64_t seen = 0; ///< health.checks already observed
        std::unique_ptr<stats::atomic_histogram> durations =
            std::make_unique<stats::atomic_histogram>(stats::check_duration_bounds);
    };

    /// A listener as operators know it, by name: the open runtime last, after the ones a reload
    /// replaced (their sessions still count, so totals never go backwards).
    using versions = std::vector<const listener_runtime*>;
    [[nodiscard]] versions versions_of(const listener_runtime& current) const;

    void report_changes(const versions& l, seen_totals& seen);
    [[nodiscard]] stats::listener_row listener_row(const versions& l) const;
    [[nodiscard]] stats::server_row server_row(const versions& l, std::uint32_t index) const;
    [[nodiscard]] std::vector<stats::cluster_member> cluster_panel() const;

    const std::list<listener_runtime>& listeners_;
    const session_env& env_;
    const worker_pool& workers_;
    stats::event_log& events_;

    std::string scope_;
    health::check_thresholds thresholds_;
    std::chrono::seconds refresh_{10};
    bool admin_enabled_ = false;
    bool hide_version_ = false; ///< stats.hide_version: the view carries no version
    bool stats_tls_ = false; ///< the stats listener serves HTTPS

    health::snapshot_ptr snapshot_;
    std::string last_leader_;        ///< the last member confirmed primary; empty before the first
    std::uint64_t leader_changes_ = 0;
    std::uint64_t reloads_ = 0;
    std::uint64_t reload_failures_ = 0;
    bool last_reload_ok_ = true;
    std::map<std::string, member_checks> checks_;       ///< by member name
    std::map<std::string, rate> listener_rates_;        ///< by listener name
    std::map<std::string, rate> server_rates_;          ///< by "listener/member"
    std::map<std::string, seen_totals> seen_;           ///< by listener name
    std::map<std::string, std::uint64_t> stats_tls_failures_; ///< failed handshakes by reason
    std::map<std::string, std::uint16_t> api_ports_; ///< Patroni REST API port by configured member name
    const std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
};

} // namespace patroxy::proxy
