// The kill rules, one question at a time: gone? still eligible (and not a replaced backup), or would
// be but for its address? down? no longer primary? lagging with on_lag: shutdown? Everything else
// (drained, promoted replica, lag with on_lag: keep) keeps its sessions.
#include "proxy/routing/kill_policy.hpp"

#include <algorithm>

namespace patroxy::proxy {
namespace {

const health::member_view* find_member(const health::cluster_snapshot& s, std::string_view name, std::uint32_t& index)
{
    for (std::uint32_t i = 0; i < s.members.size(); ++i) {
        if (s.members[i].name == name) {
            index = i;
            return &s.members[i];
        }
    }
    return nullptr;
}

bool over_max_lag(const config::listener& l, const health::member_view& m)
{
    return l.max_lag && (!m.lag || *m.lag > *l.max_lag);
}

} // namespace

std::optional<kill_decision> kill_reason(const config::listener& listener, std::size_t listener_index,
                                         std::string_view member, const health::cluster_snapshot& current,
                                         const member_admin_states* admin)
{
    std::uint32_t index = 0;
    const auto* m = find_member(current, member, index);
    const std::string name(member);
    if (!m) return kill_decision{kill_kind::member_down, "member " + name + " is no longer part of the cluster"};
    const auto listed = [index, listener_index](const std::vector<std::vector<std::uint32_t>>& per_listener) {
        if (listener_index >= per_listener.size()) return false;
        const auto& list = per_listener[listener_index];
        return std::find(list.begin(), list.end(), index) != list.end();
    };
    if (listed(current.eligible)) {
        if (listener.shutdown_backup_sessions && current.setting(listener_index, index).backup &&
            has_active_member(current, listener_index, admin))
            return kill_decision{kill_kind::backup_replaced,
                                 "member " + name + " is a backup and a non-backup member is available again"};
        return std::nullopt;
    }
    // Eligible but for its address (its host name stopped resolving): a live session holds a
    // connection, not a name, so only new sessions stay away.
    if (listed(current.unaddressed)) return std::nullopt;
    if (!m->up) {
        const auto check = health::last_check_text(m->health);
        return kill_decision{kill_kind::member_down, "member " + name + " is down" + (check.empty() ? "" : " (" + check + ")")};
    }
    if (listener.role == config::listener_role::primary)
        return kill_decision{kill_kind::role_lost, "member " + name + " is no longer the primary"};
    if (listener.on_lag == config::lag_action::shutdown && over_max_lag(listener, *m))
        return kill_decision{kill_kind::over_lag, "member " + name + " lags behind the primary by more than max_lag"};
    return std::nullopt;
}

} // namespace patroxy::proxy
