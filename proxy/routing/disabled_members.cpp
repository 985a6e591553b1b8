// `disabled` as an admin state: computed from the config, applied by member index.
#include "proxy/routing/disabled_members.hpp"

#include "proxy/stats/stats_view.hpp"

#include <set>

namespace patroxy::proxy {
namespace {

bool disabled_in(const config::listener& l, const std::string& member)
{
    const auto it = l.member_settings.find(member);
    return it != l.member_settings.end() && it->second.disabled;
}

constexpr auto ready_state = static_cast<std::uint8_t>(stats::admin_state::ready);
constexpr auto maint_state = static_cast<std::uint8_t>(stats::admin_state::maint);

} // namespace

std::map<std::string, bool> disabled_changes(const config::listener* previous, const config::listener& next)
{
    std::map<std::string, bool> out;
    if (!previous) {
        for (const auto& [name, options] : next.member_settings)
            if (options.disabled) out[name] = true;
        return out;
    }
    std::set<std::string> names;
    for (const auto& [name, options] : previous->member_settings) names.insert(name);
    for (const auto& [name, options] : next.member_settings) names.insert(name);
    for (const auto& name : names) {
        const bool now = disabled_in(next, name);
        if (now != disabled_in(*previous, name)) out[name] = now;
    }
    return out;
}

bool apply_disabled(std::map<std::string, bool>& pending, const health::cluster_snapshot& snapshot,
                    member_admin_states& admin)
{
    bool readied = false;
    for (std::uint32_t i = 0; i < snapshot.members.size() && i < admin.size() && !pending.empty(); ++i) {
        const auto it = pending.find(snapshot.members[i].name);
        if (it == pending.end()) continue;
        admin[i].store(it->second ? maint_state : ready_state, std::memory_order_relaxed);
        readied = readied || !it->second;
        pending.erase(it);
    }
    return readied;
}

} // namespace patroxy::proxy
