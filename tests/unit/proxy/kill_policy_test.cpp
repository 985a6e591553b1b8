// Which sessions close when the snapshot changes: role lost or member down closes; lag closes
// only with on_lag: shutdown; drained or promoted members, and members whose host name stopped
// resolving, keep their sessions.
#include "proxy/routing/kill_policy.hpp"

#include <catch2/catch.hpp>

using namespace patroxy;
using proxy::kill_reason;

namespace {

health::cluster_snapshot snapshot(std::vector<std::vector<std::uint32_t>> eligible)
{
    health::cluster_snapshot s;
    for (const char* name : {"node1", "node2", "node3"}) s.members.push_back({name, "127.0.0.1", 5432, {}});
    s.eligible = std::move(eligible);
    return s;
}

config::listener listener(std::optional<config::listener_role> role)
{
    config::listener l; // the name is left empty: kill_reason does not use it
    l.role = role;
    return l;
}

} // namespace

TEST_CASE("an eligible member keeps its sessions", "[proxy][kill]")
{
    const auto s = snapshot({{0}, {1, 2}});
    CHECK_FALSE(kill_reason(listener(config::listener_role::primary), 0, "node1", s));
    CHECK_FALSE(kill_reason(listener(config::listener_role::replica), 1, "node2", s));
}

TEST_CASE("a primary that lost the role has its primary sessions closed", "[proxy][kill]")
{
    auto s = snapshot({{1}, {0, 2}}); // node2 promoted, node1 now a replica
    const auto reason = kill_reason(listener(config::listener_role::primary), 0, "node1", s);
    REQUIRE(reason);
    CHECK(reason->reason == "member node1 is no longer the primary");
    CHECK(reason->kind == proxy::kill_kind::role_lost);
    // no primary at all (election, two claimants): still closed, writes must not go on
    s.eligible[0].clear();
    CHECK(kill_reason(listener(config::listener_role::primary), 0, "node2", s));
}

TEST_CASE("a promoted replica keeps its read sessions", "[proxy][kill]")
{
    const auto s = snapshot({{1}, {2}}); // node2 is primary now, not in the replica set
    CHECK_FALSE(kill_reason(listener(config::listener_role::replica), 1, "node2", s));
}

TEST_CASE("a member marked down has its sessions closed on every listener", "[proxy][kill]")
{
    auto s = snapshot({{0}, {2}});
    s.members[1].up = false;
    const auto reason = kill_reason(listener(config::listener_role::replica), 1, "node2", s);
    REQUIRE(reason);
    CHECK(reason->reason.starts_with("member node2 is down"));
    CHECK(reason->kind == proxy::kill_kind::member_down);
    CHECK(kill_reason(listener(std::nullopt), 1, "node2", s)); // static listeners too
}

TEST_CASE("lag closes sessions only with on_lag shutdown", "[proxy][kill]")
{
    auto s = snapshot({{0}, {2}});
    s.members[1].lag = 5u << 20;
    auto l = listener(config::listener_role::replica);
    l.max_lag = 1u << 20;
    CHECK_FALSE(kill_reason(l, 1, "node2", s));
    l.on_lag = config::lag_action::shutdown;
    const auto reason = kill_reason(l, 1, "node2", s);
    REQUIRE(reason);
    CHECK(reason->reason == "member node2 lags behind the primary by more than max_lag");
    CHECK(reason->kind == proxy::kill_kind::over_lag);
}

TEST_CASE("a member gone from the snapshot has its sessions closed", "[proxy][kill]")
{
    const auto s = snapshot({{0}, {1}});
    const auto reason = kill_reason(listener(config::listener_role::replica), 1, "node9", s);
    REQUIRE(reason);
    CHECK(reason->kind == proxy::kill_kind::member_down);
}

TEST_CASE("a member whose host name stopped resolving keeps its live sessions", "[proxy][kill]")
{
    auto s = snapshot({{}, {2}});
    s.unaddressed = {{0}, {1}};
    s.members[0].address_error = "cannot resolve pg1: Host not found (authoritative)";
    s.members[1].address_error = s.members[0].address_error;
    CHECK_FALSE(kill_reason(listener(config::listener_role::primary), 0, "node1", s));
    CHECK_FALSE(kill_reason(listener(config::listener_role::replica), 1, "node2", s));
    // ... until its checks take it down too
    s.unaddressed[1].clear();
    s.members[1].up = false;
    CHECK(kill_reason(listener(config::listener_role::replica), 1, "node2", s));
}

TEST_CASE("shutdown_backup_sessions: a backup's sessions close once a non-backup member takes sessions again",
          "[proxy][kill]")
{
    auto s = snapshot({{0, 1}}); // node1 active again, node2 a backup
    s.settings = {{{}, {.backup = true}, {}}};
    auto l = listener(config::listener_role::replica);
    CHECK_FALSE(kill_reason(l, 0, "node2", s)); // without the setting the backup keeps its sessions
    l.shutdown_backup_sessions = true;
    const auto reason = kill_reason(l, 0, "node2", s);
    REQUIRE(reason);
    CHECK(reason->kind == proxy::kill_kind::backup_replaced);
    CHECK(reason->reason == "member node2 is a backup and a non-backup member is available again");
    CHECK_FALSE(kill_reason(l, 0, "node1", s)); // the active member's own sessions stay

    SECTION("no non-backup member takes sessions: the backup keeps them")
    {
        s.eligible = {{1}};
        CHECK_FALSE(kill_reason(l, 0, "node2", s));
        s.eligible = {{0, 1}};
        proxy::member_admin_states admin{};
        admin[0] = 2; // node1 eligible again, but in maint
        CHECK_FALSE(kill_reason(l, 0, "node2", s, &admin));
        admin[0] = 0;
        CHECK(kill_reason(l, 0, "node2", s, &admin));
    }
    SECTION("a backup that is down is closed as down, not as replaced")
    {
        s.eligible = {{0}};
        s.members[1].up = false;
        const auto down = kill_reason(l, 0, "node2", s);
        REQUIRE(down);
        CHECK(down->kind == proxy::kill_kind::member_down);
    }
}
