// to_json_text(): the native JSON `patroxy --print-config` prints. The law: reading the text back
// gives the same config, for the shipped files, for a config that sets every key the reader
// knows, and for configs built in code as the haproxy.cfg reader builds them.
#include "config/json_writer.hpp"
#include "config_test_support.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <sstream>

using namespace patroxy::config;
using namespace patroxy::config::test;
using namespace std::chrono_literals;
using json = nlohmann::ordered_json;

namespace {

const std::string source_dir = std::string(PATROXY_TEST_DATA) + "/../../../..";

std::string read_file(const std::string& path)
{
    std::ifstream in(path);
    INFO(path);
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

/// Writes `c`, reads it back and requires the same config; the text also reads back to itself.
void check_round_trip(const config& c)
{
    const std::string text = to_json_text(c);
    INFO("written:\n" << text);
    const config back = parsed(text);
    CHECK(back == c);
    CHECK(to_json_text(back) == text);
}

/// A config that sets every key the reader knows to a value other than its default, with the
/// listener keys spread over listeners whose role admits them.
const std::string every_key = R"({
  "cluster": {
    "scope": "demo",
    "members": [
      { "name": "node1", "host": "10.0.1.10", "port": 6432, "api": "https://10.0.1.10:8008", "weight": 0 },
      { "name": "node2", "host": "db2.example.com", "api": "http://db2.example.com:8008", "weight": 256 },
      { "name": "node3", "host": "::1" }
    ],
    "discover": true,
    "api_auth": { "user": "patroni", "password": "p\"w\\d with spaces" },
    "resolve_interval": "90s"
  },
  "health": { "interval": "2s", "fast_interval": "250ms", "timeout": "1500ms", "fall": 5, "rise": 4,
              "sql_check": { "user": "monitor", "password": "secret", "database": "monitoring" } },
  "tls": { "cert": "/tls/server.crt", "key": "/tls/server.key", "client_ca": "/tls/clients-ca.crt",
           "client_verify": "optional", "server_ca": "/tls/pg-ca.crt", "server_cert": "/tls/px.crt",
           "server_key": "/tls/px.key", "server_name": "pg.internal", "min_version": "TLSv1.3",
           "ciphers": "HIGH:!aNULL", "ciphersuites": "TLS_AES_256_GCM_SHA384", "session_tickets": false,
           "ticket_lifetime": "2h", "api_ca": "/tls/api-ca.crt", "api_cert": "/tls/api.crt",
           "api_key": "/tls/api.key" },
  "listeners": [
    { "name": "primary", "bind": "0.0.0.0:5000", "role": "leader", "balance": "first", "tls": "terminate",
      "client_tls": "require", "server_tls": "verify-full",
      "tls_options": { "cert": "/tls/primary.crt", "key": "/tls/primary.key", "client_verify": "none",
                       "min_version": "TLSv1.2", "session_tickets": true, "api_ca": "/tls/dropped.crt" },
      "max_connections": 500, "queue_timeout": "0", "tags": { "dc": "east", "nosync": false, "rack": 3 },
      "standby_leader": true,
      "member_options": { "node1": { "weight": 10, "backup": true, "max_connections": 50, "disabled": true },
                          "node2": {}, "node9": { "backup": true } },
      "shutdown_backup_sessions": true },
    { "name": "replicas", "bind": "[::]:5001", "role": "replica", "balance": "source", "tls": "disable",
      "max_lag": "1536B", "fallback_to_primary": true, "on_lag": "shutdown", "queue_timeout": "45s" },
    { "name": "static", "bind": "localhost:5002", "servers": ["node3", "node1"], "balance": "leastconn",
      "server_tls": "require" },
    { "name": "ro", "bind": "127.0.0.1:5003", "role": "read-only", "tls": "terminate", "server_tls": "disable" }
  ],
  "stats": { "bind": "127.0.0.1:8404", "uri": "/haproxy", "refresh": "5m",
             "auth": { "user": "admin", "password": "s3cret" }, "realm": "HAProxy Statistics", "admin": false,
             "hide_version": true, "tls": true, "tls_options": { "client_verify": "required" } },
  "timeouts": { "connect": "3s", "startup": "7s", "client_idle": "45m", "server_idle": "25h" },
  "limits": { "max_message": "16MB" },
  "admin_socket": { "path": "/run/patroxy/admin.sock", "mode": "0660", "user": "postgres", "group": "haproxy",
                    "level": "operator", "timeout": "1m" },
  "log": { "level": "debug", "format": "json", "sessions": false, "no_primary_alarm": "2m" },
  "max_connections": 2000,
  "workers": 4,
  "retries": 0
})";

