// What the proxy routes by: an immutable, versioned view of the cluster's members and, for each
// listener, which members are eligible. Built on the control thread, shared read-only with every
// worker; a change means a new snapshot, never an edit.
#pragma once

#include "config/config.hpp"
#include "health/patroni/patroni_status.hpp"
#include "health/state/member_health.hpp"

#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace patroxy::health {

/// One PostgreSQL server as the proxy connects to it, and what patroxy knows about it. Every
/// field after `endpoint` has a default, so {name, host, port, endpoint} still builds one.
struct member_view {
    std::string name;
    std::string host;
    std::uint16_t port = 0;
    asio::ip::tcp::endpoint endpoint; ///< resolved address; unset while address_error says why
    /// Why there is no address to connect to: the member's host name has not been looked up yet,
    /// or does not resolve ("cannot resolve pg1: Host not found (authoritative)"). Empty when
    /// `endpoint` holds one. Such a member takes no new sessions (cluster_snapshot::unaddressed).
    std::string address_error{};

    std::uint32_t weight = 100;       ///< from the config (HAProxy's `weight`)
    bool up = true;                   ///< routable by health: up, "UP 1/3", or never checked
    member_health health{};           ///< check state and the facts of the last check
    bool has_status = false;          ///< a GET /patroni answer has been decoded at least once
    pg_role role = pg_role::unknown;  ///< as the member reports itself (SQL-derived in 3.0.2)
    std::string role_text{};          ///< role as the member wrote it ("master", ...)
    std::string state{};              ///< PostgreSQL state per Patroni ("running", ...)
    std::optional<std::uint64_t> timeline{};
    std::optional<std::uint64_t> lag{}; ///< bytes behind the primary; nullopt when unknown
    patroni_tags tags{};
    bool pending_restart = false;
    std::optional<dcs_role> dcs{};    ///< role in GET /cluster; nullopt when absent there
    bool sync_standby = false;        ///< a synchronous standby (DCS or the primary says so)
    std::string replication_state{};  ///< in the primary's pg_stat_replication ("streaming")
};

/// Something wrong with the cluster that explains a routing decision, worth one log line when
/// it first appears (compare with the previous snapshot's list; see new_incidents()).
enum class incident_kind {
    no_dcs_view,            ///< GET /cluster has not answered: nobody can be primary
    no_dcs_leader,          ///< the DCS holds no leader lock (election under way)
    dcs_leader_unknown,     ///< the DCS leader is not one of our members
    dcs_leader_down,        ///< the DCS leader fails its checks or never answered
    dcs_leader_not_primary, ///< the DCS leader is still in recovery, not running, or sees no lock
    primary_not_dcs_leader, ///< a member out of recovery does not hold the lock
    several_primaries,      ///< more than one member reports itself primary
    sql_check_disagrees,    ///< health.sql_check: the DCS leader is in recovery by SQL, or its SQL check failed
    no_address,             ///< a member's host name does not resolve (or not yet): it takes no new sessions
};

struct incident {
    incident_kind kind = incident_kind::no_dcs_view;
    std::string text; ///< one line naming the members involved, e.g. "two members claim primary: node1, node2"

    bool operator==(const incident&) const = default;
};

/// One member's routing settings on one listener: config::listener::member_settings resolved by
/// member name (a member the listener names nothing for, a discovered one say, gets the defaults).
struct listener_member {
    std::uint32_t weight = 100;        ///< the listener's `weight` for it, else member::weight
    bool backup = false;               ///< takes new sessions only while no non-backup member does
    std::uint32_t max_connections = 0; ///< live sessions it takes from this listener; 0 = no limit

    bool operator==(const listener_member&) const = default;
};

struct cluster_snapshot {
    std::uint64_t generation = 0;
    std::vector<member_view> members;
    /// eligible[i]: indices into `members` that listener i (config order) may route to, in
    /// balancing order.
    std::vector<std::vector<std::uint32_t>> eligible;
    /// unaddressed[i]: members that listener i would route to but for their address (see
    /// member_view::address_error). They take no new sessions; their live sessions stay, because
    /// a session holds a connection, not a name.
    std::vector<std::vector<std::uint32_t>> unaddressed{};

    /// The member writes go to: DCS leader lock, out of recovery by its own account (and by its
    /// SQL check when health.sql_check is set), running, up. nullopt while any of that is
    /// missing or disputed.
    std::optional<std::uint32_t> primary{};
    std::string leader_in_dcs{};       ///< holder of the DCS leader lock; empty when none or unknown
    std::optional<cluster_view> dcs{}; ///< the GET /cluster answer used, for the cluster panel
    std::vector<incident> incidents{}; ///< why the routing is degraded, if it is
    /// Per listener: since when it has had no eligible member (the epoch while it has one).
    /// Carried over from snapshot to snapshot by the poller, for the 57P03 message and stats.
    std::vector<std::chrono::system_clock::time_point> empty_since{};
    /// settings[l][m]: member m (snapshot order) on listener l (config order).
    std::vector<std::vector<listener_member>> settings{};

    /// Member `m`'s settings on listener `l`; for a snapshot built without them (tests), the
    /// member's own weight and no backup or limit.
    [[nodiscard]] listener_member setting(std::size_t l, std::uint32_t m) const noexcept
    {
        if (l < settings.size() && m < settings[l].size()) return settings[l][m];
        return m < members.size() ? listener_member{.weight = members[m].weight} : listener_member{};
    }
};

using snapshot_ptr = std::shared_ptr<const cluster_snapshot>;

} // namespace patroxy::health
