// Invalid configs: each mistake is reported at its JSON pointer with what was expected, all of
// them at once, and no config comes back.
#include "config_test_support.hpp"

using namespace patroxy::config;
using namespace patroxy::config::test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

TEST_CASE("unknown keys are errors at their own path", "[config][errors]")
{
    SECTION("top level, with the keys that exist")
    {
        const auto e = only_error(config_with(R"("listner": [])"));
        CHECK(e.path == "/listner");
        CHECK(e.message == "unknown key 'listner'; expected one of: cluster, health, tls, listeners, "
                           "stats, timeouts, limits, admin_socket, log, max_connections, workers, retries");
    }
    SECTION("in a listener")
    {
        const auto e = only_error(config_text(listener_with(R"("bnd": "x")")));
        CHECK(e.path == "/listeners/0/bnd");
        CHECK_THAT(e.message, StartsWith("unknown key 'bnd'; expected one of: name, bind, servers, role,"));
    }
    SECTION("in a member")
    {
        const auto e = only_error(R"({ "cluster": { "members": [ { "name": "node1", "host": "h", "prot": 1 } ] },
            "listeners": [ { "name": "p", "bind": "h:1", "servers": ["node1"] } ] })");
        CHECK(e.path == "/cluster/members/0/prot");
        CHECK(e.message == "unknown key 'prot'; expected one of: name, host, port, api, weight");
    }
    SECTION("deep inside stats.auth, with JSON pointer escaping")
    {
        const auto e = only_error(config_with(
            R"("stats": { "bind": "h:8404", "auth": { "user": "u", "password": "p", "a/b~c": 1 } })"));
        CHECK(e.path == "/stats/auth/a~1b~0c");
        CHECK_THAT(e.message, StartsWith("unknown key 'a/b~c'; expected one of: user, password"));
    }
    SECTION("in health, timeouts and limits")
    {
        const auto r = parse_config(config_with(
            R"("health": { "falls": 3 }, "timeouts": { "idle": "1s" }, "limits": { "max_msg": "1MB" })"));
        CHECK(r.errors.size() == 3);
        CHECK(has_error(r, "/health/falls", "expected one of: interval, fast_interval, timeout, fall, rise, sql_check"));
        CHECK(has_error(r, "/timeouts/idle", "expected one of: connect, startup, client_idle, server_idle"));
        CHECK(has_error(r, "/limits/max_msg", "expected one of: max_message"));
    }
}

TEST_CASE("keys repeated in one object are errors", "[config][errors]")
{
    SECTION("in a listener")
    {
        const auto e = only_error(config_text(
            R"({ "name": "primary", "bind": "127.0.0.1:5000", "bind": "127.0.0.1:5001", "servers": ["node1"] })"));
        CHECK(e.path == "/listeners/0/bind");
        CHECK_THAT(e.message, StartsWith("duplicate key 'bind'"));
    }
    SECTION("at the top level and inside a list, not across objects")
    {
        const load_result r = parse_config(R"({ "workers": 1,
            "cluster": { "members": [ { "name": "a", "host": "h" }, { "name": "b", "host": "h", "host": "i" } ] },
            "workers": 2,
            "listeners": [ { "name": "a", "bind": "h:1", "servers": ["a"] } ] })");
        INFO(Catch::Detail::stringify(error_lines(r)));
        CHECK(r.errors.size() == 2);
        CHECK(has_error(r, "/cluster/members/1/host", "duplicate key 'host'"));
        CHECK(has_error(r, "/workers", "duplicate key 'workers'"));
    }
}

