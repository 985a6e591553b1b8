// Deriving the routing snapshot from what the poller knows: the configured listeners, each
// member's check state and last GET /patroni answer, and the last GET /cluster (DCS) view.
// Pure, so every routing rule of DESIGN.md "Listener roles" is testable on plain structs.
#pragma once

#include "config/config.hpp"
#include "health/cluster_snapshot.hpp"
#include "health/patroni/patroni_status.hpp"
#include "health/state/member_health.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace patroxy::health {

/// What the poller knows about one member.
struct member_observation {
    config::member member;                  ///< name, host, port, api, weight (configured or discovered)
    member_health health{};                 ///< check state; unchecked for a member with no API
    std::optional<patroni_status> status{}; ///< last decoded GET /patroni; nullopt if none yet
    /// health.sql_check: pg_is_in_recovery() as the member's PostgreSQL last answered it; nullopt
    /// when not checked (only members reporting primary are) or when the check failed.
    std::optional<bool> sql_in_recovery{};
    std::string sql_error{}; ///< why the last SQL check failed; empty when it answered or never ran
    /// Why the member has no address to connect to (its host name does not resolve, or has not
    /// been looked up yet); empty when it has one.
    std::string address_error{};
};

/// Builds the snapshot for `listeners` (config order) over `members` (their order is the
/// snapshot's member order, and the order within every eligible list).
///
/// Role listeners:
/// - primary: the one member that holds the DCS leader lock, reports itself primary (out of
///   recovery), is running, does not report cluster_unlocked, and is up; with `sql_check` set,
///   its own SQL check must also have answered pg_is_in_recovery() = false. Nobody when there is
///   no DCS view, no lock holder, or another up member also reports itself primary.
/// - replica: up, running, reports itself replica, not the DCS leader (a promotion in progress),
///   no `noloadbalance` tag, and with `max_lag` set a known lag <= max_lag.
/// - read-only: the primary, a standby cluster's standby leader (as Patroni's /read-only), and the
///   replica set.
/// - sync / async: the replica set split by synchronous standby; `nosync` is never sync.
/// - standby_leader (primary listeners): a standby cluster's leader is eligible too (Patroni's
///   /leader rather than /primary).
/// - tags: Patroni's `tag_<name>=<value>` filter, on the endpoints Patroni applies it to
///   (replica, read-only, sync, async, any; not primary or standby-leader): a member is eligible
///   only if it publishes every named tag with that text.
/// - fallback_to_primary: a non-primary listener with nobody eligible gets the primary (tags
///   aside: the fallback is the write member, whatever it publishes).
/// Lag is the primary's xlog.location minus the replica's replayed (else received) location,
/// as Patroni's /replica?lag; without both, the DCS's coarser /cluster lag; else unknown.
/// Static listeners (`servers`, no role): those servers that are up or never checked.
/// A member with an address_error is taken out of every eligible list into the listener's
/// `unaddressed` list (fallback_to_primary then looks for a primary that has an address); who is
/// primary does not depend on addresses, and each such member is a `no_address` incident.
/// Every listener also gets each member's settings on it (cluster_snapshot::settings): weight,
/// backup and max_connections from its member_settings, by member name. Backups stay in the
/// eligible lists; which of them take sessions is the router's choice (proxy/routing/route.hpp),
/// because it depends on the operator's drain/maint states too.
///
/// Endpoints are left unresolved: resolving is I/O, so the caller fills member_view::endpoint.
[[nodiscard]] cluster_snapshot derive_snapshot(std::span<const config::listener> listeners,
                                               std::span<const member_observation> members,
                                               const std::optional<cluster_view>& dcs, std::uint64_t generation,
                                               bool sql_check = false);

/// The incidents of `next` that `previous` did not have (all of them when previous is null):
/// what to log once when it appears, not on every snapshot.
[[nodiscard]] std::vector<incident> new_incidents(const cluster_snapshot* previous, const cluster_snapshot& next);

/// "no_dcs_view", "several_primaries", ...
[[nodiscard]] std::string_view to_string(incident_kind k) noexcept;

} // namespace patroxy::health
