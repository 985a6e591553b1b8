// What the proxy routes by: an immutable, versioned view of the cluster's members and, for each
// listener, which members are eligible. Built on the control thread, shared read-only with every
// worker; a change means a new snapshot, never an edit.
#pragma once

#include "config/config.hpp"

#include <asio/ip/tcp.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace patroxy::health {

/// One PostgreSQL server as the proxy connects to it.
struct member_view {
    std::string name;
    std::string host;
    std::uint16_t port = 0;
    asio::ip::tcp::endpoint endpoint; ///< resolved address
};

struct cluster_snapshot {
    std::uint64_t generation = 0;
    std::vector<member_view> members;
    /// eligible[i]: indices into `members` that listener i (config order) may route to, in
    /// balancing order.
    std::vector<std::vector<std::uint32_t>> eligible;
};

using snapshot_ptr = std::shared_ptr<const cluster_snapshot>;

/// A member whose host could not be resolved.
struct resolve_error {
    std::string member;
    std::string message;
};

struct static_snapshot_result {
    snapshot_ptr snapshot;
    std::vector<resolve_error> errors; ///< members left out of the snapshot
};

/// The snapshot of a config whose listeners name static server lists: every listed server is
/// eligible. Resolves host names (blocking; call on the control thread only).
[[nodiscard]] static_snapshot_result make_static_snapshot(const config::config& cfg, std::uint64_t generation);

} // namespace patroxy::health