TEST_CASE("wrong JSON types say what was expected", "[config][errors]")
{
    auto [extra, path, message] = GENERATE(table<std::string, std::string, std::string>({
        {R"("health": { "interval": 1 })", "/health/interval", R"(expected a string such as "1s", got 1)"},
        {R"("limits": { "max_message": 1024 })", "/limits/max_message",
         R"(expected a string such as "1MB", got 1024)"},
        {R"("workers": "2")", "/workers", R"(expected an integer from 0 to 256, got "2")"},
        {R"("workers": 2.0)", "/workers", "expected an integer from 0 to 256, got 2.0"},
        {R"("retries": true)", "/retries", "expected an integer from 0 to 100, got true"},
        {R"("health": [])", "/health", "expected an object, got a list"},
        {R"("stats": { "bind": 8404 })", "/stats/bind",
         R"(expected "host:port" such as "0.0.0.0:5000" or "[::1]:5000" (port 1..65535), got 8404)"},
        {R"("stats": { "bind": "h:1", "auth": { "user": "", "password": "p" } })", "/stats/auth/user",
         R"(expected a non-empty string, got "")"},
        {R"("timeouts": { "connect": null })", "/timeouts/connect", R"(expected a string such as "1s", got null)"},
    }));
    INFO(extra);
    const auto e = only_error(config_with(extra));
    CHECK(e.path == path);
    CHECK(e.message == message);
}

TEST_CASE("long wrong values are shortened in messages", "[config][errors]")
{
    const auto e = only_error(config_with(R"("workers": ")" + std::string(100, 'w') + R"(")"));
    CHECK(e.path == "/workers");
    CHECK(e.message == "expected an integer from 0 to 256, got \"" + std::string(36, 'w') + "...");
}

TEST_CASE("the root must be an object", "[config][errors]")
{
    const auto e = only_error("[1, 2]");
    CHECK(e.path.empty());
    CHECK(e.message == "expected an object, got a list");
    CHECK(to_string(e) == "expected an object, got a list"); // no ": " prefix for an empty path
}

TEST_CASE("durations and sizes are checked per field", "[config][errors]")
{
    auto [extra, path, fragment] = GENERATE(table<std::string, std::string, std::string>({
        {R"("health": { "interval": "1.5s" })", "/health/interval",
         R"(expected a duration such as "250ms", "1s", "5m" or "2h")"},
        {R"("health": { "interval": "0s" })", "/health/interval", "expected a duration greater than 0"},
        {R"("health": { "timeout": "0" })", "/health/timeout", "expected a duration greater than 0"},
        {R"("timeouts": { "connect": "0ms" })", "/timeouts/connect", "greater than 0"},
        {R"("timeouts": { "startup": "10" })", "/timeouts/startup", "a whole number and a unit"},
        {R"("timeouts": { "client_idle": "-1s" })", "/timeouts/client_idle", R"(got "-1s")"},
        {R"("limits": { "max_message": "1 MB" })", "/limits/max_message",
         "expected a size such as 16kB, 1MB (a whole number and a unit: B, kB, MB, GB; no space)"},
        {R"("limits": { "max_message": "2GB" })", "/limits/max_message",
         R"(expected a size from 1kB to 1GB, got "2GB")"},
        {R"("limits": { "max_message": "1023B" })", "/limits/max_message", "expected a size from 1kB to 1GB"},
        {R"("stats": { "bind": "h:1", "refresh": "0" })", "/stats/refresh", "greater than 0"},
    }));
    INFO(extra);
    const auto e = only_error(config_with(extra));
    CHECK(e.path == path);
    CHECK_THAT(e.message, Contains(fragment));
}

TEST_CASE("integer settings are range-checked", "[config][errors]")
{
    auto [extra, path, message] = GENERATE(table<std::string, std::string, std::string>({
        {R"("workers": 257)", "/workers", "expected an integer from 0 to 256, got 257"},
        {R"("workers": -1)", "/workers", "expected an integer from 0 to 256, got -1"},
        {R"("retries": 101)", "/retries", "expected an integer from 0 to 100, got 101"},
        {R"("retries": 18446744073709551615)", "/retries",
         "expected an integer from 0 to 100, got 18446744073709551615"},
        {R"("health": { "fall": 0 })", "/health/fall", "expected an integer from 1 to 100, got 0"},
        {R"("health": { "rise": 101 })", "/health/rise", "expected an integer from 1 to 100, got 101"},
    }));
    INFO(extra);
    const auto e = only_error(config_with(extra));
    CHECK(e.path == path);
    CHECK(e.message == message);
}

TEST_CASE("fast_interval may not exceed interval", "[config][errors]")
{
    const auto e = only_error(config_with(R"("health": { "interval": "1s", "fast_interval": "1001ms" })"));
    CHECK(e.path == "/health/fast_interval");
    CHECK(e.message == "must not be longer than interval");
}

