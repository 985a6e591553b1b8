// Which incidents are errors (they need a person) and which are the normal steps of a switchover
// or failover (warnings), and the error line for writes with nowhere to go for too long.
#include "health/snapshot/incident_levels.hpp"

#include <catch2/catch.hpp>

using namespace patroxy::health;
using namespace std::chrono_literals;

TEST_CASE("a switchover's steps are warnings, two primaries is an error", "[health][incident]")
{
    // Seen in every planned switchover: DCS leader 'stopping', no leader lock, the new leader
    // still in recovery for a moment.
    CHECK(incident_level(incident_kind::dcs_leader_not_primary) == "warning");
    CHECK(incident_level(incident_kind::no_dcs_leader) == "warning");
    CHECK(incident_level(incident_kind::dcs_leader_down) == "warning");
    CHECK(incident_level(incident_kind::primary_not_dcs_leader) == "warning");
    CHECK(incident_level(incident_kind::sql_check_disagrees) == "warning");
    CHECK(incident_level(incident_kind::no_dcs_view) == "warning");
    CHECK(incident_level(incident_kind::dcs_leader_unknown) == "warning");
    CHECK(incident_level(incident_kind::no_address) == "warning");
    CHECK(incident_level(incident_kind::several_primaries) == "error");
}

TEST_CASE("no primary: an error once past the alarm, info when one is back", "[health][incident]")
{
    primary_outage outage(40s);
    const primary_outage::clock::time_point t0{};
    CHECK_FALSE(outage.observe(true, t0, ""));
    CHECK_FALSE(outage.observe(false, t0 + 1s, "the DCS holds no leader lock"));
    CHECK_FALSE(outage.observe(false, t0 + 40s, "the DCS holds no leader lock")); // 39 s so far
    const auto alarm = outage.observe(false, t0 + 41s, "the DCS holds no leader lock");
    REQUIRE(alarm);
    CHECK(alarm->level == "error");
    CHECK(alarm->text ==
          "no primary routable for 40 s, longer than 40 s (log.no_primary_alarm): the DCS holds no leader lock");
    CHECK_FALSE(outage.observe(false, t0 + 60s, "")); // said once per outage
    const auto back = outage.observe(true, t0 + 61s, "");
    REQUIRE(back);
    CHECK(back->level == "info");
    CHECK(back->text == "a primary is routable again after 60 s without one");
    CHECK_FALSE(outage.observe(true, t0 + 62s, ""));
}

TEST_CASE("a switchover shorter than the alarm says nothing at all", "[health][incident]")
{
    primary_outage outage(40s);
    const primary_outage::clock::time_point t0{};
    CHECK_FALSE(outage.observe(false, t0, "DCS leader node1 reports state 'stopping'"));
    CHECK_FALSE(outage.observe(false, t0 + 3s, "the DCS holds no leader lock"));
    CHECK_FALSE(outage.observe(true, t0 + 5s, ""));
    // A second outage starts its own clock.
    CHECK_FALSE(outage.observe(false, t0 + 100s, ""));
    CHECK_FALSE(outage.observe(false, t0 + 139s, ""));
    CHECK(outage.observe(false, t0 + 140s, ""));
}
