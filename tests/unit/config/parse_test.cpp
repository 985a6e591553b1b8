// Valid configs: every field lands in the structs, and omitted fields take their defaults.
#include "config_test_support.hpp"

#include <fstream>
#include <sstream>

using namespace patroxy::config;
using namespace patroxy::config::test;
using namespace std::chrono_literals;

namespace {

std::string read_data_file(const std::string& name)
{
    std::ifstream in(std::string(PATROXY_TEST_DATA) + "/" + name);
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

} // namespace

TEST_CASE("a full config reaches every field", "[config][parse]")
{
    const load_result r = parse_config(read_data_file("full.json"));
    INFO(Catch::Detail::stringify(error_lines(r)));
    REQUIRE(r.errors.empty());
    REQUIRE(r.value);
    const config& c = *r.value;

    CHECK(c.scope == "demo");
    CHECK_FALSE(c.discover);
    REQUIRE(c.members.size() == 3);
    CHECK(c.members[0].name == "node1");
    CHECK(c.members[0].host == "127.0.0.1");
    CHECK(c.members[0].port == 5432);
    CHECK(c.members[0].api == "http://127.0.0.1:8008");
    CHECK(c.members[1].host == "db2.example.com");
    CHECK(c.members[1].port == 6543);
    CHECK(c.members[1].api.empty());
    CHECK(c.members[2].host == "::1");
    CHECK(c.members[2].api == "http://[::1]:8010");

    CHECK(c.health.interval == 2s);
    CHECK(c.health.fast_interval == 250ms);
    CHECK(c.health.timeout == 1500ms);
    CHECK(c.health.fall == 5);
    CHECK(c.health.rise == 4);

    REQUIRE(c.listeners.size() == 3);
    const listener& primary = c.listeners[0];
    CHECK(primary.name == "primary");
    CHECK(primary.bind.host == "0.0.0.0");
    CHECK(primary.bind.port == 5000);
    CHECK(primary.servers == std::vector<std::string>{"node1", "node2"});
    CHECK_FALSE(primary.role);
    CHECK(primary.max_connections == 500);
    CHECK(primary.tls == tls_mode::passthrough);
    CHECK(primary.balance == balance_mode::roundrobin);

    const listener& replicas = c.listeners[1];
    CHECK(replicas.bind.host == "::1");
    CHECK(replicas.bind.port == 5001);
    CHECK(replicas.servers == std::vector<std::string>{"node3", "node2"});
    CHECK(replicas.balance == balance_mode::leastconn);
    CHECK(replicas.queue_timeout == 0ms);
    CHECK(replicas.tls == tls_mode::disable);

    const listener& first = c.listeners[2];
    CHECK(first.bind.host == "localhost");
    CHECK(first.balance == balance_mode::first);
    CHECK(first.queue_timeout == 5min);

    REQUIRE(c.stats);
    CHECK(c.stats->bind.host == "127.0.0.1");
    CHECK(c.stats->bind.port == 8404);
    CHECK(c.stats->refresh == 1h);
    REQUIRE(c.stats->auth);
    CHECK(c.stats->auth->user == "admin");
    CHECK(c.stats->auth->password == "x");

    CHECK(c.timeouts.connect == 3s);
    CHECK(c.timeouts.startup == 7s);
    CHECK(c.timeouts.client_idle == 45min);
    CHECK(c.timeouts.server_idle == 2h);
    CHECK(c.limits.max_message == 16u * 1024 * 1024);
    CHECK(c.workers == 4);
    CHECK(c.retries == 1);

    CHECK(c.find_member("node2") == &c.members[1]);
    CHECK(c.find_member("node9") == nullptr);
}

TEST_CASE("omitted fields take their defaults", "[config][parse]")
{
    const load_result r = parse_config(config_text());
    INFO(Catch::Detail::stringify(error_lines(r)));
    REQUIRE(r.value);
    const config& c = *r.value;

    CHECK(c.scope.empty());
    CHECK_FALSE(c.discover);
    CHECK(c.members[0].port == 5432);
    CHECK(c.members[0].api.empty());
    CHECK(c.members[0].weight == 100);
    CHECK_FALSE(c.health.sql_check);

    CHECK(c.health.interval == 1s);
    CHECK(c.health.fast_interval == 100ms);
    CHECK(c.health.timeout == 1s);
    CHECK(c.health.fall == 3);
    CHECK(c.health.rise == 2);

    REQUIRE(c.listeners.size() == 1);
    const listener& l = c.listeners[0];
    CHECK(l.balance == balance_mode::roundrobin);
    CHECK(l.tls == tls_mode::passthrough);
    CHECK(l.max_connections == 10000);
    CHECK(l.queue_timeout == 30s);
    CHECK_FALSE(l.max_lag);
    CHECK_FALSE(l.fallback_to_primary);
    CHECK(l.on_lag == lag_action::keep);

    CHECK_FALSE(c.stats);
    CHECK(c.timeouts.connect == 4s);
    CHECK(c.timeouts.startup == 10s);
    CHECK(c.timeouts.client_idle == 30min);
    CHECK(c.timeouts.server_idle == 30min);
    CHECK(c.limits.max_message == 1024u * 1024 * 1024);
    CHECK(c.workers == 0);
    CHECK(c.retries == 2);
}

TEST_CASE("stats without auth and empty sections keep defaults", "[config][parse]")
{
    const load_result r = parse_config(config_with(
        R"("stats": { "bind": "127.0.0.1:8404" }, "health": {}, "timeouts": {}, "limits": {})"));
    INFO(Catch::Detail::stringify(error_lines(r)));
    REQUIRE(r.value);
    REQUIRE(r.value->stats);
    CHECK(r.value->stats->bind.port == 8404);
    CHECK(r.value->stats->refresh == 10s);
    CHECK_FALSE(r.value->stats->auth);
    CHECK(r.value->health.interval == 1s);
}

TEST_CASE("boundary values are accepted", "[config][parse]")
{
    const std::string extra = GENERATE(as<std::string>{},
        R"("workers": 0)", R"("workers": 256)", R"("retries": 0)", R"("retries": 100)",
        R"("limits": { "max_message": "1kB" })", R"("limits": { "max_message": "1GB" })",
        R"("health": { "fall": 1, "rise": 100 })",
        R"("health": { "interval": "100ms", "fast_interval": "100ms" })");
    INFO(extra);
    const load_result r = parse_config(config_with(extra));
    INFO(Catch::Detail::stringify(error_lines(r)));
    CHECK(r.errors.empty());
    CHECK(r.value);
}

TEST_CASE("listener options at their limits are accepted", "[config][parse]")
{
    const std::string extra = GENERATE(as<std::string>{},
        R"("max_connections": 1)", R"("max_connections": 1000000)", R"("queue_timeout": "0")",
        R"("queue_timeout": "0s")", R"("balance": "first")", R"("tls": "disable")");
    INFO(extra);
    const load_result r = parse_config(config_text(listener_with(extra)));
    INFO(Catch::Detail::stringify(error_lines(r)));
    CHECK(r.errors.empty());
    CHECK(r.value);
}

TEST_CASE("weights, on_lag and sql_check reach their fields", "[config][parse]")
{
    const load_result r = parse_config(R"({
        "cluster": { "members": [ { "name": "node1", "host": "h", "weight": 0 }, { "name": "node2", "host": "h", "weight": 256 } ] },
        "health": { "sql_check": { "user": "monitor", "password": "secret" } },
        "listeners": [ { "name": "p", "bind": "h:1", "servers": ["node1", "node2"] } ] })");
    INFO(Catch::Detail::stringify(error_lines(r)));
    REQUIRE(r.value);
    CHECK(r.value->members[0].weight == 0);
    CHECK(r.value->members[1].weight == 256);
    REQUIRE(r.value->health.sql_check);
    CHECK(r.value->health.sql_check->user == "monitor");
    CHECK(r.value->health.sql_check->password == "secret");
    CHECK(r.value->health.sql_check->database == "postgres");
    CHECK(to_string(lag_action::shutdown) == "shutdown");
}
