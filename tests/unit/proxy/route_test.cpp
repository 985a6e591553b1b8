// The routing decision: which members a new session tries, in which order.
#include "proxy/routing/route.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using patroxy::config::balance_mode;
using patroxy::health::cluster_snapshot;
using patroxy::proxy::plan_route;

namespace {

cluster_snapshot three_members()
{
    cluster_snapshot s;
    for (const char* name : {"pg1", "pg2", "pg3"}) s.members.push_back({name, "127.0.0.1", 5432, {}});
    s.eligible = {{0, 1, 2}, {2}, {}};
    return s;
}

std::vector<std::string> order(const patroxy::proxy::route_plan& plan)
{
    std::vector<std::string> names;
    for (std::size_t k = 0; k < plan.attempts(); ++k) names.push_back(plan.candidate(k).name);
    return names;
}

} // namespace

TEST_CASE("round-robin starts at the ticket and goes round the eligible members", "[proxy][route]")
{
    const auto s = three_members();
    CHECK(order(plan_route(s, 0, balance_mode::roundrobin, 0, 5)) == std::vector<std::string>{"pg1", "pg2", "pg3"});
    CHECK(order(plan_route(s, 0, balance_mode::roundrobin, 1, 5)) == std::vector<std::string>{"pg2", "pg3", "pg1"});
    CHECK(order(plan_route(s, 0, balance_mode::roundrobin, 5, 5)) == std::vector<std::string>{"pg3", "pg1", "pg2"});
}

TEST_CASE("retries bound the number of members tried", "[proxy][route]")
{
    const auto s = three_members();
    CHECK(order(plan_route(s, 0, balance_mode::roundrobin, 0, 0)) == std::vector<std::string>{"pg1"});
    CHECK(order(plan_route(s, 0, balance_mode::roundrobin, 0, 1)) == std::vector<std::string>{"pg1", "pg2"});
}

TEST_CASE("first always starts with the first eligible member", "[proxy][route]")
{
    const auto s = three_members();
    for (std::uint64_t ticket : {0u, 1u, 7u})
        CHECK(order(plan_route(s, 0, balance_mode::first, ticket, 2)) == std::vector<std::string>{"pg1", "pg2", "pg3"});
}

TEST_CASE("a listener with one or no eligible member", "[proxy][route]")
{
    const auto s = three_members();
    CHECK(order(plan_route(s, 1, balance_mode::roundrobin, 3, 2)) == std::vector<std::string>{"pg3"});
    CHECK(plan_route(s, 2, balance_mode::roundrobin, 3, 2).empty());
    CHECK(plan_route(s, 9, balance_mode::roundrobin, 0, 2).empty()); // unknown listener index
}

TEST_CASE("weights interleave round-robin and weight 0 takes no new sessions", "[proxy][route]")
{
    auto s = three_members();
    s.members[0].weight = 30;
    s.members[1].weight = 10;
    s.members[2].weight = 0; // drained
    std::vector<std::string> firsts;
    for (std::uint64_t ticket = 0; ticket < 8; ++ticket)
        firsts.push_back(plan_route(s, 0, balance_mode::roundrobin, ticket, 0).candidate(0).name);
    CHECK(firsts == std::vector<std::string>{"pg1", "pg2", "pg1", "pg1", "pg1", "pg2", "pg1", "pg1"});
    // the drained member is not even a fallback
    CHECK(order(plan_route(s, 0, balance_mode::roundrobin, 0, 5)) == std::vector<std::string>{"pg1", "pg2"});
    s.members[0].weight = 0;
    s.members[1].weight = 0;
    CHECK(plan_route(s, 0, balance_mode::roundrobin, 0, 5).empty());
}