/// The keys the reader accepts in the object at `pointer` of `text`: it names them all when it
/// meets one it does not know.
std::set<std::string> reader_keys(const std::string& text, const std::string& pointer)
{
    json doc = json::parse(text);
    doc[json::json_pointer(pointer)]["zz_unknown"] = 1;
    const load_result r = parse_config(doc.dump());
    for (const config_error& e : r.errors) {
        const std::string marker = "expected one of: ";
        const auto at = e.message.find(marker);
        if (e.path != pointer + "/zz_unknown" || at == std::string::npos) continue;
        std::set<std::string> keys;
        std::istringstream list(e.message.substr(at + marker.size()));
        for (std::string key; std::getline(list, key, ',');) keys.insert(key.substr(key.find_first_not_of(' ')));
        return keys;
    }
    FAIL("no unknown-key error at " << pointer << ": " << Catch::Detail::stringify(error_lines(r)));
    return {};
}

} // namespace

TEST_CASE("the shipped configs read back the same", "[config][writer]")
{
    const std::string file = GENERATE(as<std::string>{}, "tests/unit/config/data/full.json",
                                      "config/examples/static.json", "config/examples/production.json",
                                      "config/examples/tls.json", "deploy/docker/patroxy.json");
    INFO(file);
    check_round_trip(parsed(read_file(source_dir + "/" + file)));
}

TEST_CASE("a config with every key set reads back the same", "[config][writer]")
{
    const config c = parsed(every_key);
    check_round_trip(c);
}

TEST_CASE("the writer prints every key the reader knows", "[config][writer]")
{
    // Each object of the format, with the places every_key has one; together they must show every
    // key the reader accepts there, so a key added to the reader fails here until it is written.
    const json written = json::parse(to_json_text(parsed(every_key)));
    // The tls_options objects are not in the list: one reader and one writer serve them and the
    // top-level tls object, so /tls covers their keys; what they print has its own test below.
    const std::vector<std::vector<std::string>> kinds{
        {""},
        {"/cluster"},
        {"/cluster/members/0", "/cluster/members/1"},
        {"/cluster/api_auth"},
        {"/health"},
        {"/health/sql_check"},
        {"/tls"},
        {"/listeners/0", "/listeners/1", "/listeners/2", "/listeners/3"},
        {"/listeners/0/member_options/node1"},
        {"/stats"},
        {"/stats/auth"},
        {"/timeouts"},
        {"/limits"},
        {"/admin_socket"},
    };
    // A password has one source per object, so every_key shows one of these keys; secrets_test
    // writes and reads back each of the others.
    const std::set<std::string> password_sources{"password", "password_file", "password_env", "password_hash"};
    for (const auto& pointers : kinds) {
        std::set<std::string> seen;
        for (const auto& pointer : pointers)
            for (const auto& item : written.at(json::json_pointer(pointer)).items()) seen.insert(item.key());
        if (seen.count("password")) seen.insert(password_sources.begin(), password_sources.end());
        for (const auto& key : reader_keys(every_key, pointers.front())) {
            INFO("object " << pointers.front() << ", key " << key);
            CHECK(seen.count(key) == 1);
        }
    }
}

