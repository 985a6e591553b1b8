// Applying kill_policy to a worker's live sessions after a snapshot change.
#include "proxy/session/listener_runtime.hpp"
#include "proxy/net/worker_pool.hpp"
#include "proxy/routing/kill_policy.hpp"
#include "proxy/session/client_session.hpp"
#include "proxy/support/log.hpp"

#include <map>
#include <vector>

namespace patroxy::proxy {
namespace {

/// Whether anything a kill decision looks at differs between two snapshots. Most snapshots
/// only refresh check timings; those need no walk over every live session.
bool routing_changed(const health::cluster_snapshot& a, const health::cluster_snapshot& b)
{
    if (a.eligible != b.eligible || a.unaddressed != b.unaddressed || a.primary != b.primary ||
        a.members.size() != b.members.size())
        return true;
    if (a.settings != b.settings) return true; // a reload made a member a backup, say
    for (std::size_t i = 0; i < a.members.size(); ++i)
        if (a.members[i].name != b.members[i].name || a.members[i].up != b.members[i].up) return true;
    return false;
}

/// Kills every live session on `owner` connected to a member for which `decide` returns a
/// decision, and logs one line per listener and reason.
template <typename Decide>
void kill_where(worker& owner, Decide decide)
{
    // Collected first: kill() only marks a session; it leaves the list when it ends.
    std::vector<std::pair<client_session*, kill_decision>> doomed;
    for (auto& session : owner.live_sessions()) {
        const auto* member = session.member();
        if (!member) continue;
        if (auto decision = decide(session, *member)) doomed.emplace_back(&session, std::move(*decision));
    }
    std::map<std::string, std::size_t> per_reason;
    for (auto& [session, decision] : doomed) {
        session->kill(decision);
        ++per_reason[session->listener().cfg.name + ": " + decision.reason];
    }
    for (const auto& [what, count] : per_reason)
        log_line(log_level::warning) << "worker=" << owner.id() << " killed " << count << " session(s) of listener "
                                     << what;
}

} // namespace

void close_sessions_leaving(worker& owner, const health::snapshot_ptr& previous, const health::snapshot_ptr& current)
{
    if (!current || (previous && !routing_changed(*previous, *current))) return;
    kill_where(owner, [&current](const client_session& session, const health::member_view& member) {
        const auto& listener = session.listener();
        return kill_reason(listener.cfg, listener.index, member.name, *current, &listener.admin);
    });
}

void close_replaced_backup_sessions(worker& owner, const health::snapshot_ptr&, const health::snapshot_ptr& current)
{
    if (!current) return;
    kill_where(owner, [&current](const client_session& session,
                                 const health::member_view& member) -> std::optional<kill_decision> {
        const auto& listener = session.listener();
        if (!listener.cfg.shutdown_backup_sessions) return std::nullopt;
        auto decision = kill_reason(listener.cfg, listener.index, member.name, *current, &listener.admin);
        if (decision && decision->kind == kill_kind::backup_replaced) return decision;
        return std::nullopt;
    });
}

void close_sessions_in_maintenance(worker& owner, const listener_runtime* listener, const std::string& member)
{
    kill_where(owner, [listener, &member](const client_session& session,
                                          const health::member_view& m) -> std::optional<kill_decision> {
        if (m.name != member || (listener && &session.listener() != listener)) return std::nullopt;
        return kill_decision{kill_kind::maint, "member " + member + " was put in maintenance by an operator"};
    });
}

} // namespace patroxy::proxy
