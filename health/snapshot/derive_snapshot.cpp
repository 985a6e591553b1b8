// The routing rules: who is primary (DCS lock and self-report must agree), each replica's lag,
// who is a synchronous standby, and from those the eligible members of every listener.
#include "health/snapshot/derive_snapshot.hpp"

#include <algorithm>
#include <string_view>

namespace patroxy::health {
namespace {

using index_list = std::vector<std::uint32_t>;

[[nodiscard]] std::uint32_t to_index(std::size_t i) { return static_cast<std::uint32_t>(i); }

[[nodiscard]] bool is_running(const member_view& m) { return m.has_status && m.state == "running"; }

/// Up by its checks and answering: the only members whose self-report we act on.
[[nodiscard]] bool answering(const member_view& m) { return m.has_status && is_up(m.health.status); }

/// The member's own account of itself, plus its place in the DCS view.
member_view make_view(const member_observation& o, const cluster_view* dcs)
{
    member_view v{o.member.name, o.member.host, o.member.port, {}};
    v.address_error = o.address_error;
    v.weight = o.member.weight;
    v.health = o.health;
    // A member with no Patroni API is never checked: routable, as static servers always were.
    v.up = is_up(o.health.status) || o.health.status == health_status::unchecked;
    const cluster_member* in_dcs = dcs != nullptr ? dcs->find(o.member.name) : nullptr;
    if (in_dcs != nullptr) {
        v.dcs = in_dcs->role;
        v.tags = in_dcs->tags;
        v.pending_restart = in_dcs->pending_restart;
        v.timeline = in_dcs->timeline;
    }
    if (o.status) { // the member's own answer is fresher than the DCS copy of it
        v.has_status = true;
        v.role = o.status->role;
        v.role_text = o.status->role_text;
        v.state = o.status->state;
        v.tags = o.status->tags;
        v.pending_restart = o.status->pending_restart;
        if (o.status->timeline) v.timeline = o.status->timeline;
    }
    return v;
}

/// "node1, node2"
std::string join_names(const std::vector<member_view>& members, const index_list& which)
{
    std::string out;
    for (const auto i : which) out += (out.empty() ? "" : ", ") + members[i].name;
    return out;
}

std::optional<std::uint32_t> find_by_name(const std::vector<member_view>& members, std::string_view name)
{
    for (std::size_t i = 0; i < members.size(); ++i) {
        if (members[i].name == name) return to_index(i);
    }
    return std::nullopt;
}

/// Members that answer and say they are out of recovery.
index_list primary_claimants(const std::vector<member_view>& members)
{
    index_list out;
    for (std::size_t i = 0; i < members.size(); ++i) {
        if (answering(members[i]) && members[i].role == pg_role::primary) out.push_back(to_index(i));
    }
    return out;
}

/// Why the DCS leader cannot take writes, or nullopt when it can.
std::optional<incident> leader_objection(const member_view& leader, const member_observation& o, bool sql_check)
{
    const auto says = [&](std::string what) {
        return incident{incident_kind::dcs_leader_not_primary, "DCS leader " + leader.name + " " + std::move(what)};
    };
    if (!is_up(leader.health.status)) {
        return incident{incident_kind::dcs_leader_down, "DCS leader " + leader.name + " is down"};
    }
    if (!leader.has_status) {
        return incident{incident_kind::dcs_leader_down, "DCS leader " + leader.name + " has not answered GET /patroni"};
    }
    if (leader.role != pg_role::primary) return says("reports itself " + leader.role_text);
    if (leader.state != "running") return says("reports state '" + leader.state + "'");
    if (o.status->cluster_unlocked) return says("reports that it sees no leader lock");
    // Patroni's role can run ahead of PostgreSQL finishing recovery; the SQL check is the last word.
    if (sql_check && o.sql_in_recovery != false) {
        const std::string prefix = "DCS leader " + leader.name + " reports itself primary but ";
        if (o.sql_in_recovery == true)
            return incident{incident_kind::sql_check_disagrees, prefix + "SQL says it is in recovery"};
        if (!o.sql_error.empty())
            return incident{incident_kind::sql_check_disagrees, prefix + "its SQL check failed: " + o.sql_error};
        return incident{incident_kind::sql_check_disagrees, prefix + "its SQL check has not answered yet"};
    }
    return std::nullopt;
}

/// Applies the write-safety rule: the DCS lock holder that reports itself primary, and nobody
/// when anything disagrees. Records in `out.incidents` each reason there is no primary.
void choose_primary(cluster_snapshot& out, std::span<const member_observation> obs, bool sql_check)
{
    const index_list claimants = primary_claimants(out.members);
    if (claimants.size() > 1) {
        const std::string count = claimants.size() == 2 ? "two" : std::to_string(claimants.size());
        out.incidents.push_back({incident_kind::several_primaries,
                                 count + " members claim primary: " + join_names(out.members, claimants)});
    }
    if (!out.dcs) {
        out.incidents.push_back({incident_kind::no_dcs_view, "no DCS view (GET /cluster has not answered)"});
        return;
    }
    const cluster_member* lock = out.dcs->leader();
    out.leader_in_dcs = lock != nullptr ? lock->name : "";
    for (const auto i : claimants) {
        if (out.members[i].name == out.leader_in_dcs) continue;
        const std::string holder = lock != nullptr ? "the DCS leader is " + lock->name : "the DCS has no leader";
        out.incidents.push_back({incident_kind::primary_not_dcs_leader,
                                 out.members[i].name + " reports itself primary but " + holder});
    }
    if (lock == nullptr) {
        out.incidents.push_back({incident_kind::no_dcs_leader, "the DCS holds no leader lock"});
        return;
    }
    if (lock->role == dcs_role::standby_leader) return; // a standby cluster has no primary by design
    const auto leader = find_by_name(out.members, lock->name);
    if (!leader) {
        out.incidents.push_back({incident_kind::dcs_leader_unknown, "DCS leader " + lock->name + " is not a known member"});
        return;
    }
    if (auto objection = leader_objection(out.members[*leader], obs[*leader], sql_check)) {
        out.incidents.push_back(*std::move(objection));
        return;
    }
    if (claimants.size() == 1) out.primary = leader;
}

/// The replica's replayed position, or what it received when it has not replayed anything.
std::optional<std::uint64_t> replica_position(const patroni_status& s)
{
    return s.xlog.replayed_location ? s.xlog.replayed_location : s.xlog.received_location;
}

/// Bytes the member is behind: measured against the primary's WAL position as Patroni's
/// /replica?lag does, else the DCS's coarser figure, else unknown. Only for replicas.
std::optional<std::uint64_t> lag_of(const member_observation& member, const member_observation* primary,
                                    const cluster_member* in_dcs)
{
    if (primary != nullptr && primary->status && member.status) {
        const auto leader_at = primary->status->xlog.location;
        const auto replica_at = replica_position(*member.status);
        // Polled at different moments, the replica can look ahead of the primary: no lag then.
        if (leader_at && replica_at) return *leader_at > *replica_at ? *leader_at - *replica_at : 0;
    }
    return in_dcs != nullptr ? in_dcs->lag : std::nullopt;
}

/// The primary's pg_stat_replication row for this member (Patroni's application_name is the
/// member name), or nullptr.
const replication_peer* replication_row(const member_observation* primary, std::string_view name)
{
    if (primary == nullptr || !primary->status) return nullptr;
    for (const auto& peer : primary->status->replication) {
        if (peer.application_name == name) return &peer;
    }
    return nullptr;
}

/// While no primary is confirmed (an election, a crashed leader), replicas' lag is measured
/// against the last WAL position a member reported as primary, as Patroni's /replica?lag does
/// with the leader's last LSN in the DCS: replicas stop advancing when the leader is gone, so
/// this is their real lag, and reads keep flowing through a failover instead of stopping
/// because the lag became unknown.
const member_observation* last_known_primary(std::span<const member_observation> obs)
{
    const member_observation* best = nullptr;
    for (const auto& o : obs) {
        if (!o.status || o.status->role != pg_role::primary || !o.status->xlog.location) continue;
        if (!best || *o.status->xlog.location > *best->status->xlog.location) best = &o;
    }
    return best;
}

/// Lag, synchronous-standby flag and replication state of each non-primary member.
void fill_replication_facts(cluster_snapshot& out, std::span<const member_observation> obs)
{
    const member_observation* primary = out.primary ? &obs[*out.primary] : last_known_primary(obs);
    for (std::size_t i = 0; i < out.members.size(); ++i) {
        member_view& m = out.members[i];
        if (out.primary == to_index(i)) continue;
        const cluster_member* in_dcs = out.dcs ? out.dcs->find(m.name) : nullptr;
        if (m.role != pg_role::primary) m.lag = lag_of(obs[i], primary, in_dcs);
        const replication_peer* row = replication_row(primary, m.name);
        if (row != nullptr) m.replication_state = row->state;
        const bool primary_says_sync = row != nullptr && (row->sync_state == "sync" || row->sync_state == "quorum");
        const bool self_says_sync = obs[i].status && obs[i].status->sync_standby;
        m.sync_standby = m.dcs == dcs_role::sync_standby || primary_says_sync || self_says_sync;
    }
}

/// Patroni's /replica: a running replica that takes load and, when a bound is set, is known
/// to be within it. The DCS leader is excluded even while it still replays: it is being promoted.
bool serves_reads(const member_view& m, const cluster_snapshot& s, const std::optional<std::uint64_t>& max_lag)
{
    if (!answering(m) || !is_running(m) || m.role != pg_role::replica) return false;
    if (m.tags.noloadbalance || m.name == s.leader_in_dcs) return false;
    return !max_lag || (m.lag && *m.lag <= *max_lag);
}

/// A standby cluster's leader, which Patroni's /read-only also serves.
bool is_standby_leader(const member_view& m, const cluster_snapshot& s)
{
    return answering(m) && is_running(m) && m.role == pg_role::standby_leader && m.name == s.leader_in_dcs &&
           m.dcs == dcs_role::standby_leader;
}

/// Patroni's `tag_<name>=<value>` query filter: every tag the listener names is published by the
/// member with that text (Patroni compares str(value).lower() for non-strings: "true", "3").
bool tags_match(const config::listener& l, const member_view& m)
{
    for (const auto& [name, value] : l.tags) {
        const auto published = m.tags.all.find(name);
        if (published == m.tags.all.end() || published->second != value) return false;
    }
    return true;
}

/// Whether Patroni applies the tag filter on this role's endpoint: /primary, /leader and
/// /standby-leader ignore tag_ parameters (api.py, 3.0.2: ignore_tags), the others honour them.
bool filters_tags(config::listener_role role)
{
    return role != config::listener_role::primary && role != config::listener_role::standby_leader;
}

/// Whether member `i` serves listener `l`, whose role is `role`.
bool fits_role(const config::listener& l, config::listener_role role, std::uint32_t i, const cluster_snapshot& s)
{
    const member_view& m = s.members[i];
    const auto& max_lag = l.max_lag;
    switch (role) {
    case config::listener_role::primary:
        // standby_leader: Patroni's /leader, 200 on whoever holds the leader lock, standby or not.
        return s.primary == i || (l.standby_leader && is_standby_leader(m, s));
    case config::listener_role::replica: return serves_reads(m, s, max_lag);
    case config::listener_role::read_only:
        return s.primary == i || is_standby_leader(m, s) || serves_reads(m, s, max_lag);
    case config::listener_role::sync: return serves_reads(m, s, max_lag) && m.sync_standby && !m.tags.nosync;
    case config::listener_role::async: return serves_reads(m, s, max_lag) && !m.sync_standby;
    case config::listener_role::standby_leader: return is_standby_leader(m, s);
    case config::listener_role::any: return answering(m) && is_running(m);
    }
    return false;
}

/// One listener's members: those it routes to, and those it would but for their address.
struct listener_members {
    index_list eligible;
    index_list unaddressed;