TEST_CASE("members are checked", "[config][errors]")
{
    auto [members, path, fragment] = GENERATE(table<std::string, std::string, std::string>({
        {R"([])", "/cluster/members", "expected a non-empty list of members"},
        {R"({})", "/cluster/members", "expected a non-empty list of members, got an object"},
        {R"([ { "name": "node1", "host": "h" }, { "name": "node1", "host": "h2" } ])",
         "/cluster/members/1/name", "duplicate member name 'node1'; first used at /cluster/members/0/name"},
        {R"([ { "name": "node1", "host": "" } ])", "/cluster/members/0/host", "expected a non-empty string"},
        {R"([ { "name": "node1" } ])", "/cluster/members/0/host", "missing; this key is required"},
        {R"([ { "name": "node1", "host": "h", "port": 0 } ])", "/cluster/members/0/port",
         "expected an integer from 1 to 65535, got 0"},
        {R"([ { "name": "node1", "host": "h", "port": 65536 } ])", "/cluster/members/0/port",
         "expected an integer from 1 to 65535"},
        {R"([ { "name": "node1", "host": "h", "api": "h:8008" } ])", "/cluster/members/0/api",
         R"(expected a URL starting with http:// or https://, such as "http://10.0.1.10:8008", got "h:8008")"},
        {R"([ { "name": "node1", "host": "h", "api": "https://" } ])", "/cluster/members/0/api",
         "expected a URL starting with http:// or https://"},
        {R"([ { "name": "node1", "host": "h", "api": "http://" } ])", "/cluster/members/0/api",
         "expected a URL starting with http://"},
    }));
    INFO(members);
    // has_error, not only_error: a broken member list can also leave "node1" unresolved.
    const std::string text = R"({ "cluster": { "members": )" + members +
                             R"( }, "listeners": [ { "name": "p", "bind": "h:1", "servers": ["node1"] } ] })";
    const load_result r = parse_config(text);
    INFO(Catch::Detail::stringify(error_lines(r)));
    CHECK_FALSE(r.value);
    CHECK(has_error(r, path, fragment));
}

TEST_CASE("required sections and keys", "[config][errors]")
{
    SECTION("cluster and listeners")
    {
        const load_result r = parse_config("{}");
        CHECK(r.errors.size() == 2);
        CHECK(has_error(r, "/cluster", "missing; this key is required"));
        CHECK(has_error(r, "/listeners", "missing; this key is required"));
    }
    SECTION("at least one listener")
    {
        const auto e = only_error(R"({ "cluster": { "members": )" + default_members +
                                  R"( }, "listeners": [] })");
        CHECK(e.path == "/listeners");
        CHECK(e.message == "expected a non-empty list of listeners, got a list");
    }
    SECTION("listener name and bind")
    {
        const load_result r = parse_config(config_text(R"({ "servers": ["node1"] })"));
        CHECK(r.errors.size() == 2);
        CHECK(has_error(r, "/listeners/0/name", "missing"));
        CHECK(has_error(r, "/listeners/0/bind", "missing"));
    }
    SECTION("stats bind and auth fields")
    {
        const load_result r = parse_config(config_with(R"("stats": { "auth": {} })"));
        CHECK(r.errors.size() == 3);
        CHECK(has_error(r, "/stats/bind", "missing"));
        CHECK(has_error(r, "/stats/auth/user", "missing"));
        CHECK(has_error(r, "/stats/auth/password", "missing"));
    }
}

TEST_CASE("listener binds", "[config][errors]")
{
    SECTION("port out of range")
    {
        const auto e = only_error(config_text(R"({ "name": "p", "bind": "0.0.0.0:70000", "servers": ["node1"] })"));
        CHECK(e.path == "/listeners/0/bind");
        CHECK_THAT(e.message, Contains(R"(got "0.0.0.0:70000")"));
    }
    SECTION("IPv6 without brackets gets a hint")
    {
        const auto e = only_error(config_text(R"({ "name": "p", "bind": "::1:5000", "servers": ["node1"] })"));
        CHECK(e.path == "/listeners/0/bind");
        CHECK_THAT(e.message, Contains("write IPv6 addresses in brackets"));
    }
    SECTION("same address twice among listeners")
    {
        const auto e = only_error(config_text(
            default_listener + R"(, { "name": "other", "bind": "127.0.0.1:5000", "servers": ["node2"] })"));
        CHECK(e.path == "/listeners/1/bind");
        CHECK(e.message == "duplicate bind address '127.0.0.1:5000'; first used at /listeners/0/bind");
    }
    SECTION("stats on a listener's address")
    {
        const auto e = only_error(config_with(R"("stats": { "bind": "127.0.0.1:5000" })"));
        CHECK(e.path == "/stats/bind");
        CHECK(e.message == "duplicate bind address '127.0.0.1:5000'; first used at /listeners/0/bind");
    }
    SECTION("IPv6 spellings are compared as written")
    {
        const auto e = only_error(config_text(
            R"({ "name": "a", "bind": "[::1]:5000", "servers": ["node1"] },
               { "name": "b", "bind": "[::1]:5000", "servers": ["node1"] })"));
        CHECK(e.path == "/listeners/1/bind");
        CHECK_THAT(e.message, Contains("'[::1]:5000'"));
    }
}

TEST_CASE("listener routing and options", "[config][errors]")
{
    auto [listener, path, message] = GENERATE(table<std::string, std::string, std::string>({
        {R"({ "name": "p", "bind": "h:1" })", "/listeners/0",
         R"(missing "servers" (a list of member names) or "role"; set one of them)"},
        {R"({ "name": "p", "bind": "h:1", "servers": [] })", "/listeners/0/servers",
         "expected a non-empty list of member names, got a list"},
        {R"({ "name": "p", "bind": "h:1", "servers": "node1" })", "/listeners/0/servers",
         R"(expected a non-empty list of member names, got "node1")"},
        {R"({ "name": "p", "bind": "h:1", "servers": ["node1", "node3"] })", "/listeners/0/servers/1",
         "no member named 'node3' in /cluster/members"},
        {R"({ "name": "p", "bind": "h:1", "servers": ["node1", 2] })", "/listeners/0/servers/1",
         "expected a non-empty string, got 2"},
        {R"({ "name": "p", "bind": "h:1", "servers": ["node1", "node2", "node1"] })", "/listeners/0/servers/2",
         "duplicate server 'node1'; first used at /listeners/0/servers/0"},
        {listener_with(R"("balance": "random")"), "/listeners/0/balance",
         R"(expected one of: roundrobin, leastconn, first, source; got "random")"},
        {listener_with(R"("tls": "terminate")"), "/listeners/0/tls",
         R"(TLS needs a certificate and its key: set "cert" and "key" in the top-level "tls" object)"},
        {listener_with(R"("tls": "require")"), "/listeners/0/tls",
         R"(expected one of: passthrough, disable, terminate; got "require")"},
        {listener_with(R"("client_tls": "require")"), "/listeners/0/client_tls",
         R"(only applies to a listener with "tls": "terminate")"},
        {listener_with(R"("server_tls": "verify-full")"), "/listeners/0/server_tls",
         R"(verify-full needs the CA the servers' certificates chain to: set "server_ca" in the top-level "tls" object)"},
        {listener_with(R"("server_tls": "always")"), "/listeners/0/server_tls",
         R"(expected one of: disable, prefer, require, verify-ca, verify-full; got "always")"},
        {listener_with(R"("tls_options": { "cert": "/c.pem" })"), "/listeners/0/tls_options/key",
         R"(missing; "cert" and "key" go together)"},
        {listener_with(R"("tls_options": { "min_version": "TLSv1.1" })"), "/listeners/0/tls_options/min_version",
         R"(expected one of: TLSv1.2, TLSv1.3; got "TLSv1.1")"},
        {listener_with(R"("tls_options": { "crt": "/c.pem" })"), "/listeners/0/tls_options/crt",
         "unknown key 'crt'; expected one of: cert, key, client_ca, client_verify, server_ca, server_cert, server_key, "
         "server_name, min_version, ciphers, ciphersuites, session_tickets, ticket_lifetime, api_ca, api_cert, api_key"},
        {listener_with(R"("tls": "terminate", "tls_options": { "cert": "/c", "key": "/k", "client_verify": "required" })"),
         "/listeners/0/tls",
         R"(client_verify "required" needs the CA client certificates chain to: set "client_ca" in /tls or in this listener's tls_options)"},
        {listener_with(R"("max_connections": 0)"), "/listeners/0/max_connections",
         "expected an integer from 1 to 1000000, got 0"},
        {listener_with(R"("max_connections": 1000001)"), "/listeners/0/max_connections",
         "expected an integer from 1 to 1000000, got 1000001"},
        {listener_with(R"("queue_timeout": "soon")"), "/listeners/0/queue_timeout",
         R"(expected a duration such as "250ms", "1s", "5m" or "2h" (a whole number and a unit: ms, s, m, h), got "soon")"},
        {listener_with(R"("max_lag": "1MB")"), "/listeners/0/max_lag",
         R"(only applies to a listener with role "replica", "read-only", "sync" or "async")"},
        {listener_with(R"("fallback_to_primary": false)"), "/listeners/0/fallback_to_primary",
         R"(only applies to a listener with role "replica", "read-only", "sync" or "async")"},
        {listener_with(R"("on_lag": "shutdown")"), "/listeners/0/on_lag",
         R"(only applies to a listener with role "replica", "read-only", "sync" or "async")"},
    }));
    INFO(listener);
    const auto e = only_error(config_text(listener));
    CHECK(e.path == path);
    CHECK(e.message == message);
}

TEST_CASE("duplicate listener names", "[config][errors]")
{
    const auto e = only_error(config_text(
        default_listener + R"(, { "name": "primary", "bind": "127.0.0.1:5001", "servers": ["node2"] })"));
    CHECK(e.path == "/listeners/1/name");
    CHECK(e.message == "duplicate listener name 'primary'; first used at /listeners/0/name");
}

TEST_CASE("role listeners: every spelling, and the keys only read roles take", "[config][errors][roles]")
{
    SECTION("every role spelling is accepted, aliases map to primary")
    {
        const std::string role = GENERATE(as<std::string>{}, "primary", "leader", "master", "replica",
                                          "read-only", "sync", "async");
        INFO(role);
        const load_result r = parse_config(config_text(
            default_listener + R"(, { "name": "r", "bind": "127.0.0.1:5001", "role": ")" + role + R"(" })"));
        INFO(Catch::Detail::stringify(error_lines(r)));
        REQUIRE(r.value);
        REQUIRE(r.value->listeners[1].role);
        const bool alias = role == "leader" || role == "master";
        CHECK(to_string(*r.value->listeners[1].role) == (alias ? "primary" : role));
    }
    SECTION("read roles take max_lag, fallback_to_primary and on_lag")
    {
        const load_result r = parse_config(config_text(
            R"({ "name": "r", "bind": "h:1", "role": "replica", "max_lag": "1MB", "fallback_to_primary": true, "on_lag": "shutdown" })"));
        INFO(Catch::Detail::stringify(error_lines(r)));
        REQUIRE(r.value);
        CHECK(r.value->listeners[0].max_lag == 1024u * 1024u);
        CHECK(r.value->listeners[0].fallback_to_primary);
        CHECK(r.value->listeners[0].on_lag == lag_action::shutdown);
    }
    SECTION("sync and async take max_lag too: Patroni bounds /sync and /async with ?lag= as well")
    {
        const load_result r = parse_config(config_text(
            R"({ "name": "s", "bind": "h:1", "role": "sync", "max_lag": "16kB" }, { "name": "a", "bind": "h:2", "role": "async", "max_lag": "1MB" })"));
        REQUIRE(r.value);
        CHECK(r.value->listeners[0].max_lag == 16384u);
        CHECK(r.value->listeners[1].max_lag == 1024u * 1024u);
    }
    SECTION("other roles do not take max_lag")
    {
        const auto e = only_error(config_text(R"({ "name": "r", "bind": "h:1", "role": "primary", "max_lag": "1MB" })"));
        CHECK(e.path == "/listeners/0/max_lag");
        CHECK_THAT(e.message, StartsWith("only applies to a listener with role"));
    }
    SECTION("an unknown role gets the list of roles instead")
    {
        const auto e = only_error(config_text(R"({ "name": "r", "bind": "h:1", "role": "standby" })"));
        CHECK(e.path == "/listeners/0/role");
        CHECK(e.message == R"(expected one of: primary, leader, master, replica, read-only, sync, async, standby-leader, any; got "standby")");
    }
    SECTION("servers and role together")
    {
        const auto e = only_error(config_text(listener_with(R"("role": "primary")")));
        CHECK(e.path == "/listeners/0");
        CHECK(e.message == R"(set either "servers" or "role", not both)");
    }
}

TEST_CASE("member discovery is accepted", "[config][parse]")
{
    const load_result r = parse_config(R"({ "cluster": { "members": )" + default_members +
                                       R"(, "discover": true }, "listeners": [ )" + default_listener + " ] }");
    REQUIRE(r.value);
    CHECK(r.value->discover);
}

TEST_CASE("all errors are reported together", "[config][errors]")
{
    const std::string text = R"({
        "cluster": { "members": [ { "name": "node1", "host": "h", "port": 0 } ] },
        "health": { "fall": 0, "interval": "1" },
        "listeners": [
            { "name": "a", "bind": "h:5000", "servers": ["node1", "ghost"] },
            { "name": "b", "bind": "h:5000", "servers": ["node1"], "tls": "closed" } ],
        "stats": { "bind": "h:99999" },
        "workers": 1000,
        "listner": 1
    })";
    const load_result r = parse_config(text);
    INFO(Catch::Detail::stringify(error_lines(r)));
    CHECK_FALSE(r.value);
    CHECK(r.errors.size() == 9);
    CHECK(has_error(r, "/cluster/members/0/port", "from 1 to 65535"));
    CHECK(has_error(r, "/health/fall", "from 1 to 100"));
    CHECK(has_error(r, "/health/interval", "a whole number and a unit"));
    CHECK(has_error(r, "/listeners/0/servers/1", "no member named 'ghost'"));
    CHECK(has_error(r, "/listeners/1/bind", "duplicate bind address"));
    CHECK(has_error(r, "/listeners/1/tls", "expected one of"));
    CHECK(has_error(r, "/stats/bind", "port 1..65535"));
    CHECK(has_error(r, "/workers", "from 0 to 256"));
    CHECK(has_error(r, "/listner", "unknown key"));
}

