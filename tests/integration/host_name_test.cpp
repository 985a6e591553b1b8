// Members given by host name (issue 17, "Host names in server lines"): patroxy looks the name up
// without blocking and routes to the address it found, the Patroni API URL may name its host too,
// and a name that does not resolve makes its member unroutable with a reason (log line, 57P03
// detail, "MAINT (resolution)" on the stats page). The name is `localhost`, the one name every
// machine resolves; the PostgreSQL server listens on every address of it, so whichever address
// the resolver puts first is the server.
#include <catch2/catch.hpp>

#include "tests/support/fake_patroni.hpp"
#include "tests/support/http_get.hpp"
#include "tests/support/patroxy_process.hpp"
#include "tests/support/pg_server.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <thread>
#include <vector>

namespace {

using namespace patroxy::test;
using namespace std::chrono_literals;

/// The server of this file: on every address `localhost` has (pg_server's own readiness probe
/// uses 127.0.0.1, which is one of them).
pg_server& localhost_pg_server()
{
    static pg_server server([] {
        pg_server_options options;
        options.settings = {"listen_addresses = 'localhost'"};
        return options;
    }());
    return server;
}

std::string bind(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

} // namespace

TEST_CASE("host names: a member by name (localhost) is routed, its Patroni API by name too", "[resolve]")
{
    auto& pg = localhost_pg_server();
    fake_patroni api;
    patroni_member me;
    me.role = "master";
    api.set_patroni_body(patroni_json(me).dump());
    cluster_member in_dcs;
    in_dcs.name = "node1";
    in_dcs.role = "leader";
    in_dcs.host = "localhost";
    in_dcs.port = pg.port();
    in_dcs.api_url = "http://localhost:" + std::to_string(api.port()) + "/patroni";
    api.set_cluster_body(cluster_json({in_dcs}).dump());

    const auto primary = free_port();
    const auto fixed = free_port();
    using nlohmann::json;
    const json doc = {
        {"cluster",
         {{"members",
           json::array({{{"name", "node1"},
                         {"host", "localhost"},
                         {"port", pg.port()},
                         {"api", "http://localhost:" + std::to_string(api.port())}}})},
          {"resolve_interval", "100ms"}}},
        {"health", {{"interval", "200ms"}, {"fast_interval", "50ms"}, {"timeout", "1s"}, {"fall", 3}, {"rise", 1}}},
        {"listeners",
         json::array({{{"name", "primary"}, {"bind", bind(primary)}, {"role", "primary"}, {"queue_timeout", "5s"}},
                      {{"name", "fixed"}, {"bind", bind(fixed)}, {"servers", {"node1"}}}})},
        {"timeouts", {{"connect", "1s"}, {"startup", "2s"}}},
        {"workers", 1},
    };
    patroxy_process proxy(PATROXY_BINARY, doc.dump(2), {primary, fixed});

    for (const auto port : {primary, fixed}) {
        INFO("listener port " << port);
        auto c = connect_via(port);
        INFO(PQerrorMessage(c.get()));
        REQUIRE(PQstatus(c.get()) == CONNECTION_OK);
        CHECK(server_port(c.get()) == pg.port());
        CHECK(query_value(c.get(), "SELECT 'through a name'") == "through a name");
    }
    CHECK(proxy.wait_for_log("member node1: localhost resolves to ", 2s));
    // Looked up again every 100 ms: the same answer changes nothing and logs nothing.
    std::this_thread::sleep_for(400ms);
    {
        auto c = connect_via(fixed);
        REQUIRE(PQstatus(c.get()) == CONNECTION_OK);
        CHECK(server_port(c.get()) == pg.port());
    }
    CHECK(proxy.log().find("resolves again") == std::string::npos);
    CHECK(proxy.log().find("now resolves to") == std::string::npos);
    CHECK(api.total_requests() > 0); // GET /patroni reached the API named "localhost"
    CHECK(proxy.log().find("cannot resolve") == std::string::npos);
}

TEST_CASE("host names: a member whose name does not resolve is not routed, and says why", "[resolve]")
{
    auto& pg = localhost_pg_server();
    const auto port = free_port();
    const auto stats = free_port();
    proxy_config config;
    config.members = {member_spec("ghost", pg.port(), "no-such-member.invalid"),
                      member_spec("real", pg.port(), "localhost")};
    listener_spec only_ghost("haunted", port, {"ghost"});
    only_ghost.extra_json = R"("queue_timeout": "0s")";
    const auto both = free_port();
    config.listeners = {only_ghost, listener_spec("both", both, {"ghost", "real"})};
    config.extra_json = R"("health": {"interval": "200ms", "timeout": "1s"}, "stats": {"bind": ")" + bind(stats) +
                        R"("})";
    patroxy_process proxy(PATROXY_BINARY, config);

    REQUIRE(proxy.wait_for_log("member ghost: cannot resolve no-such-member.invalid: ", 5s));

    raw_connection raw(port);
    const auto replies = raw.startup(5s);
    REQUIRE_FALSE(replies.empty());
    REQUIRE(replies.back().type == 'E');
    auto fields = error_fields(replies.back());
    CHECK(fields['C'] == "57P03");
    CHECK_THAT(fields['M'], Catch::Contains("haunted"));
    CHECK_THAT(fields['D'], Catch::Contains("member ghost has no address: cannot resolve no-such-member.invalid: "));

    // The other listener routes every session to the member that has an address.
    for (int i = 0; i < 4; ++i) {
        auto c = connect_via(both);
        INFO(PQerrorMessage(c.get()));
        REQUIRE(PQstatus(c.get()) == CONNECTION_OK);
        CHECK(server_port(c.get()) == pg.port());
    }

    const auto csv = http_get(stats, "/stats.csv");
    CHECK(csv.status == 200);
    CHECK_THAT(csv.body, Catch::Contains("haunted,ghost,") && Catch::Contains("MAINT (resolution)"));
    // One line for the failure, however many lookups failed since.
    const auto log = proxy.log();
    std::size_t lines = 0;
    for (auto at = log.find("member ghost: cannot resolve"); at != std::string::npos;
         at = log.find("member ghost: cannot resolve", at + 1))
        ++lines;
    CHECK(lines == 1);
}