    void add(std::uint32_t i, const cluster_snapshot& s)
    {
        (s.members[i].address_error.empty() ? eligible : unaddressed).push_back(i);
    }
};

/// A static listener keeps its server order and drops only members known to be down.
listener_members static_eligible(const config::listener& l, const cluster_snapshot& s)
{
    listener_members out;
    for (const auto& name : l.servers) {
        const auto i = find_by_name(s.members, name);
        if (i && s.members[*i].up) out.add(*i, s);
    }
    return out;
}

listener_members role_eligible(const config::listener& l, config::listener_role role, const cluster_snapshot& s)
{
    listener_members out;
    for (std::size_t i = 0; i < s.members.size(); ++i) {
        if (!fits_role(l, role, to_index(i), s)) continue;
        if (filters_tags(role) && !tags_match(l, s.members[i])) continue;
        out.add(to_index(i), s);
    }
    // The fallback stands in for readers that have nowhere to go, whatever the reason.
    if (out.eligible.empty() && l.fallback_to_primary && s.primary &&
        std::ranges::find(out.unaddressed, *s.primary) == out.unaddressed.end())
        out.add(*s.primary, s);
    return out;
}

/// Each member's settings on listener `l`: its member_settings entry by name over the defaults.
std::vector<listener_member> settings_of(const config::listener& l, const std::vector<member_view>& members)
{
    std::vector<listener_member> out;
    out.reserve(members.size());
    for (const auto& m : members) {
        listener_member setting{.weight = m.weight};
        if (const auto it = l.member_settings.find(m.name); it != l.member_settings.end()) {
            setting.weight = it->second.weight.value_or(m.weight);
            setting.backup = it->second.backup;
            setting.max_connections = it->second.max_connections;
        }
        out.push_back(setting);
    }
    return out;
}

} // namespace

cluster_snapshot derive_snapshot(std::span<const config::listener> listeners,
                                 std::span<const member_observation> members, const std::optional<cluster_view>& dcs,
                                 std::uint64_t generation, bool sql_check)
{
    cluster_snapshot s;
    s.generation = generation;
    s.dcs = dcs;
    const cluster_view* view = dcs ? &*dcs : nullptr;
    for (const auto& o : members) s.members.push_back(make_view(o, view));
    choose_primary(s, members, sql_check);
    fill_replication_facts(s, members);
    for (const auto& l : listeners) {
        auto members_of = l.role ? role_eligible(l, *l.role, s) : static_eligible(l, s);
        s.eligible.push_back(std::move(members_of.eligible));
        s.unaddressed.push_back(std::move(members_of.unaddressed));
        s.settings.push_back(settings_of(l, s.members));
    }
    for (const auto& m : s.members)
        if (!m.address_error.empty())
            s.incidents.push_back({incident_kind::no_address, "member " + m.name + " has no address: " + m.address_error});
    return s;
}

std::vector<incident> new_incidents(const cluster_snapshot* previous, const cluster_snapshot& next)
{
    std::vector<incident> out;
    for (const auto& i : next.incidents) {
        const bool known = previous != nullptr && std::ranges::find(previous->incidents, i) != previous->incidents.end();
        if (!known) out.push_back(i);
    }
    return out;
}

std::string_view to_string(incident_kind k) noexcept
{
    switch (k) {
    case incident_kind::no_dcs_view: return "no_dcs_view";
    case incident_kind::no_dcs_leader: return "no_dcs_leader";
    case incident_kind::dcs_leader_unknown: return "dcs_leader_unknown";
    case incident_kind::dcs_leader_down: return "dcs_leader_down";
    case incident_kind::dcs_leader_not_primary: return "dcs_leader_not_primary";
    case incident_kind::primary_not_dcs_leader: return "primary_not_dcs_leader";
    case incident_kind::several_primaries: return "several_primaries";
    case incident_kind::sql_check_disagrees: return "sql_check_disagrees";
    case incident_kind::no_address: return "no_address";
    }
    return "?";
}

} // namespace patroxy::health
