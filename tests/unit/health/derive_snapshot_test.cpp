// Who is eligible for each listener role, given each member's checks and GET /patroni answer and
// the DCS view: lag, tags, synchronous standbys, the write-safety rules, fallback, static lists.
#include "health/snapshot/derive_snapshot.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace patroxy::health;
using patroxy::config::listener;
using patroxy::config::listener_role;
using index_list = std::vector<std::uint32_t>;

namespace {

constexpr std::uint64_t mb = 1024 * 1024;
constexpr std::uint64_t leader_lsn = 100 * mb;

/// Check history as '+' (answered) and '-' (failed), e.g. "+" up, "+-" UP 1/3, "+---" down.
member_health health_of(const std::string& checks)
{
    member_health h;
    auto now = health_clock::time_point{};
    for (const char c : checks) {
        const probe_result r{.code = c == '+' ? check_code::l7ok : check_code::l4con, .http_status = {},
                             .duration = {}, .detail = {}};
        h = next_health(h, r, check_thresholds{.rise = 2, .fall = 3}, now);
        now += std::chrono::seconds(1);
    }
    return h;
}

patroni_status primary_status(std::uint64_t location = leader_lsn)
{
    patroni_status s;
    s.state = "running";
    s.role_text = "master";
    s.role = pg_role::primary;
    s.timeline = 1;
    s.xlog.location = location;
    s.replication = {{"node2", "streaming", "async"}, {"node3", "streaming", "async"}};
    return s;
}

patroni_status replica_status(std::uint64_t replayed = leader_lsn)
{
    patroni_status s;
    s.state = "running";
    s.role_text = "replica";
    s.role = pg_role::replica;
    s.timeline = 1;
    s.xlog.received_location = replayed;
    s.xlog.replayed_location = replayed;
    return s;
}

member_observation observed(const std::string& name, std::optional<patroni_status> status,
                            const std::string& checks = "+")
{
    member_observation o;
    o.member.name = name;
    o.member.host = "127.0.0.1";
    o.member.port = 5432;
    o.member.api = "http://127.0.0.1:8008";
    o.health = health_of(checks);
    o.status = std::move(status);
    return o;
}

cluster_member dcs_member(const std::string& name, dcs_role role, std::optional<std::uint64_t> lag = 0)
{
    cluster_member m;
    m.name = name;
    m.role = role;
    m.role_text = std::string(to_string(role));
    m.state = "running";
    if (role != dcs_role::leader && role != dcs_role::standby_leader) m.lag = lag;
    return m;
}

listener role_listener(listener_role role, std::optional<std::uint64_t> max_lag = {}, bool fallback = false)
{
    listener l;
    l.name = std::string(patroxy::config::to_string(role));
    l.role = role;
    l.max_lag = max_lag;
    l.fallback_to_primary = fallback;
    return l;
}

listener static_listener(std::vector<std::string> servers)
{
    listener l;
    l.name = "static";
    l.servers = std::move(servers);
    return l;
}

/// node1 leader/primary, node2 and node3 streaming replicas with no lag, all up; one listener
/// per role in the order primary, replica, read-only, sync, async.
struct cluster {
    std::vector<member_observation> members{observed("node1", primary_status()), observed("node2", replica_status()),
                                            observed("node3", replica_status())};
    std::optional<cluster_view> dcs = cluster_view{
        {dcs_member("node1", dcs_role::leader), dcs_member("node2", dcs_role::replica),
         dcs_member("node3", dcs_role::replica)},
        false};
    std::vector<listener> listeners{role_listener(listener_role::primary), role_listener(listener_role::replica),
                                    role_listener(listener_role::read_only), role_listener(listener_role::sync),
                                    role_listener(listener_role::async)};

    [[nodiscard]] cluster_snapshot derive() const { return derive_snapshot(listeners, members, dcs, 7); }
    [[nodiscard]] index_list eligible(std::size_t listener_index) const { return derive().eligible.at(listener_index); }

    patroni_status& status(std::size_t i) { return *members.at(i).status; }
    cluster_member& in_dcs(std::size_t i) { return dcs->members.at(i); }
};

enum : std::size_t { primary_l, replica_l, read_only_l, sync_l, async_l };

bool has_incident(const cluster_snapshot& s, incident_kind kind, const std::string& text)
{
    for (const auto& i : s.incidents) {
        if (i.kind == kind && i.text == text) return true;
    }
    return false;
}

} // namespace