TEST_CASE("leastconn picks the fewest sessions per unit of weight", "[proxy][route]")
{
    auto s = three_members();
    patroxy::proxy::member_session_counts sessions{};
    sessions[0] = 5;
    sessions[1] = 2;
    sessions[2] = 3;
    CHECK(plan_route(s, 0, balance_mode::leastconn, 0, 0, &sessions).candidate(0).name == "pg2");
    s.members[2].weight = 200; // 3 sessions at double weight count as 1.5
    CHECK(plan_route(s, 0, balance_mode::leastconn, 0, 0, &sessions).candidate(0).name == "pg3");
    // ties rotate with the ticket
    sessions[0] = sessions[1] = sessions[2] = 0;
    s.members[2].weight = 100;
    CHECK(plan_route(s, 0, balance_mode::leastconn, 1, 0, &sessions).candidate(0).name == "pg2");
    CHECK(plan_route(s, 0, balance_mode::leastconn, 2, 0, &sessions).candidate(0).name == "pg3");
}

TEST_CASE("members an operator set to drain or maint take no new sessions", "[proxy][route]")
{
    const auto s = three_members();
    patroxy::proxy::member_admin_states admin{};
    admin[1] = 1; // drain
    CHECK(order(plan_route(s, 0, balance_mode::roundrobin, 1, 5, nullptr, &admin)) ==
          std::vector<std::string>{"pg3", "pg1"});
    admin[0] = 2; // maint
    admin[2] = 2;
    CHECK(plan_route(s, 0, balance_mode::roundrobin, 0, 5, nullptr, &admin).empty());
    admin[0] = 0; // back to ready
    CHECK(order(plan_route(s, 0, balance_mode::first, 0, 5, nullptr, &admin)) == std::vector<std::string>{"pg1"});
}

namespace {

/// three_members() with listener 0's settings: per member {weight, backup, max_connections}.
cluster_snapshot with_settings(std::vector<patroxy::health::listener_member> listener0)
{
    auto s = three_members();
    s.settings = {std::move(listener0), {}, {}};
    return s;
}

using patroxy::health::listener_member;
using patroxy::proxy::has_active_member;
using patroxy::proxy::member_admin_states;
using patroxy::proxy::member_session_counts;
using patroxy::proxy::takes_new_sessions;

} // namespace

TEST_CASE("a listener's own weights replace the members' weights", "[proxy][route]")
{
    auto s = with_settings({{.weight = 30}, {.weight = 10}, {.weight = 0}});
    s.members[0].weight = 1; // the member's own weights are not what this listener uses
    s.members[1].weight = 100;
    s.members[2].weight = 100;
    std::vector<std::string> firsts;
    for (std::uint64_t ticket = 0; ticket < 8; ++ticket)
        firsts.push_back(plan_route(s, 0, balance_mode::roundrobin, ticket, 0).candidate(0).name);
    CHECK(firsts == std::vector<std::string>{"pg1", "pg2", "pg1", "pg1", "pg1", "pg2", "pg1", "pg1"});
    CHECK(order(plan_route(s, 0, balance_mode::roundrobin, 0, 5)) == std::vector<std::string>{"pg1", "pg2"});
    // Another listener without settings of its own keeps the members' weights.
    s.eligible[1] = {0, 1};
    CHECK(s.setting(1, 0).weight == 1);
    CHECK_FALSE(takes_new_sessions(s, 0, 2));
    CHECK(takes_new_sessions(s, 0, 1));
}

