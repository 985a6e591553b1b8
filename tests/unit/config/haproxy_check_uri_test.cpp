// The check request -> listener role, with Patroni 3.0.2's rules (patroni/api.py do_GET(),
// parse_request(); patroni/utils.py parse_int() for ?lag=). The lag values were checked against
// Patroni 3.0.2's own parse_int(value, 'B') in Python.
#include "config/haproxy/check_uri.hpp"
#include "config/haproxy/patroni_size.hpp"

#include <catch2/catch.hpp>

#include <tuple>

using namespace patroxy::config;
using namespace patroxy::config::haproxy;

namespace {

check_role role(std::string_view method, std::string_view uri)
{
    auto r = role_for_check(method, uri);
    INFO(method << " " << uri << ": " << r.error);
    REQUIRE(r.role);
    CHECK(r.error.empty());
    return *r.role;
}

std::string refusal(std::string_view method, std::string_view uri)
{
    auto r = role_for_check(method, uri);
    CHECK_FALSE(r.role);
    return r.error;
}

} // namespace

TEST_CASE("Patroni's endpoints select roles by the words in the path", "[config][haproxy][check]")
{
    using row = std::tuple<std::string_view, listener_role, bool>; // uri, role, standby_leader
    const auto [uri, expected, standby] = GENERATE(table<std::string_view, listener_role, bool>({
        row{"/", listener_role::primary, false},
        row{"/primary", listener_role::primary, false},
        row{"/master", listener_role::primary, false},
        row{"/read-write", listener_role::primary, false},
        row{"/leader", listener_role::primary, true},
        row{"/standby-leader", listener_role::standby_leader, false},
        row{"/standby_leader", listener_role::standby_leader, false},
        row{"/replica", listener_role::replica, false},
        row{"/replicas", listener_role::replica, false}, // Patroni looks for the word, not the path
        row{"/read-only", listener_role::read_only, false},
        row{"/health", listener_role::any, false},
        row{"/sync", listener_role::sync, false},
        row{"/synchronous", listener_role::sync, false},
        row{"/async", listener_role::async, false},
        row{"/asynchronous", listener_role::async, false},
        row{"/primary#x", listener_role::primary, false},
    }));
    for (const std::string_view method : {"OPTIONS", "GET", "HEAD"}) {
        const auto r = role(method, uri);
        CHECK(r.role == expected);
        CHECK(r.standby_leader == standby);
        CHECK_FALSE(r.max_lag);
        CHECK(r.tags.empty());
        CHECK(r.notes.empty());
    }
}

TEST_CASE("lag and tag filters apply where Patroni applies them", "[config][haproxy][check]")
{
    const auto replica = role("GET", "/replica?lag=1MB&tag_datacenter=east&tag_rack=r%201");
    CHECK(replica.max_lag == 1048576u);
    CHECK(replica.tags == std::map<std::string, std::string>{{"datacenter", "east"}, {"rack", "r 1"}});
    CHECK(replica.notes.empty());

    CHECK(role("OPTIONS", "/read-only?lag=16kB").max_lag == 16384u);
    CHECK(role("OPTIONS", "/async?lag=0").max_lag == 0u);
    CHECK(role("OPTIONS", "/sync?tag_dc=a").tags.at("dc") == "a");
    CHECK(role("OPTIONS", "/health?tag_dc=a").tags.at("dc") == "a");

    SECTION("the first of a repeated key wins; empty values and bare keys are dropped, as parse_qs does")
    {
        const auto r = role("GET", "/replica?lag=1kB&lag=2kB&tag_dc=a&tag_dc=b&tag_x=&lag");
        CHECK(r.max_lag == 1024u);
        CHECK(r.tags == std::map<std::string, std::string>{{"dc", "a"}});
    }
    SECTION("what Patroni ignores is said")
    {
        const auto primary = role("GET", "/primary?lag=1MB&tag_dc=east&foo=1");
        CHECK_FALSE(primary.max_lag);
        CHECK(primary.tags.empty());
        CHECK(primary.notes == std::vector<std::string>{
                                   "lag=1MB has no meaning on this endpoint (Patroni applies it to replicas only)",
                                   "tag_dc=east has no effect: Patroni ignores tag filters on this endpoint",
                                   "query parameter 'foo' has no meaning to Patroni"});
        const auto health = role("GET", "/health?lag=1MB");
        CHECK_FALSE(health.max_lag);
        CHECK(health.notes.size() == 1);
    }
    SECTION("a size Patroni does not read means no limit, there and here")
    {
        const auto r = role("GET", "/replica?lag=1mb");
        CHECK_FALSE(r.max_lag);
        CHECK(r.notes == std::vector<std::string>{"lag=1mb is not a size Patroni reads (bytes, or B, kB, MB, GB, TB): "
                                                  "Patroni applies no lag limit, and neither does patroxy"});
    }
}