TEST_CASE("a healthy cluster: every role and the member facts", "[health][snapshot]")
{
    const cluster c;
    const auto s = c.derive();
    CHECK(s.generation == 7);
    REQUIRE(s.members.size() == 3);
    REQUIRE(s.eligible.size() == 5);
    CHECK(s.primary == 0u);
    CHECK(s.leader_in_dcs == "node1");
    CHECK(s.incidents.empty());
    CHECK(s.eligible[primary_l] == index_list{0});
    CHECK(s.eligible[replica_l] == index_list{1, 2});
    CHECK(s.eligible[read_only_l] == index_list{0, 1, 2});
    CHECK(s.eligible[sync_l].empty());
    CHECK(s.eligible[async_l] == index_list{1, 2});

    const auto& replica = s.members[1];
    CHECK(replica.name == "node2");
    CHECK(replica.host == "127.0.0.1");
    CHECK(replica.port == 5432);
    CHECK(replica.up);
    CHECK(replica.has_status);
    CHECK(replica.role == pg_role::replica);
    CHECK(replica.state == "running");
    CHECK(replica.timeline == 1u);
    CHECK(replica.lag == 0u);
    CHECK(replica.dcs == dcs_role::replica);
    CHECK(replica.replication_state == "streaming");
    CHECK_FALSE(replica.sync_standby);
    CHECK(replica.weight == 100);
    CHECK(replica.health.status == health_status::up);
    CHECK_FALSE(s.members[0].lag); // the primary has no lag
    CHECK(s.members[0].role_text == "master");
    REQUIRE(s.dcs);
    CHECK(s.dcs->members.size() == 3);
}

TEST_CASE("lag is the primary's WAL position minus the replica's replayed position", "[health][snapshot]")
{
    cluster c;
    c.listeners[replica_l].max_lag = 1 * mb;
    c.listeners[read_only_l].max_lag = 1 * mb;
    c.listeners[async_l].max_lag = 1 * mb;

    SECTION("within and beyond max_lag")
    {
        c.status(1).xlog.replayed_location = leader_lsn - mb;     // exactly at the bound: eligible
        c.status(2).xlog.replayed_location = leader_lsn - mb - 1; // one byte over
        c.status(2).xlog.received_location = leader_lsn;          // received does not count when replayed is known
        const auto s = c.derive();
        CHECK(s.members[1].lag == mb);
        CHECK(s.members[2].lag == mb + 1);
        CHECK(s.eligible[replica_l] == index_list{1});
        CHECK(s.eligible[read_only_l] == index_list{0, 1});
        CHECK(s.eligible[async_l] == index_list{1});
    }
    SECTION("the primary's position wins over the DCS's coarser lag")
    {
        c.in_dcs(1).lag = 16 * mb; // patronictl's stale "16 MB" on a replica that is in fact caught up
        const auto s = c.derive();
        CHECK(s.members[1].lag == 0u);
        CHECK(s.eligible[replica_l] == index_list{1, 2});
    }
    SECTION("a replica polled after the primary can look ahead of it: no lag")
    {
        c.status(1).xlog.replayed_location = leader_lsn + 4096;
        CHECK(c.derive().members[1].lag == 0u);
    }
    SECTION("received position when nothing was replayed yet")
    {
        c.status(1).xlog.replayed_location.reset();
        c.status(1).xlog.received_location = leader_lsn - 2 * mb;
        const auto s = c.derive();
        CHECK(s.members[1].lag == 2 * mb);
        CHECK(s.eligible[replica_l] == index_list{2});
    }
    SECTION("while no primary is confirmed, lag is measured against the last primary's position")
    {
        c.status(1).xlog.replayed_location = leader_lsn - mb;
        c.status(2).xlog.replayed_location = leader_lsn - mb - 1;
        c.in_dcs(0).role = dcs_role::replica; // the leader lock is gone: an election
        c.in_dcs(1).lag.reset();               // and the DCS says "unknown"
        c.in_dcs(2).lag.reset();
        const auto s = c.derive();
        REQUIRE_FALSE(s.primary);
        CHECK(s.members[1].lag == mb);
        CHECK(s.members[2].lag == mb + 1);
        CHECK(s.eligible[replica_l] == index_list{1}); // reads go on through the election
    }
    SECTION("without the primary's position, the /cluster lag")
    {
        c.status(0).xlog.location.reset();
        c.in_dcs(1).lag = 3 * mb;
        c.in_dcs(2).lag = 512;
        const auto s = c.derive();
        CHECK(s.members[1].lag == 3 * mb);
        CHECK(s.members[2].lag == 512u);
        CHECK(s.eligible[replica_l] == index_list{2});
    }
    SECTION("unknown lag is not eligible when max_lag is set")
    {
        c.status(0).xlog.location.reset();
        c.in_dcs(2).lag.reset(); // "unknown"
        const auto s = c.derive();
        CHECK_FALSE(s.members[2].lag);
        CHECK(s.eligible[replica_l] == index_list{1});
        CHECK(s.eligible[async_l] == index_list{1});
    }
    SECTION("unknown lag is fine when no max_lag is set")
    {
        c.status(0).xlog.location.reset();
        c.in_dcs(2).lag.reset();
        c.listeners[replica_l].max_lag.reset();
        CHECK(c.eligible(replica_l) == index_list{1, 2});
    }
}