TEST_CASE("configs built in code, as the haproxy.cfg reader builds them, read back the same", "[config][writer]")
{
    config c;
    c.members = {member{"pg1", "10.0.0.1", 5432, "http://10.0.0.1:8008", 100},
                 member{"pg2", "pg2", 5433, "http://pg2:8008", 0}, member{"pg3", "fe80::1", 6000, "", 256}};
    c.resolve_interval = 1500ms;
    c.health.interval = 3s;
    c.health.fast_interval = 1000ms;
    c.health.timeout = 61s;
    c.health.fall = 1;
    c.health.rise = 100;

    listener primary;
    primary.name = "write";
    primary.bind = {"0.0.0.0", 5000};
    primary.role = listener_role::primary;
    primary.queue_timeout = 0ms;
    primary.max_connections = 1;
    primary.member_settings["pg2"].backup = true;
    primary.member_settings["pg3"] = member_options{0, false, 0, true};
    primary.member_settings["pg1"] = member_options{};
    c.listeners.push_back(primary);

    listener any;
    any.name = "health";
    any.bind = {"::", 5001};
    any.role = listener_role::any;
    any.balance = balance_mode::source;
    c.listeners.push_back(any);

    listener standby;
    standby.name = "standby";
    standby.bind = {"127.0.0.1", 5002};
    standby.role = listener_role::standby_leader;
    standby.tags = {{"nofailover", "false"}, {"zone", "a b\"c"}};
    c.listeners.push_back(standby);

    listener tcp;
    tcp.name = "tcp";
    tcp.bind = {"localhost", 5003};
    tcp.servers = {"pg3", "pg1", "pg2"};
    c.listeners.push_back(tcp);

    stats_settings stats;
    stats.bind = {"0.0.0.0", 8404};
    stats.uri = "/stats";
    stats.refresh = 90min;
    stats.admin = true;
    stats.auth = stats_auth{"admin", "admin:with:colons"};
    c.stats = stats;

    c.timeouts.client_idle = 90min;
    c.timeouts.server_idle = 25h;
    c.limits.max_message = 1025 * 1024;
    c.admin_socket = admin_socket_settings{"/run/haproxy/admin.sock", 0u, "", "", admin_level::user, 1h};
    c.max_connections = 1;
    c.retries = 100;

    SECTION("as built") { check_round_trip(c); }
    SECTION("admin socket mode 0600 and 07777")
    {
        for (unsigned mode : {0600u, 07777u}) {
            c.admin_socket->mode = mode;
            check_round_trip(c);
        }
        CHECK_THAT(to_json_text(c), Catch::Contains(R"("mode": "7777")"));
    }
    SECTION("no scope, no stats, no admin socket")
    {
        c.stats.reset();
        c.admin_socket.reset();
        check_round_trip(c);
    }
}

TEST_CASE("a listener's tls_options print only what differs from the top-level tls", "[config][writer]")
{
    const config c = parsed(config_text(
        R"({ "name": "t", "bind": "127.0.0.1:5000", "servers": ["node1"], "tls": "terminate",
             "tls_options": { "cert": "/tls/t.crt", "key": "/tls/t.key", "ciphers": "HIGH" } },
           { "name": "same", "bind": "127.0.0.1:5001", "servers": ["node1"], "tls": "terminate",
             "tls_options": { "cert": "/tls/top.crt", "min_version": "TLSv1.2" } })",
        R"("tls": { "cert": "/tls/top.crt", "key": "/tls/top.key", "min_version": "TLSv1.2",
                    "api_ca": "/tls/api-ca.crt" })"));
    const json written = json::parse(to_json_text(c));
    CHECK(written["tls"] == json::parse(R"({ "cert": "/tls/top.crt", "key": "/tls/top.key", "api_ca": "/tls/api-ca.crt" })"));
    CHECK(written["listeners"][0]["tls_options"] ==
          json::parse(R"({ "cert": "/tls/t.crt", "key": "/tls/t.key", "ciphers": "HIGH" })"));
    CHECK_FALSE(written["listeners"][1].contains("tls_options")); // its overrides change nothing
    check_round_trip(c);
}