TEST_CASE("to_string of an error is path and message", "[config][errors]")
{
    CHECK(to_string(config_error{"/listeners/1/bind", "expected x"}) == "/listeners/1/bind: expected x");
    CHECK(to_string(config_error{"", "line 1, column 2: y"}) == "line 1, column 2: y");
}

TEST_CASE("member weights, lag actions and the SQL check are validated", "[config][errors]")
{
    SECTION("weight above HAProxy's 256")
    {
        const auto e = only_error(R"({ "cluster": { "members": [ { "name": "node1", "host": "h", "weight": 257 } ] },
            "listeners": [ { "name": "p", "bind": "h:1", "servers": ["node1"] } ] })");
        CHECK(e.path == "/cluster/members/0/weight");
        CHECK(e.message == "expected an integer from 0 to 256, got 257");
    }
    SECTION("an unknown on_lag action")
    {
        const load_result r = parse_config(config_text(
            R"({ "name": "r", "bind": "h:1", "role": "replica", "on_lag": "kill" })"));
        CHECK(has_error(r, "/listeners/0/on_lag", R"(expected one of: keep, shutdown; got "kill")"));
    }
    SECTION("sql_check needs a user")
    {
        const auto e = only_error(config_with(R"("health": { "sql_check": { "password": "x" } })"));
        CHECK(e.path == "/health/sql_check/user");
        CHECK(e.message == "missing; this key is required");
    }
}

TEST_CASE("hostile config text: deep nesting and huge numbers get one clear error", "[config][errors][hostile]")
{
    // Found by fuzzing (issue 18): 40 kB of nested arrays took 474 MB (a path per level), and a
    // number beyond a double escaped as "internal error while reading the config".
    const auto deep = only_error(std::string(40000, '[') + std::string(40000, ']'));
    CHECK(deep.path.empty());
    CHECK(deep.message == "nested deeper than 64 levels of arrays and objects; a patroxy config needs 5");

    const auto huge = only_error(config_with(R"("workers": 1e400)"));
    CHECK(huge.path.empty());
    CHECK(huge.message == "number overflow parsing '1e400'; numbers in a config are small integers");
}