TEST_CASE("noloadbalance takes a member out of every read role", "[health][snapshot]")
{
    cluster c;
    c.status(2).tags.noloadbalance = true;
    c.in_dcs(2).role = dcs_role::sync_standby;
    const auto s = c.derive();
    CHECK(s.eligible[replica_l] == index_list{1});
    CHECK(s.eligible[read_only_l] == index_list{0, 1});
    CHECK(s.eligible[async_l] == index_list{1});
    CHECK(s.eligible[sync_l].empty());
    CHECK(s.members[2].tags.noloadbalance);
}

TEST_CASE("synchronous standbys: from the DCS, the primary's pg_stat_replication, or the member itself",
          "[health][snapshot]")
{
    cluster c;
    SECTION("/cluster role sync_standby")
    {
        c.in_dcs(1).role = dcs_role::sync_standby;
    }
    SECTION("the primary's replication row says sync")
    {
        c.status(0).replication[0].sync_state = "sync";
    }
    SECTION("the primary's replication row says quorum")
    {
        c.status(0).replication[0].sync_state = "quorum";
    }
    SECTION("the member's own sync_standby flag")
    {
        c.status(1).sync_standby = true;
    }
    const auto s = c.derive();
    CHECK(s.members[1].sync_standby);
    CHECK_FALSE(s.members[2].sync_standby);
    CHECK(s.eligible[sync_l] == index_list{1});
    CHECK(s.eligible[async_l] == index_list{2});
    CHECK(s.eligible[replica_l] == index_list{1, 2});
}

TEST_CASE("a potential standby is asynchronous", "[health][snapshot]")
{
    cluster c;
    c.status(0).replication[0].sync_state = "potential";
    CHECK(c.eligible(sync_l).empty());
    CHECK(c.eligible(async_l) == index_list{1, 2});
}

TEST_CASE("nosync is never a synchronous standby", "[health][snapshot]")
{
    cluster c;
    c.status(0).replication[0].sync_state = "sync";
    c.status(2).tags.nosync = true;
    SECTION("a nosync replica is asynchronous")
    {
        const auto s = c.derive();
        CHECK(s.eligible[sync_l] == index_list{1});
        CHECK(s.eligible[async_l] == index_list{2});
    }
    SECTION("one that PostgreSQL nevertheless replicates synchronously is in neither set")
    {
        c.status(0).replication[1].sync_state = "sync";
        const auto s = c.derive();
        CHECK(s.members[2].sync_standby);
        CHECK(s.eligible[sync_l] == index_list{1});
        CHECK(s.eligible[async_l].empty());
        CHECK(s.eligible[replica_l] == index_list{1, 2});
    }
}

TEST_CASE("sync and async apply the replica conditions", "[health][snapshot]")
{
    cluster c;
    c.listeners[sync_l].max_lag = mb;
    c.listeners[async_l].max_lag = mb;
    c.in_dcs(1).role = dcs_role::sync_standby;
    c.status(1).xlog.replayed_location = leader_lsn - 2 * mb;
    c.status(2).xlog.replayed_location = leader_lsn - 2 * mb;
    CHECK(c.eligible(sync_l).empty());
    CHECK(c.eligible(async_l).empty());
}

