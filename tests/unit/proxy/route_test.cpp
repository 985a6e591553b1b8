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
