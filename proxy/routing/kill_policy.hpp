// When a new snapshot arrives, which live sessions must close. DESIGN.md "Killing": a session
// closes when its member lost the leader role or was marked down; a replica over max_lag only
// stops getting new sessions, unless the listener says on_lag: shutdown; so does a member whose
// host name stopped resolving; a backup's sessions close when a non-backup member is back, if the
// listener says shutdown_backup_sessions. Pure.
#pragma once

#include "config/config.hpp"
#include "health/cluster_snapshot.hpp"
#include "proxy/routing/route.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace patroxy::proxy {

/// Why sessions are killed, for the counters (stats::kill_counts has the same five).
enum class kill_kind : std::uint8_t {
    role_lost,       ///< no longer the primary, or no longer eligible for another reason
    member_down,     ///< failed its checks, or left the cluster
    over_lag,        ///< past max_lag with on_lag: shutdown
    maint,           ///< an operator put it in maintenance
    backup_replaced, ///< a backup, and a non-backup member is back (shutdown_backup_sessions)
};
inline constexpr std::size_t kill_kind_count = 5;

struct kill_decision {
    kill_kind kind = kill_kind::role_lost;
    std::string reason; ///< for the client's 57P01 and the log: "member node1 is no longer the primary"
};

/// Why a session of listener `listener` (index `listener_index`) on member `member` must close
/// under `current`, or nullopt to keep it. `admin` (the listener's drain/maint states) tells
/// whether a non-backup member takes sessions again: with shutdown_backup_sessions, the sessions
/// of an eligible backup then close too (HAProxy's `on-marked-up shutdown-backup-sessions`).
[[nodiscard]] std::optional<kill_decision> kill_reason(const config::listener& listener, std::size_t listener_index,
                                                       std::string_view member,
                                                       const health::cluster_snapshot& current,
                                                       const member_admin_states* admin = nullptr);

} // namespace patroxy::proxy