TEST_CASE("backups take sessions only while no non-backup member does, the first of them leading",
          "[proxy][route]")
{
    // pg1 active; pg2 and pg3 backups.
    auto s = with_settings({{}, {.backup = true}, {.backup = true}});
    for (std::uint64_t ticket = 0; ticket < 4; ++ticket)
        CHECK(order(plan_route(s, 0, balance_mode::roundrobin, ticket, 5)) == std::vector<std::string>{"pg1"});
    CHECK(has_active_member(s, 0));

    SECTION("the active member is not eligible: the first backup, then the others as retries, whatever the "
            "balance or the ticket")
    {
        s.eligible[0] = {1, 2};
        CHECK_FALSE(has_active_member(s, 0));
        for (auto balance : {balance_mode::roundrobin, balance_mode::leastconn, balance_mode::source})
            for (std::uint64_t ticket = 0; ticket < 4; ++ticket)
                CHECK(order(plan_route(s, 0, balance, ticket, 5)) == std::vector<std::string>{"pg2", "pg3"});
        CHECK(order(plan_route(s, 0, balance_mode::roundrobin, 1, 0)) == std::vector<std::string>{"pg2"});
    }
    SECTION("the active member is in maint or drain, or weight 0: the backups take over")
    {
        member_admin_states admin{};
        admin[0] = 2;
        CHECK(order(plan_route(s, 0, balance_mode::roundrobin, 0, 5, nullptr, &admin)) ==
              std::vector<std::string>{"pg2", "pg3"});
        admin[0] = 1;
        CHECK(order(plan_route(s, 0, balance_mode::roundrobin, 0, 5, nullptr, &admin)) ==
              std::vector<std::string>{"pg2", "pg3"});
        admin[1] = 2; // the first backup in maint: the next one leads
        CHECK(order(plan_route(s, 0, balance_mode::roundrobin, 0, 5, nullptr, &admin)) ==
              std::vector<std::string>{"pg3"});
        admin[0] = 0;
        admin[1] = 0;
        s.settings[0][0].weight = 0;
        CHECK(order(plan_route(s, 0, balance_mode::roundrobin, 0, 5)) == std::vector<std::string>{"pg2", "pg3"});
    }
    SECTION("every member a backup: they act as backups of nobody, the first leads")
    {
        s.settings[0][0].backup = true;
        CHECK(order(plan_route(s, 0, balance_mode::roundrobin, 2, 5)) == std::vector<std::string>{"pg1", "pg2", "pg3"});
    }
}

TEST_CASE("max_connections: a full member is left out, and a plan with every member full says so", "[proxy][route]")
{
    auto s = with_settings({{.max_connections = 2}, {.max_connections = 1}, {}});
    member_session_counts sessions{};
    sessions[0] = 2; // full
    sessions[1] = 0;
    sessions[2] = 7; // no limit
    CHECK(order(plan_route(s, 0, balance_mode::roundrobin, 0, 5, &sessions)) == std::vector<std::string>{"pg2", "pg3"});
    CHECK(takes_new_sessions(s, 0, 0)); // full, but still taking sessions as its load allows

    s.eligible[0] = {0, 1};
    sessions[1] = 1;
    const auto full = plan_route(s, 0, balance_mode::roundrobin, 0, 5, &sessions);
    CHECK(full.empty());
    CHECK(full.full());
    sessions[1] = 0; // a session on pg2 ended
    CHECK(order(plan_route(s, 0, balance_mode::roundrobin, 0, 5, &sessions)) == std::vector<std::string>{"pg2"});

    // Nobody eligible is not "full".
    s.eligible[0] = {};
    CHECK_FALSE(plan_route(s, 0, balance_mode::roundrobin, 0, 5, &sessions).full());
    // A member in maint is not waited for.
    s.eligible[0] = {0};
    member_admin_states admin{};
    admin[0] = 2;
    CHECK_FALSE(plan_route(s, 0, balance_mode::roundrobin, 0, 5, &sessions, &admin).full());
}

TEST_CASE("full non-backup members do not spill over to the backups", "[proxy][route]")
{
    auto s = with_settings({{.max_connections = 1}, {.backup = true}, {}});
    s.eligible[0] = {0, 1};
    member_session_counts sessions{};
    sessions[0] = 1;
    const auto plan = plan_route(s, 0, balance_mode::roundrobin, 0, 5, &sessions);
    CHECK(plan.empty());
    CHECK(plan.full()); // the client waits for pg1's slot, as HAProxy queues
    // A full first backup passes the lead to the next one.
    s.settings[0] = {{.backup = true}, {.backup = true, .max_connections = 1}, {.backup = true}};
    s.eligible[0] = {1, 2};
    sessions[1] = 1;
    CHECK(order(plan_route(s, 0, balance_mode::roundrobin, 0, 5, &sessions)) == std::vector<std::string>{"pg3"});
    s.eligible[0] = {1};
    CHECK(plan_route(s, 0, balance_mode::roundrobin, 0, 5, &sessions).full());
}