TEST_CASE("server_tls is printed when it differs from the default of its listener's tls mode", "[config][writer]")
{
    const config c = parsed(config_text(
        R"({ "name": "a", "bind": "127.0.0.1:5000", "servers": ["node1"], "tls": "terminate" },
           { "name": "b", "bind": "127.0.0.1:5001", "servers": ["node1"], "tls": "terminate", "server_tls": "disable" },
           { "name": "c", "bind": "127.0.0.1:5002", "servers": ["node1"], "server_tls": "prefer" })",
        R"("tls": { "cert": "/c.crt", "key": "/c.key" })"));
    const json written = json::parse(to_json_text(c));
    CHECK_FALSE(written["listeners"][0].contains("server_tls"));
    CHECK(written["listeners"][1]["server_tls"] == "disable");
    CHECK(written["listeners"][2]["server_tls"] == "prefer");
    check_round_trip(c);
}

TEST_CASE("the written text: defaults left out, canonical names, largest units, the examples' layout",
          "[config][writer]")
{
    const config c = parsed(R"({
      "cluster": { "members": [ { "name": "node1", "host": "127.0.0.1" },
                                { "name": "node2", "host": "127.0.0.2", "port": 5433, "api": "http://127.0.0.2:8008" } ] },
      "health": { "interval": "2000ms", "fall": 3 },
      "listeners": [
        { "name": "primary", "bind": "0.0.0.0:5000", "role": "master", "balance": "roundrobin",
          "queue_timeout": "1500ms" },
        { "name": "replicas", "bind": "0.0.0.0:5001", "role": "replica", "max_lag": "1048576B",
          "member_options": { "node1": { "backup": true } } },
        { "name": "static", "bind": "0.0.0.0:5002", "servers": ["node1", "node2"] }
      ],
      "stats": { "bind": "127.0.0.1:8404", "refresh": "10s", "auth": { "user": "admin", "password": "secret" } },
      "timeouts": { "connect": "4s" },
      "limits": { "max_message": "1GB" },
      "admin_socket": { "path": "/run/patroxy.sock", "mode": "0600" },
      "workers": 0
    })");
    CHECK(to_json_text(c) == R"({
  "cluster": {
    "members": [
      { "name": "node1", "host": "127.0.0.1", "port": 5432 },
      { "name": "node2", "host": "127.0.0.2", "port": 5433, "api": "http://127.0.0.2:8008" }
    ]
  },
  "health": { "interval": "2s" },
  "listeners": [
    { "name": "primary", "bind": "0.0.0.0:5000", "role": "primary", "queue_timeout": "1500ms" },
    {
      "name": "replicas",
      "bind": "0.0.0.0:5001",
      "role": "replica",
      "max_lag": "1MB",
      "member_options": { "node1": { "backup": true } }
    },
    { "name": "static", "bind": "0.0.0.0:5002", "servers": ["node1", "node2"] }
  ],
  "stats": { "bind": "127.0.0.1:8404", "auth": { "user": "admin", "password": "secret" } },
  "admin_socket": { "path": "/run/patroxy.sock", "mode": "600" }
}
)");
}

TEST_CASE("configs that differ in one field compare unequal", "[config][writer]")
{
    // operator== is what the round-trip checks rest on; a field it skipped would pass them all.
    const config base = parsed(every_key);
    auto differs = [&base](auto change) {
        config c = base;
        change(c);
        return !(c == base);
    };
    CHECK(differs([](config& c) { c.members[2].weight = 7; }));
    CHECK(differs([](config& c) { c.health.sql_check->database = "other"; }));
    CHECK(differs([](config& c) { c.api_auth->password = "other"; }));
    CHECK(differs([](config& c) { c.timeouts.startup = 1s; }));
    CHECK(differs([](config& c) { c.limits.max_message = 2048; }));
    CHECK(differs([](config& c) { c.resolve_interval.reset(); }));
    CHECK(differs([](config& c) { c.listeners[0].member_settings["node2"].disabled = true; }));
    CHECK(differs([](config& c) { c.admin_socket->mode.reset(); }));
}