TEST_CASE("two members claiming primary: nobody gets writes", "[health][snapshot]")
{
    cluster c;
    c.members[2].status = primary_status(leader_lsn + mb); // a partitioned old leader, say
    const auto s = c.derive();
    CHECK_FALSE(s.primary);
    CHECK(s.eligible[primary_l].empty());
    CHECK(has_incident(s, incident_kind::several_primaries, "two members claim primary: node1, node3"));
    CHECK(has_incident(s, incident_kind::primary_not_dcs_leader,
                       "node3 reports itself primary but the DCS leader is node1"));
    CHECK(s.eligible[replica_l] == index_list{1});
    CHECK(s.eligible[read_only_l] == index_list{1});
}

TEST_CASE("a down member's stale claim to primary does not block the real one", "[health][snapshot]")
{
    cluster c;
    c.members[2] = observed("node3", primary_status(), "+---");
    const auto s = c.derive();
    CHECK(s.primary == 0u);
    CHECK(s.incidents.empty());
}

TEST_CASE("DCS and the member disagree: no primary", "[health][snapshot]")
{
    cluster c;
    SECTION("the DCS leader reports itself replica while another member reports primary")
    {
        c.in_dcs(0).role = dcs_role::replica;
        c.in_dcs(1).role = dcs_role::leader;
        const auto s = c.derive();
        CHECK_FALSE(s.primary);
        CHECK(s.leader_in_dcs == "node2");
        CHECK(s.eligible[primary_l].empty());
        CHECK(has_incident(s, incident_kind::dcs_leader_not_primary, "DCS leader node2 reports itself replica"));
        CHECK(has_incident(s, incident_kind::primary_not_dcs_leader,
                           "node1 reports itself primary but the DCS leader is node2"));
        // node2 is being promoted: no reads pile up on it; node1 is no replica.
        CHECK(s.eligible[replica_l] == index_list{2});
    }
    SECTION("the DCS leader is out of recovery but its PostgreSQL is not running")
    {
        c.status(0).state = "starting";
        const auto s = c.derive();
        CHECK_FALSE(s.primary);
        CHECK(has_incident(s, incident_kind::dcs_leader_not_primary, "DCS leader node1 reports state 'starting'"));
    }
    SECTION("the DCS leader itself sees no leader lock")
    {
        c.status(0).cluster_unlocked = true;
        const auto s = c.derive();
        CHECK_FALSE(s.primary);
        CHECK(has_incident(s, incident_kind::dcs_leader_not_primary,
                           "DCS leader node1 reports that it sees no leader lock"));
    }
}

TEST_CASE("promotion in progress, then done", "[health][snapshot]")
{
    cluster c;
    // Patroni moved the lock to node2 and is promoting it; node1 has already been demoted.
    c.in_dcs(0).role = dcs_role::replica;
    c.in_dcs(1).role = dcs_role::leader;
    c.members[0].status = replica_status();
    auto s = c.derive();
    CHECK_FALSE(s.primary);
    CHECK(s.eligible[primary_l].empty());
    CHECK(has_incident(s, incident_kind::dcs_leader_not_primary, "DCS leader node2 reports itself replica"));
    CHECK(s.eligible[replica_l] == index_list{0, 2}); // not node2, the leader-to-be

    c.members[1].status = primary_status(leader_lsn + 4096); // pg_is_in_recovery() is now false
    s = c.derive();
    CHECK(s.primary == 1u);
    CHECK(s.incidents.empty());
    CHECK(s.eligible[primary_l] == index_list{1});
    CHECK(s.eligible[read_only_l] == index_list{0, 1, 2});
    CHECK(s.members[0].lag == 4096u);
}

TEST_CASE("a member that is down is never eligible", "[health][snapshot]")
{
    cluster c;
    SECTION("the leader after fall failed checks")
    {
        c.members[0].health = health_of("+---");
        const auto s = c.derive();
        CHECK_FALSE(s.primary);
        CHECK_FALSE(s.members[0].up);
        CHECK(s.eligible[primary_l].empty());
        CHECK(has_incident(s, incident_kind::dcs_leader_down, "DCS leader node1 is down"));
        // Without a primary there is no WAL position to measure against: the DCS lag is used.
        CHECK(s.eligible[replica_l] == index_list{1, 2});
    }
    SECTION("the leader failing fewer than fall checks keeps its role")
    {
        c.members[0].health = health_of("+--");
        const auto s = c.derive();
        CHECK(s.primary == 0u);
        CHECK(s.members[0].up);
    }
    SECTION("a down replica, in every read role")
    {
        c.members[1].health = health_of("+---");
        c.in_dcs(1).role = dcs_role::sync_standby;
        const auto s = c.derive();
        CHECK(s.eligible[replica_l] == index_list{2});
        CHECK(s.eligible[read_only_l] == index_list{0, 2});
        CHECK(s.eligible[sync_l].empty());
        CHECK(s.eligible[async_l] == index_list{2});
    }
    SECTION("a replica coming back up is not eligible before rise")
    {
        c.members[1].health = health_of("+---+");
        CHECK(c.eligible(replica_l) == index_list{2});
    }
    SECTION("a leader that never answered GET /patroni")
    {
        c.members[0] = observed("node1", std::nullopt, "");
        const auto s = c.derive();
        CHECK_FALSE(s.primary);
        CHECK(has_incident(s, incident_kind::dcs_leader_down, "DCS leader node1 is down"));
    }
}

