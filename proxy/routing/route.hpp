// The routing decision for a new session: which eligible members to try, in which order. Pure:
// no sockets, no clocks; the session walks the plan and connects.
#pragma once

#include "config/config.hpp"
#include "health/cluster_snapshot.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace patroxy::proxy {

/// Members tracked for leastconn, by snapshot member index (the poller only appends members,
/// so an index names the same member in every snapshot). Larger clusters balance the rest
/// as if they had no sessions.
inline constexpr std::size_t max_tracked_members = 128;

/// Live sessions per member of one listener, for leastconn.
using member_session_counts = std::array<std::atomic<std::uint32_t>, max_tracked_members>;

/// An operator's override per member of one listener (stats::admin_state as a byte: 0 ready,
/// anything else drain or maint). A member not ready takes no new sessions.
using member_admin_states = std::array<std::atomic<std::uint8_t>, max_tracked_members>;

/// The members to try for one session, best first. Empty when no member may take it; then
/// full() tells "every member that could take it is at its max_connections" (the client
/// waits for a slot) from "no member is eligible" (it waits for a better snapshot).
class route_plan {
public:
    route_plan() = default;
    route_plan(const health::cluster_snapshot& snapshot, std::vector<std::uint32_t> order) noexcept
        : snapshot_(&snapshot), order_(std::move(order))
    {
    }
    /// An empty plan because every candidate is full.
    [[nodiscard]] static route_plan all_full() noexcept
    {
        route_plan p;
        p.full_ = true;
        return p;
    }

    [[nodiscard]] std::size_t attempts() const noexcept { return order_.size(); }
    [[nodiscard]] bool empty() const noexcept { return order_.empty(); }
    [[nodiscard]] bool full() const noexcept { return full_; }

    /// The k-th member to try, 0 <= k < attempts().
    [[nodiscard]] const health::member_view& candidate(std::size_t k) const noexcept
    {
        return snapshot_->members[order_[k]];
    }
    /// Its index in the snapshot.
    [[nodiscard]] std::uint32_t candidate_index(std::size_t k) const noexcept { return order_[k]; }

private:
    const health::cluster_snapshot* snapshot_ = nullptr;
    std::vector<std::uint32_t> order_;
    bool full_ = false;
};

/// Whether member `member` may take new sessions of listener `listener_index` apart from its
/// load: eligible there, a weight above 0 on that listener, and ready (not drain or maint).
[[nodiscard]] bool takes_new_sessions(const health::cluster_snapshot& snapshot, std::size_t listener_index,
                                      std::uint32_t member, const member_admin_states* admin = nullptr) noexcept;

/// Whether some non-backup member takes new sessions of the listener (takes_new_sessions()),
/// full or not: while one does, the listener's backups take none.
[[nodiscard]] bool has_active_member(const health::cluster_snapshot& snapshot, std::size_t listener_index,
                                     const member_admin_states* admin = nullptr) noexcept;

/// Plans a route for listener `listener_index`:
/// - roundrobin: weighted, interleaved (weights 3:1 give a a b a ...), position `ticket`, the
///   listener's running count of routed sessions;
/// - source: as roundrobin, with `ticket` the hash of the client's address;
/// - first: the first eligible member in config order that has a weight;
/// - leastconn: the fewest live sessions per unit of weight, ties broken round-robin.
/// Weights are the listener's (cluster_snapshot::setting). Members of weight 0, and members an
/// operator set to drain or maint (`admin`), take no new sessions. After the first, the others
/// follow in turn, at most `retries` of them, so a failed connect moves on.
///
/// Backups (HAProxy's `backup` without `option allbackups`): while a non-backup member takes new
/// sessions (has_active_member()), backups take none, even when every non-backup member is full
/// (the client then waits for a slot, as HAProxy queues rather than spills to a backup). With no
/// such member, the first backup in the listener's member order takes every new session, whatever
/// the balance mode; the other backups follow it only as retries, so they take sessions when it
/// fails to connect or is full.
///
/// max_connections (`sessions` holds the live counts): a member at its limit is left out; when
/// that leaves nobody, the plan is empty and full().
[[nodiscard]] route_plan plan_route(const health::cluster_snapshot& snapshot, std::size_t listener_index,
                                    config::balance_mode balance, std::uint64_t ticket, unsigned retries,
                                    const member_session_counts* sessions = nullptr,
                                    const member_admin_states* admin = nullptr);

} // namespace patroxy::proxy
