// When a new snapshot arrives, which live sessions must close. DESIGN.md "Killing": a session
// closes when its member lost the leader role or was marked down; a replica over max_lag only
// stops getting new sessions, unless the listener says on_lag: shutdown. Pure.
#pragma once

#include "config/config.hpp"
#include "health/cluster_snapshot.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace patroxy::proxy {

/// Why a session of listener `listener` (index `listener_index`) on member `member` must close
/// under `current`, or nullopt to keep it.
[[nodiscard]] std::optional<std::string> kill_reason(const config::listener& listener, std::size_t listener_index,
                                                     std::string_view member,
                                                     const health::cluster_snapshot& current);

} // namespace patroxy::proxy