TEST_CASE("a replica whose PostgreSQL is not running is not eligible", "[health][snapshot]")
{
    cluster c;
    c.status(1).state = "stopped";
    c.status(2).role = pg_role::unknown;
    c.status(2).role_text = "demoted";
    CHECK(c.eligible(replica_l).empty());
    CHECK(c.eligible(read_only_l) == index_list{0});
}

TEST_CASE("no DCS view: no primary, replicas still serve, lag measured against the member reporting primary",
          "[health][snapshot]")
{
    cluster c;
    c.dcs.reset();
    c.listeners[async_l].max_lag = mb;
    const auto s = c.derive();
    CHECK_FALSE(s.primary);
    CHECK(s.leader_in_dcs.empty());
    CHECK(s.eligible[primary_l].empty());
    CHECK(has_incident(s, incident_kind::no_dcs_view, "no DCS view (GET /cluster has not answered)"));
    CHECK(s.eligible[replica_l] == index_list{1, 2});
    CHECK(s.eligible[async_l] == index_list{1, 2}); // node1 still reports its WAL position: lag 0
    c.status(0).xlog.location.reset();
    CHECK(c.derive().eligible[async_l].empty()); // no position from anyone, no DCS: lag unknown
    CHECK_FALSE(s.members[1].dcs);
}

TEST_CASE("the DCS holds no leader lock", "[health][snapshot]")
{
    cluster c;
    c.in_dcs(0).role = dcs_role::replica;
    const auto s = c.derive();
    CHECK_FALSE(s.primary);
    CHECK(s.leader_in_dcs.empty());
    CHECK(has_incident(s, incident_kind::no_dcs_leader, "the DCS holds no leader lock"));
    CHECK(has_incident(s, incident_kind::primary_not_dcs_leader,
                       "node1 reports itself primary but the DCS has no leader"));
}

TEST_CASE("the DCS leader is not one of our members", "[health][snapshot]")
{
    cluster c;
    c.in_dcs(0).name = "node9";
    const auto s = c.derive();
    CHECK_FALSE(s.primary);
    CHECK(has_incident(s, incident_kind::dcs_leader_unknown, "DCS leader node9 is not a known member"));
}

TEST_CASE("fallback_to_primary", "[health][snapshot]")
{
    cluster c;
    for (auto& l : c.listeners) l.max_lag = mb;
    c.status(1).xlog.replayed_location = 0;
    c.status(2).xlog.replayed_location = 0;
    c.in_dcs(1).lag = 100 * mb;
    c.in_dcs(2).lag = 100 * mb;
    SECTION("off: nobody")
    {
        CHECK(c.eligible(replica_l).empty());
        CHECK(c.eligible(async_l).empty());
    }
    SECTION("on: the primary when no replica is eligible")
    {
        for (auto& l : c.listeners) l.fallback_to_primary = true;
        const auto s = c.derive();
        CHECK(s.eligible[replica_l] == index_list{0});
        CHECK(s.eligible[async_l] == index_list{0});
        CHECK(s.eligible[sync_l] == index_list{0});
        CHECK(s.eligible[read_only_l] == index_list{0});
        CHECK(s.eligible[primary_l] == index_list{0});
    }
    SECTION("on, but a replica is eligible: only the replica")
    {
        c.listeners[replica_l].fallback_to_primary = true;
        c.status(2).xlog.replayed_location = leader_lsn;
        CHECK(c.eligible(replica_l) == index_list{2});
    }
    SECTION("on, but there is no primary either")
    {
        c.listeners[replica_l].fallback_to_primary = true;
        c.members[0].health = health_of("+---");
        CHECK(c.eligible(replica_l).empty());
    }
}

