// Balancing. The first pick depends on the mode; the fallbacks go round the remaining weighted
// members from there, so a refused connect moves to the next member. Backups and full members
// are sorted out first.
#include "proxy/routing/route.hpp"

#include <algorithm>
#include <numeric>

namespace patroxy::proxy {
namespace {

struct weighted {
    std::uint32_t index;  ///< into snapshot.members
    std::uint32_t weight; ///< divided by the weights' gcd
};

bool ready(const member_admin_states* admin, std::uint32_t i) noexcept
{
    return !admin || i >= admin->size() || (*admin)[i].load(std::memory_order_relaxed) == 0;
}

bool at_limit(const member_session_counts* sessions, std::uint32_t i, std::uint32_t limit) noexcept
{
    return limit != 0 && sessions && i < sessions->size() && (*sessions)[i].load(std::memory_order_relaxed) >= limit;
}

/// The members that may take the session, split as the backup rule needs them.
struct candidates {
    std::vector<weighted> active;  ///< non-backup, not full
    std::vector<weighted> backups; ///< backup, not full, in member order
    bool has_active = false;       ///< some non-backup member takes new sessions, full or not
    bool any_full = false;         ///< some member that would take it is full
};

candidates gather(const health::cluster_snapshot& snapshot, std::size_t listener_index,
                  const member_session_counts* sessions, const member_admin_states* admin)
{
    candidates out;
    bool backup_full = false;
    bool active_full = false;
    for (auto i : snapshot.eligible[listener_index]) {
        const auto setting = snapshot.setting(listener_index, i);
        if (setting.weight == 0 || !ready(admin, i)) continue; // drained, drain or maint: no new sessions
        if (!setting.backup) out.has_active = true;
        const bool full = at_limit(sessions, i, setting.max_connections);
        (setting.backup ? backup_full : active_full) |= full;
        if (!full) (setting.backup ? out.backups : out.active).push_back({i, setting.weight});
    }
    out.any_full = out.has_active ? active_full : backup_full;
    std::uint32_t divisor = 0;
    for (const auto& m : out.active) divisor = std::gcd(divisor, m.weight);
    for (auto& m : out.active) m.weight /= divisor; // equal weights become 1: plain alternation
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

bool takes_new_sessions(const health::cluster_snapshot& snapshot, std::size_t listener_index, std::uint32_t member,
                        const member_admin_states* admin) noexcept
{
    if (listener_index >= snapshot.eligible.size()) return false;
    const auto& eligible = snapshot.eligible[listener_index];
    return std::find(eligible.begin(), eligible.end(), member) != eligible.end() &&
           snapshot.setting(listener_index, member).weight != 0 && ready(admin, member);
}

bool has_active_member(const health::cluster_snapshot& snapshot, std::size_t listener_index,
                       const member_admin_states* admin) noexcept
{
    if (listener_index >= snapshot.eligible.size()) return false;
    return std::any_of(snapshot.eligible[listener_index].begin(), snapshot.eligible[listener_index].end(),
                       [&](std::uint32_t i) {
                           return !snapshot.setting(listener_index, i).backup &&
                                  takes_new_sessions(snapshot, listener_index, i, admin);
                       });
}

route_plan plan_route(const health::cluster_snapshot& snapshot, std::size_t listener_index,
                      config::balance_mode balance, std::uint64_t ticket, unsigned retries,
                      const member_session_counts* sessions, const member_admin_states* admin)
{
    if (listener_index >= snapshot.eligible.size()) return {};
    const auto found = gather(snapshot, listener_index, sessions, admin);
    // Backups only while no non-backup member takes sessions, and then the first of them leads.
    const bool on_backups = !found.has_active;
    const auto& members = on_backups ? found.backups : found.active;
    if (members.empty()) return found.any_full ? route_plan::all_full() : route_plan{};

    std::size_t start = 0;
    if (!on_backups) {
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
    }
    const std::size_t attempts = std::min<std::size_t>(members.size(), std::size_t{retries} + 1);
    std::vector<std::uint32_t> order;
    order.reserve(attempts);
    for (std::size_t k = 0; k < attempts; ++k) order.push_back(members[(start + k) % members.size()].index);
    return {snapshot, std::move(order)};
}

} // namespace patroxy::proxy
