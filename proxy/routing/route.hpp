// The routing decision for a new session: which eligible members to try, in which order. Pure:
// no sockets, no clocks; the session walks the plan and connects.
#pragma once

#include "config/config.hpp"
#include "health/cluster_snapshot.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace patroxy::proxy {

/// The members to try for one session. Empty when the listener has no eligible member.
class route_plan {
public:
    route_plan() = default;
    route_plan(const health::cluster_snapshot& snapshot, std::span<const std::uint32_t> eligible, std::size_t start,
               std::size_t attempts) noexcept
        : snapshot_(&snapshot), eligible_(eligible), start_(start), attempts_(attempts)
    {
    }

    /// How many members to try at most (each at most once).
    [[nodiscard]] std::size_t attempts() const noexcept { return attempts_; }
    [[nodiscard]] bool empty() const noexcept { return attempts_ == 0; }

    /// The k-th member to try, 0 <= k < attempts().
    [[nodiscard]] const health::member_view& candidate(std::size_t k) const noexcept
    {
        return snapshot_->members[eligible_[(start_ + k) % eligible_.size()]];
    }

private:
    const health::cluster_snapshot* snapshot_ = nullptr;
    std::span<const std::uint32_t> eligible_;
    std::size_t start_ = 0;
    std::size_t attempts_ = 0;
};

/// Plans a route for listener `listener_index`. `ticket` is the listener's running count of
/// routed sessions (round-robin position); `retries` further members are tried after a failure.
[[nodiscard]] route_plan plan_route(const health::cluster_snapshot& snapshot, std::size_t listener_index,
                                    config::balance_mode balance, std::uint64_t ticket, unsigned retries) noexcept;

} // namespace patroxy::proxy