TEST_CASE("a standby cluster: no primary, the standby leader serves read-only", "[health][snapshot]")
{
    cluster c;
    c.in_dcs(0).role = dcs_role::standby_leader;
    c.members[0].status = replica_status();
    c.status(0).role = pg_role::standby_leader;
    c.status(0).role_text = "standby_leader";
    const auto s = c.derive();
    CHECK_FALSE(s.primary);
    CHECK(s.leader_in_dcs == "node1");
    CHECK(s.incidents.empty());
    CHECK(s.eligible[primary_l].empty());
    CHECK(s.eligible[replica_l] == index_list{1, 2});
    CHECK(s.eligible[read_only_l] == index_list{0, 1, 2});
    CHECK(s.members[1].lag == 0u); // from /cluster: the standby leader has no WAL write position
}

TEST_CASE("static listeners: listed servers that are up or never checked, in listed order", "[health][snapshot]")
{
    cluster c;
    c.dcs.reset();
    c.members[0] = observed("node1", std::nullopt, "");     // no API: never checked
    c.members[1] = observed("node2", std::nullopt, "+---"); // checked and down
    c.members[2] = observed("node3", std::nullopt, "+-");   // UP 1/3
    c.listeners = {static_listener({"node3", "node2", "node1", "node9"}), static_listener({"node2"})};
    const auto s = c.derive();
    REQUIRE(s.eligible.size() == 2);
    CHECK(s.eligible[0] == index_list{2, 0});
    CHECK(s.eligible[1].empty());
    CHECK(s.members[0].up);
    CHECK_FALSE(s.members[1].up);
    CHECK_FALSE(s.members[0].has_status);
}

TEST_CASE("a member whose host name does not resolve takes no new sessions, on any listener", "[health][snapshot]")
{
    cluster c;
    const std::string error = "cannot resolve pg2: Host not found (authoritative)";
    c.members[1].address_error = error;
    SECTION("a replica: out of the eligible lists, into the unaddressed ones; up by its checks")
    {
        const auto s = c.derive();
        CHECK(s.eligible[replica_l] == index_list{2});
        CHECK(s.unaddressed[replica_l] == index_list{1});
        CHECK(s.eligible[read_only_l] == index_list{0, 2});
        CHECK(s.unaddressed[read_only_l] == index_list{1});
        CHECK(s.unaddressed[primary_l].empty());
        CHECK(s.members[1].up);
        CHECK(s.members[1].address_error == error);
        CHECK(has_incident(s, incident_kind::no_address, "member node2 has no address: " + error));
    }
    SECTION("the leader: still the primary, but nobody takes writes")
    {
        c.members[1].address_error.clear();
        c.members[0].address_error = "cannot resolve pg1: Host not found (authoritative)";
        const auto s = c.derive();
        CHECK(s.primary == 0u);
        CHECK(s.eligible[primary_l].empty());
        CHECK(s.unaddressed[primary_l] == index_list{0});
        CHECK(s.eligible[read_only_l] == index_list{1, 2});
    }
    SECTION("fallback_to_primary stands in when the replicas have no address")
    {
        c.members[2].address_error = error;
        c.listeners[replica_l].fallback_to_primary = true;
        const auto s = c.derive();
        CHECK(s.eligible[replica_l] == index_list{0});
        CHECK(s.unaddressed[replica_l] == index_list{1, 2});
    }
    SECTION("static listeners, in listed order; a member down stays out of both lists")
    {
        c.dcs.reset();
        c.members[2] = observed("node3", std::nullopt, "+---");
        c.members[2].address_error = error;
        c.listeners = {static_listener({"node3", "node2", "node1"})};
        const auto s = c.derive();
        CHECK(s.eligible[0] == index_list{0});
        CHECK(s.unaddressed[0] == index_list{1});
    }
}

