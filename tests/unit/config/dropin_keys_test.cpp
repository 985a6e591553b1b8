// The native keys the haproxy.cfg drop-in translates into (issue 17): per-member options on a
// listener, tag filters, standby leaders, the admin socket, the global limit and the stats
// page's HAProxy settings. Each lands in its field, and each misuse names its path.
#include "config_test_support.hpp"

using namespace patroxy::config;
using namespace patroxy::config::test;
using namespace std::chrono_literals;

namespace {

const std::string replica_listener =
    R"({ "name": "replicas", "bind": "127.0.0.1:5001", "role": "replica", )";

} // namespace

TEST_CASE("member_options: backup, weight, maxconn and disabled per member of one listener", "[config][dropin]")
{
    const config c = parsed(config_text(replica_listener + R"("member_options": {
        "node1": { "backup": true, "weight": 10, "max_connections": 50, "disabled": true },
        "node2": { } }, "shutdown_backup_sessions": true })"));
    const listener& l = c.listeners[0];
    REQUIRE(l.member_settings.size() == 2);
    const member_options& n1 = l.member_settings.at("node1");
    CHECK(n1.backup);
    CHECK(n1.weight == 10u);
    CHECK(n1.max_connections == 50u);
    CHECK(n1.disabled);
    CHECK(l.member_settings.at("node2") == member_options{});
    CHECK(l.shutdown_backup_sessions);

    const auto e = only_error(config_text(replica_listener + R"("member_options": { "node9": {} } })"));
    CHECK(e.path == "/listeners/0/member_options/node9");
    CHECK(e.message == "no member named 'node9' in /cluster/members");

    const auto w = only_error(config_text(replica_listener + R"("member_options": { "node1": { "weight": 300 } } })"));
    CHECK(w.path == "/listeners/0/member_options/node1/weight");
}

TEST_CASE("member_options may name a member yet to be discovered", "[config][dropin]")
{
    const config c = parsed(R"({ "cluster": { "discover": true, "members": [ { "name": "node1", "host": "127.0.0.1" } ] },
        "listeners": [ { "name": "r", "bind": "127.0.0.1:5001", "role": "replica",
                         "member_options": { "node4": { "backup": true } } } ] })");
    CHECK(c.listeners[0].member_settings.at("node4").backup);
}

TEST_CASE("tags filter like Patroni's tag_key=value, spelled as published", "[config][dropin]")
{
    const config c = parsed(config_text(replica_listener + R"("tags": { "dc": "east", "fast": true, "rack": 3 } })"));
    CHECK(c.listeners[0].tags == std::map<std::string, std::string>{{"dc", "east"}, {"fast", "true"}, {"rack", "3"}});

    const auto e = only_error(config_text(listener_with(R"("tags": { "dc": "east" })")));
    CHECK(e.path == "/listeners/0/tags");
    const auto bad = only_error(config_text(replica_listener + R"("tags": { "dc": ["a"] } })"));
    CHECK(bad.path == "/listeners/0/tags/dc");
}

TEST_CASE("standby_leader only on a primary listener", "[config][dropin]")
{
    const config c = parsed(config_text(R"({ "name": "w", "bind": "127.0.0.1:5000", "role": "primary", "standby_leader": true })"));
    CHECK(c.listeners[0].standby_leader);
    const auto e = only_error(config_text(replica_listener + R"("standby_leader": true })"));
    CHECK(e.path == "/listeners/0/standby_leader");
    CHECK(e.message == "only applies to a listener with role \"primary\"");
    CHECK(parsed(config_text(R"({ "name": "s", "bind": "127.0.0.1:5000", "role": "standby-leader" })")).listeners[0].role ==
          listener_role::standby_leader);
    CHECK(parsed(config_text(R"({ "name": "h", "bind": "127.0.0.1:5000", "role": "any", "balance": "source" })")).listeners[0].balance ==
          balance_mode::source);
}

TEST_CASE("admin_socket: path, octal mode, owner, level, timeout", "[config][dropin]")
{
    const config c = parsed(config_with(R"("admin_socket": { "path": "/run/patroxy/admin.sock", "mode": "660",
        "user": "postgres", "group": "adm", "level": "operator", "timeout": "2m" }, "max_connections": 4000)"));
    REQUIRE(c.admin_socket);
    CHECK(c.admin_socket->path == "/run/patroxy/admin.sock");
    CHECK(c.admin_socket->mode == 0660u);
    CHECK(c.admin_socket->user == "postgres");
    CHECK(c.admin_socket->group == "adm");
    CHECK(c.admin_socket->level == admin_level::operator_);
    CHECK(c.admin_socket->timeout == 2min);
    CHECK(c.max_connections == 4000u);

    const config defaults = parsed(config_with(R"("admin_socket": { "path": "/tmp/a.sock" })"));
    CHECK_FALSE(defaults.admin_socket->mode);
    CHECK(defaults.admin_socket->level == admin_level::admin);
    CHECK(defaults.max_connections == 0u);

    const auto mode = only_error(config_with(R"("admin_socket": { "path": "/tmp/a.sock", "mode": "0968" })"));
    CHECK(mode.path == "/admin_socket/mode");
    CHECK(mode.message == "expected permission bits in octal as a string, such as \"660\", got \"0968\"");
    const auto level = only_error(config_with(R"("admin_socket": { "path": "/tmp/a.sock", "level": "root" })"));
    CHECK(level.path == "/admin_socket/level");
    const auto longpath = only_error(config_with(R"("admin_socket": { "path": "/)" + std::string(120, 'x') + R"(" })"));
    CHECK(longpath.message == "a Unix socket path is at most 107 bytes");
}

TEST_CASE("stats: uri, realm, admin and hide_version", "[config][dropin]")
{
    const config c = parsed(config_with(R"("stats": { "bind": "127.0.0.1:8404", "uri": "/haproxy", "realm": "HAProxy Statistics",
        "auth": { "user": "admin", "password": "pw" }, "admin": true, "hide_version": true })"));
    CHECK(c.stats->uri == "/haproxy");
    CHECK(c.stats->realm == "HAProxy Statistics");
    CHECK(c.stats->admin == true);
    CHECK(c.stats->hide_version);

    const config plain = parsed(config_with(R"("stats": { "bind": "127.0.0.1:8404" })"));
    CHECK(plain.stats->uri == "/");
    CHECK(plain.stats->realm == "patroxy");
    CHECK_FALSE(plain.stats->admin);

    const auto uri = only_error(config_with(R"("stats": { "bind": "127.0.0.1:8404", "uri": "stats?x" })"));
    CHECK(uri.path == "/stats/uri");
    const auto admin = only_error(config_with(R"("stats": { "bind": "127.0.0.1:8404", "admin": true })"));
    CHECK(admin.path == "/stats/admin");
}

TEST_CASE("cluster.resolve_interval", "[config][dropin]")
{
    const config c = parsed(R"({ "cluster": { "resolve_interval": "10s", "members": [ { "name": "n", "host": "pg1" } ] },
        "listeners": [ { "name": "p", "bind": "127.0.0.1:5000", "servers": ["n"] } ] })");
    CHECK(c.resolve_interval == 10s);
    CHECK_FALSE(parsed(config_text()).resolve_interval);
}
