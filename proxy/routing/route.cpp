// Balancing: round-robin starts at the ticket's position, `first` always at the first member;
// both then go round the eligible list so a failed connect moves to the next member.
#include "proxy/routing/route.hpp"

#include <algorithm>

namespace patroxy::proxy {

route_plan plan_route(const health::cluster_snapshot& snapshot, std::size_t listener_index,
                      config::balance_mode balance, std::uint64_t ticket, unsigned retries) noexcept
{
    if (listener_index >= snapshot.eligible.size()) return {};
    const auto& eligible = snapshot.eligible[listener_index];
    if (eligible.empty()) return {};
    const std::size_t start = balance == config::balance_mode::first ? 0 : static_cast<std::size_t>(ticket % eligible.size());
    const std::size_t attempts = std::min<std::size_t>(eligible.size(), std::size_t{retries} + 1);
    return {snapshot, eligible, start, attempts};
}

} // namespace patroxy::proxy