TEST_CASE("member order and facts follow the observations, not the DCS", "[health][snapshot]")
{
    cluster c;
    std::swap(c.dcs->members[0], c.dcs->members[2]);
    c.members[1].member.weight = 0;
    c.status(1).pending_restart = true;
    c.in_dcs(2).tags.all["zone"] = "a"; // node1's entry after the swap
    c.members[0].status->tags.all.clear();
    c.members[2].status.reset(); // never answered: DCS facts stand in
    c.members[2].health = {};
    c.in_dcs(0).timeline = 4; // node3's entry after the swap
    const auto s = c.derive();
    CHECK(s.members[0].name == "node1");
    CHECK(s.members[2].name == "node3");
    CHECK(s.members[1].weight == 0);
    CHECK(s.members[1].pending_restart);
    CHECK(s.members[0].tags.all.empty()); // the member's own tags win over the DCS copy
    CHECK(s.members[2].timeline == 4u);
    CHECK(s.members[2].lag == 0u);
    CHECK(s.eligible[replica_l] == index_list{1});
}

TEST_CASE("incidents are reported once, when they appear", "[health][snapshot]")
{
    cluster c;
    c.dcs.reset();
    const auto first = c.derive();
    const auto again = c.derive();
    CHECK(new_incidents(nullptr, first).size() == 1);
    CHECK(new_incidents(&first, again).empty());

    c.dcs = cluster_view{{dcs_member("node2", dcs_role::leader)}, false};
    const auto changed = c.derive();
    const auto added = new_incidents(&again, changed);
    REQUIRE(added.size() == 2);
    CHECK(added[0].kind == incident_kind::primary_not_dcs_leader);
    CHECK(added[1].text == "DCS leader node2 reports itself replica");
    CHECK(to_string(incident_kind::several_primaries) == "several_primaries");
}

TEST_CASE("sql_check off: the SQL verdict is not consulted", "[health][snapshot][sql_check]")
{
    cluster c;
    c.members[0].sql_in_recovery = true; // would block the primary if the check were on
    const auto s = c.derive();
    CHECK(s.primary == 0u);
    CHECK(s.incidents.empty());
}

TEST_CASE("sql_check on: the DCS leader needs pg_is_in_recovery() = false", "[health][snapshot][sql_check]")
{
    cluster c;
    const auto derive = [&] { return derive_snapshot(c.listeners, c.members, c.dcs, 8, true); };
    SECTION("SQL confirms: the primary as without the check")
    {
        c.members[0].sql_in_recovery = false;
        const auto s = derive();
        CHECK(s.primary == 0u);
        CHECK(s.incidents.empty());
        CHECK(s.eligible[primary_l] == index_list{0});
        CHECK(s.eligible[read_only_l] == index_list{0, 1, 2});
    }
    SECTION("Patroni says primary, SQL says in recovery: no primary, replicas unaffected")
    {
        c.members[0].sql_in_recovery = true;
        const auto s = derive();
        CHECK_FALSE(s.primary);
        CHECK(s.eligible[primary_l].empty());
        CHECK(has_incident(s, incident_kind::sql_check_disagrees,
                           "DCS leader node1 reports itself primary but SQL says it is in recovery"));
        CHECK(s.eligible[replica_l] == index_list{1, 2});
    }
    SECTION("the SQL check failed")
    {
        c.members[0].sql_error = "timeout after 1000 ms";
        const auto s = derive();
        CHECK_FALSE(s.primary);
        CHECK(has_incident(s, incident_kind::sql_check_disagrees,
                           "DCS leader node1 reports itself primary but its SQL check failed: timeout after 1000 ms"));
    }
    SECTION("the SQL check has not run")
    {
        const auto s = derive();
        CHECK_FALSE(s.primary);
        CHECK(has_incident(s, incident_kind::sql_check_disagrees,
                           "DCS leader node1 reports itself primary but its SQL check has not answered yet"));
    }
    SECTION("a replica's missing SQL verdict changes nothing for reads")
    {
        c.members[0].sql_in_recovery = false;
        c.members[1].sql_error = "connection refused";
        const auto s = derive();
        CHECK(s.primary == 0u);
        CHECK(s.eligible[replica_l] == index_list{1, 2});
    }
}

TEST_CASE("sql_check on: the existing objections come first", "[health][snapshot][sql_check]")
{
    cluster c;
    c.status(0).state = "starting";
    const auto s = derive_snapshot(c.listeners, c.members, c.dcs, 9, true);
    CHECK_FALSE(s.primary);
    CHECK(has_incident(s, incident_kind::dcs_leader_not_primary, "DCS leader node1 reports state 'starting'"));
    CHECK(s.incidents.size() == 1);
    CHECK(to_string(incident_kind::sql_check_disagrees) == "sql_check_disagrees");
}