TEST_CASE("checks patroxy cannot follow are refused with the reason", "[config][haproxy][check]")
{
    CHECK(refusal("GET", "/patroni") ==
          "GET /patroni is not a role check: Patroni answers it from its own handler whatever the member's role. "
          "Role endpoints: /primary (or /, /master, /read-write), /leader, /standby-leader, /replica, /read-only, "
          "/sync, /async, /health");
    CHECK_FALSE(refusal("GET", "/liveness").empty());
    CHECK_FALSE(refusal("GET", "/cluster").empty());
    CHECK(refusal("OPTIONS", "/foo") ==
          "Patroni 3.0.2 answers OPTIONS /foo with 503 on every member, so this section would route nowhere. Role "
          "endpoints: /primary (or /, /master, /read-write), /leader, /standby-leader, /replica, /read-only, /sync, "
          "/async, /health");
    CHECK_FALSE(refusal("OPTIONS", "/patroni").empty()); // OPTIONS reaches the generic handler: 503 everywhere
    CHECK(refusal("GET", "/read-only-sync") ==
          "/read-only-sync (the leader and the synchronous standbys) has no patroxy role; use /sync or /read-only");
    CHECK(refusal("POST", "/primary") ==
          "Patroni answers only OPTIONS, GET and HEAD on its health endpoints; POST /primary never passes");
    CHECK(refusal("get", "/primary").find("never passes") != std::string::npos);
    CHECK(refusal("GET", "primary") == "expected a check URI starting with /, got 'primary'");
    CHECK(refusal("GET", "/replica?lag=-1") == "lag=-1 is negative: Patroni would take every replica for lagging");
    CHECK(refusal("GET", "/replica?tag_=x") == "'tag_=x' names no tag: Patroni would answer 503 on every member");
}

TEST_CASE("?lag= sizes are read as Patroni 3.0.2 reads them", "[config][haproxy][check]")
{
    // The right column is what parse_int(value, 'B') of Patroni 3.0.2 returns.
    using row = std::tuple<std::string_view, std::optional<long double>>;
    const auto [text, bytes] = GENERATE(table<std::string_view, std::optional<long double>>({
        row{"1MB", 1048576.0L},
        row{"16kB", 16384.0L},
        row{"1048576", 1048576.0L},
        row{"0x400", 1024.0L},
        row{"010", 8.0L}, // octal, as C's strtol() with base 0
        row{"1.5MB", 1572864.0L},
        row{" 1 MB ", 1048576.0L},
        row{"1e3", 1000.0L},
        row{"-1", -1.0L},
        row{"1TB", 1099511627776.0L},
        row{"0.5kB", 512.0L},
        row{"1.0005kB", 1025.0L},
        row{"1.7kB", 1741.0L},
        row{"1.5", 2.0L}, // halves round to even
        row{"2.5", 2.0L},
        row{".5MB", 524288.0L},
        row{"0", 0.0L},
        row{"1mb", std::nullopt}, // units are case-sensitive
        row{"08", std::nullopt},  // "0" then the unit "8"
        row{"1.", std::nullopt},
        row{"1e", std::nullopt},
        row{"0x", std::nullopt},
        row{"", std::nullopt},
    }));
    INFO("lag=" << text);
    CHECK(patroni_lag_bytes(text) == bytes);
}

TEST_CASE("a lag beyond 63 bits is no limit, as Patroni's comparison makes it", "[config][haproxy][check]")
{
    CHECK(patroni_lag_bytes("100000000000000000000") > 9.2e18L);
    CHECK_FALSE(role("GET", "/replica?lag=100000000000000000000").max_lag);
}
