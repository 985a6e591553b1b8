// Balancing. The first pick depends on the mode; the fallbacks go round the remaining weighted
// members from there, so a refused connect moves to the next member.
#include "proxy/routing/route.hpp"

#include <algorithm>
#include <numeric>

namespace patroxy::proxy {
namespace {

struct weighted {
    std::uint32_t index;  ///< into snapshot.members
    std::uint32_t weight; ///< divided by the weights' gcd
};

std::vector<weighted> weighted_members(const health::cluster_snapshot& snapshot, const std::vector<std::uint32_t>& eligible,
                                       const member_admin_states* admin)
{
    std::vector<weighted> out;
    std::uint32_t divisor = 0;
    for (auto i : eligible) {
        const auto w = snapshot.members[i].weight;
        if (w == 0) continue; // drained: no new sessions
        if (admin && i < admin->size() && (*admin)[i].load(std::memory_order_relaxed) != 0) continue; // drain/maint
        out.push_back({i, w});
        divisor = std::gcd(divisor, w);
    }
    for (auto& m : out) m.weight /= divisor; // equal weights become 1: plain alternation
    return out;
}

/// Position `ticket` in the interleaved weighted sequence: in round r every member whose weight
/// exceeds r appears once, so weights 3:1 give a b a a, repeating.
std::size_t weighted_round_robin(const std::vector<weighted>& members, std::uint64_t ticket)
{
    std::uint64_t total = 0;
    std::uint32_t rounds = 0;
    for (const auto& m : members) {
        total += m.weight;
        rounds = std::max(rounds, m.weight);
    }
    auto position = ticket % total;
    for (std::uint32_t round = 0; round < rounds; ++round) {
        for (std::size_t k = 0; k < members.size(); ++k) {
            if (members[k].weight <= round) continue;
            if (position == 0) return k;
            --position;
        }
    }
    return 0; // unreachable: positions < total are all visited
}

std::size_t least_connections(const std::vector<weighted>& members, std::uint64_t ticket,
                              const member_session_counts& sessions)
{
    // Compare sessions/weight without division: a/wa < b/wb  <=>  a*wb < b*wa. Start the scan
    // at the ticket's position so ties rotate.
    const std::size_t n = members.size();
    const std::size_t start = static_cast<std::size_t>(ticket % n);
    std::size_t best = start;
    const auto load = [&](std::size_t k) -> std::uint64_t {
        const auto i = members[k].index;
        return i < sessions.size() ? sessions[i].load(std::memory_order_relaxed) : 0;
    };
    for (std::size_t step = 1; step < n; ++step) {
        const std::size_t k = (start + step) % n;
        if (load(k) * members[best].weight < load(best) * members[k].weight) best = k;
    }
    return best;
}

} // namespace

route_plan plan_route(const health::cluster_snapshot& snapshot, std::size_t listener_index,
                      config::balance_mode balance, std::uint64_t ticket, unsigned retries,
                      const member_session_counts* sessions, const member_admin_states* admin)
{
    if (listener_index >= snapshot.eligible.size()) return {};
    const auto members = weighted_members(snapshot, snapshot.eligible[listener_index], admin);
    if (members.empty()) return {};

    std::size_t start = 0;
    switch (balance) {
    case config::balance_mode::first: start = 0; break;
    case config::balance_mode::roundrobin:
    case config::balance_mode::source: // the ticket is then the hash of the client's address
        start = weighted_round_robin(members, ticket);
        break;
    case config::balance_mode::leastconn:
        start = sessions ? least_connections(members, ticket, *sessions) : weighted_round_robin(members, ticket);
        break;
    }
    const std::size_t attempts = std::min<std::size_t>(members.size(), std::size_t{retries} + 1);
    std::vector<std::uint32_t> order;
    order.reserve(attempts);
    for (std::size_t k = 0; k < attempts; ++k) order.push_back(members[(start + k) % members.size()].index);
    return {snapshot, std::move(order)};
}

} // namespace patroxy::proxy