TEST_CASE("tags: Patroni's tag_ filter on replica, read-only, sync, async and any, not on primary",
          "[health][snapshot][tags]")
{
    cluster c;
    c.listeners.push_back(role_listener(listener_role::any));
    constexpr std::size_t any_l = 5;
    for (auto& l : c.listeners) l.tags = {{"datacenter", "east"}};
    // node1 (primary) and node3 in east, node2 in west; node3 also "true" for a boolean tag.
    c.status(0).tags.all = {{"datacenter", "east"}};
    c.status(1).tags.all = {{"datacenter", "west"}};
    c.status(2).tags.all = {{"datacenter", "east"}, {"reporting", "true"}};
    auto s = c.derive();
    CHECK(s.eligible[primary_l] == index_list{0}); // /primary ignores tag_ parameters
    CHECK(s.eligible[replica_l] == index_list{2});
    CHECK(s.eligible[read_only_l] == index_list{0, 2});
    CHECK(s.eligible[async_l] == index_list{2});
    CHECK(s.eligible[any_l] == index_list{0, 2});

    SECTION("every named tag must match, as text")
    {
        c.listeners[replica_l].tags = {{"datacenter", "east"}, {"reporting", "true"}};
        CHECK(c.eligible(replica_l) == index_list{2});
        c.listeners[replica_l].tags = {{"reporting", "True"}}; // Patroni compares str(value).lower()
        CHECK(c.eligible(replica_l).empty());
    }
    SECTION("a tag the member does not publish excludes it")
    {
        c.listeners[read_only_l].tags = {{"reporting", "true"}};
        CHECK(c.eligible(read_only_l) == index_list{2}); // the primary too: /read-only filters it
    }
    SECTION("no member matches: fallback_to_primary still gives the primary")
    {
        c.listeners[replica_l].tags = {{"datacenter", "north"}};
        c.listeners[replica_l].fallback_to_primary = true;
        CHECK(c.eligible(replica_l) == index_list{0});
    }
    SECTION("tags published only in the DCS view count for a member that has not answered yet")
    {
        c.members[1].status.reset();
        c.members[1].health = health_of("");
        c.in_dcs(2).tags.all = {{"datacenter", "east"}};
        c.status(2).tags.all = {{"datacenter", "west"}}; // the member's own, fresher answer wins
        CHECK(c.eligible(replica_l).empty());
    }
}

TEST_CASE("standby_leader on a primary listener: a standby cluster's leader is eligible (Patroni's /leader)",
          "[health][snapshot]")
{
    cluster c;
    c.listeners[primary_l].standby_leader = true;
    CHECK(c.eligible(primary_l) == index_list{0}); // an ordinary cluster: the primary

    c.in_dcs(0).role = dcs_role::standby_leader;
    c.members[0].status = replica_status();
    c.status(0).role = pg_role::standby_leader;
    c.status(0).role_text = "standby_leader";
    CHECK(c.eligible(primary_l) == index_list{0});
    c.listeners[primary_l].standby_leader = false;
    CHECK(c.eligible(primary_l).empty()); // /primary: a standby cluster has none

    c.listeners[primary_l].standby_leader = true;
    c.members[0].health = health_of("+---"); // down: not even the standby leader
    CHECK(c.eligible(primary_l).empty());
}

TEST_CASE("each listener gets each member's settings: its member_settings by name over the member's weight",
          "[health][snapshot]")
{
    cluster c;
    c.members[1].member.weight = 50;
    c.listeners[replica_l].member_settings["node2"] = {.weight = 7, .backup = false, .max_connections = 3};
    c.listeners[replica_l].member_settings["node3"].backup = true;
    c.listeners[replica_l].member_settings["node9"].backup = true; // not a member: no effect
    const auto s = c.derive();
    REQUIRE(s.settings.size() == c.listeners.size());
    REQUIRE(s.settings[replica_l].size() == 3);
    CHECK(s.settings[replica_l][0] == listener_member{.weight = 100});
    CHECK(s.settings[replica_l][1] == listener_member{.weight = 7, .backup = false, .max_connections = 3});
    CHECK(s.settings[replica_l][2] == listener_member{.weight = 100, .backup = true});
    CHECK(s.settings[primary_l][1] == listener_member{.weight = 50}); // another listener: the member's own
    // Backups stay eligible; which of them takes sessions is the router's business.
    CHECK(s.eligible[replica_l] == index_list{1, 2});
    CHECK(s.setting(replica_l, 1).max_connections == 3);
}
