// Typed views of the two Patroni 3.0.2 REST bodies patroxy routes by: GET /patroni (one member
// about itself) and GET /cluster (the DCS as one member sees it). Decoding is pure and never
// throws: a body either becomes a struct or a one-line reason naming the offending field.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace patroxy::health {

/// The role a member reports about itself in GET /patroni. Patroni 3.0.2 derives it from
/// pg_is_in_recovery(), so `primary` means "out of recovery", not "holds the leader lock".
enum class pg_role {
    unknown,        ///< anything else Patroni may say ("uninitialized", "demoted", "promoted", ...)
    primary,        ///< "master" (3.0.2) or "primary" (newer Patroni)
    replica,        ///< in recovery, following a leader
    standby_leader, ///< leader of a standby cluster (in recovery, follows a remote primary)
};

/// A member's role in GET /cluster, i.e. as the DCS records it.
enum class dcs_role {
    unknown,        ///< a role this build does not know (newer Patroni adds some)
    leader,         ///< holds the leader lock
    replica,        ///< any other member
    sync_standby,   ///< listed in the DCS /sync key
    standby_leader, ///< holds the leader lock of a standby cluster
};

/// Patroni member tags. Patroni reads the four routing tags with Python truthiness and drops
/// them from its bodies when false, so absent means false; every tag is also kept as text.
struct patroni_tags {
    bool nofailover = false;
    bool noloadbalance = false;
    bool nosync = false;
    bool clonefrom = false;
    /// Every tag as published; non-string values as JSON text ("true", "3").
    std::map<std::string, std::string> all{};

    bool operator==(const patroni_tags&) const = default;
};

/// WAL positions in bytes (LSNs). A primary reports only `location`; a replica the others.
struct xlog_position {
    std::optional<std::uint64_t> location{};          ///< primary: current WAL write position
    std::optional<std::uint64_t> received_location{}; ///< replica: last WAL received
    std::optional<std::uint64_t> replayed_location{}; ///< replica: last WAL replayed (what reads see)
    std::optional<bool> paused{};                     ///< replica: replay paused (pg_wal_replay_pause)
};

/// One row of the primary's pg_stat_replication as Patroni reports it.
struct replication_peer {
    std::string application_name{}; ///< Patroni sets it to the member name
    std::string state{};            ///< "streaming", "catchup", ...
    std::string sync_state{};       ///< "async", "sync", "quorum", "potential"
};

/// GET /patroni. Only `state` and `role` are always present: when PostgreSQL is not running
/// Patroni shrinks the body to those plus the DCS flags and identity.
struct patroni_status {
    std::string state;     ///< PostgreSQL as Patroni manages it: "running", "starting", "stopped", ...
    std::string role_text; ///< role as written ("master", "replica", "uninitialized", ...)
    pg_role role = pg_role::unknown;
    std::optional<std::uint64_t> timeline{};
    xlog_position xlog{};
    patroni_tags tags{};
    bool sync_standby = false;     ///< this replica is in the DCS /sync key (synchronous_mode)
    bool pending_restart = false;  ///< a changed setting needs a PostgreSQL restart
    bool pause = false;            ///< cluster in maintenance mode
    bool cluster_unlocked = false; ///< this member sees no leader lock (or no DCS at all)
    bool failsafe_mode_is_active = false;
    std::vector<replication_peer> replication{}; ///< primary only: its streaming standbys
    std::string database_system_identifier{};
    std::string postmaster_start_time{};
    std::optional<std::uint32_t> server_version{}; ///< e.g. 150018
    std::optional<std::uint64_t> dcs_last_seen{};  ///< Unix time of this member's last DCS contact
    std::string patroni_version{};
    std::string scope{};
};

/// One member in GET /cluster.
struct cluster_member {
    std::string name;
    std::string role_text; ///< role as written
    dcs_role role = dcs_role::unknown;
    std::string state{};   ///< as the member last wrote it to the DCS ("running", "stopped", ...)
    std::string api_url{}; ///< e.g. "http://10.0.1.10:8008/patroni"
    std::string host{};    ///< PostgreSQL host, when the member published one
    std::optional<std::uint16_t> port{};
    std::optional<std::uint64_t> timeline{};
    /// Bytes behind the DCS's last leader LSN (refreshed every loop_wait, so coarse). Absent for
    /// the leader, and nullopt when Patroni says "unknown".
    std::optional<std::uint64_t> lag{};
    patroni_tags tags{};
    bool pending_restart = false;
};

/// GET /cluster: the DCS view. Patroni sorts members by name.
struct cluster_view {
    std::vector<cluster_member> members{};
    bool pause = false; ///< maintenance mode

    /// The member holding the leader lock (role leader or standby_leader), if exactly one does.
    [[nodiscard]] const cluster_member* leader() const noexcept;
    /// The member with this name, or nullptr.
    [[nodiscard]] const cluster_member* find(std::string_view name) const noexcept;
};

/// A decoded body or the reason it could not be decoded.
template <typename T>
struct decode_result {
    std::optional<T> value{}; ///< set iff `error` is empty
    std::string error{};      ///< e.g. "not JSON: ...", "field 'timeline' is not an integer"
};

/// Decodes a GET /patroni body. Unknown fields are ignored and null counts as absent, so newer
/// Patroni versions still decode; a known field of the wrong type is an error.
[[nodiscard]] decode_result<patroni_status> decode_patroni_status(std::string_view body) noexcept;

/// Decodes a GET /cluster body, with the same leniency as decode_patroni_status().
[[nodiscard]] decode_result<cluster_view> decode_cluster_view(std::string_view body) noexcept;

/// "master" and "primary" -> primary, "replica", "standby_leader"; anything else -> unknown.
[[nodiscard]] pg_role parse_pg_role(std::string_view text) noexcept;
/// "leader", "replica", "sync_standby", "standby_leader"; anything else -> unknown.
[[nodiscard]] dcs_role parse_dcs_role(std::string_view text) noexcept;

/// Canonical names: "primary", "replica", "standby_leader", "unknown".
[[nodiscard]] std::string_view to_string(pg_role r) noexcept;
/// Patroni's names: "leader", "replica", "sync_standby", "standby_leader", "unknown".
[[nodiscard]] std::string_view to_string(dcs_role r) noexcept;

} // namespace patroxy::health
