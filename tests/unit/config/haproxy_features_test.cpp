// The drop-in's rules one at a time: recognising the format, bind addresses, environment
// variables, static sections, members folded by address, the settings patroxy has once, and the
// warnings for what has no effect.
#include "haproxy_test_support.hpp"

using namespace patroxy::config;
using namespace patroxy::config::test;
using namespace std::chrono_literals;

namespace {

/// A listen section with one bind line and the member n1, checked with OPTIONS /primary.
std::string listen_with_bind(const std::string& bind)
{
    return "listen primary\n    bind " + bind + "\n    option httpchk\n    server n1 10.0.0.1:5432 check port 8008\n";
}

std::vector<std::string> binds_of(const std::string& bind, const haproxy::env_lookup& env = fixed_env())
{
    const auto r = read_cfg(listen_with_bind(bind), env);
    std::vector<std::string> out;
    for (const auto& l : translated(r).listeners) out.push_back(l.name + "=" + to_string(l.bind));
    return out;
}

/// The warning for a role section whose server n1 lacks on-marked-down shutdown-sessions.
std::string without_shutdown_sessions(unsigned section_line)
{
    return "haproxy.cfg:" + std::to_string(section_line) +
           ": server n1 without 'on-marked-down shutdown-sessions': HAProxy keeps their sessions when it marks them "
           "down; patroxy closes the sessions of a member that is marked down or leaves the role";
}

} // namespace

TEST_CASE("haproxy.cfg is recognised by content, JSON stays the default", "[config][haproxy]")
{
    CHECK(haproxy::looks_like_haproxy("global\n    maxconn 100\n"));
    CHECK(haproxy::looks_like_haproxy("# the classic setup\n\n   \t# indented comment\r\n  listen primary\n"));
    CHECK(haproxy::looks_like_haproxy("frontend fe\n"));
    CHECK(haproxy::looks_like_haproxy("userlist ops\n"));
    CHECK_FALSE(haproxy::looks_like_haproxy("{ \"cluster\": {} }"));
    CHECK_FALSE(haproxy::looks_like_haproxy("\n  {\n"));
    CHECK_FALSE(haproxy::looks_like_haproxy("globals\n")); // a word that is not a section keyword
    CHECK_FALSE(haproxy::looks_like_haproxy("# nothing but comments\n"));
    CHECK_FALSE(haproxy::looks_like_haproxy(""));
}

TEST_CASE("load_config_file reads a haproxy.cfg, with file:line under the path it was given", "[config][haproxy]")
{
    const std::string path = haproxy_data + "/primary_replica_get.cfg";
    const load_result r = load_config_file(path);
    REQUIRE(r.value);
    CHECK(r.value->listeners.size() == 2);
    REQUIRE(!r.warnings.empty());
    CHECK(r.warnings.front().starts_with(path + ":6: 'log' has no effect"));
}

TEST_CASE("bind addresses in every form, several binds make several listeners", "[config][haproxy][bind]")
{
    CHECK(binds_of("*:5000") == std::vector<std::string>{"primary=0.0.0.0:5000"});
    CHECK(binds_of(":5000") == std::vector<std::string>{"primary=0.0.0.0:5000"});
    CHECK(binds_of("0.0.0.0:5000") == std::vector<std::string>{"primary=0.0.0.0:5000"});
    CHECK(binds_of("127.0.0.1:5000") == std::vector<std::string>{"primary=127.0.0.1:5000"});
    CHECK(binds_of("[::]:5000") == std::vector<std::string>{"primary=[::]:5000"});
    CHECK(binds_of(":::5000") == std::vector<std::string>{"primary=[::]:5000"});
    CHECK(binds_of("[::1]:5000") == std::vector<std::string>{"primary=[::1]:5000"});
    CHECK(binds_of("ipv6@::1:5000") == std::vector<std::string>{"primary=[::1]:5000"});
    CHECK(binds_of("ipv6@:5000") == std::vector<std::string>{"primary=[::]:5000"});
    CHECK(binds_of("ipv4@127.0.0.1:5000") == std::vector<std::string>{"primary=127.0.0.1:5000"});
    CHECK(binds_of("localhost:5000") == std::vector<std::string>{"primary=localhost:5000"});
    CHECK(binds_of(":5000,127.0.0.1:5010") ==
          std::vector<std::string>{"primary=0.0.0.0:5000", "primary-2=127.0.0.1:5010"});
    CHECK(binds_of(":5000-5002") ==
          std::vector<std::string>{"primary=0.0.0.0:5000", "primary-2=0.0.0.0:5001", "primary-3=0.0.0.0:5002"});
    CHECK(binds_of(":5000\n    bind :5010") == std::vector<std::string>{"primary=0.0.0.0:5000", "primary-2=0.0.0.0:5010"});

    const auto r = read_cfg(listen_with_bind(":5000 name write v4v6 defer-accept"));
    CHECK(translated(r).listeners.size() == 1);
    CHECK(r.warnings == std::vector<std::string>{
                            without_shutdown_sessions(1),
                            "haproxy.cfg:2: bind option 'name' has no effect on patroxy's listening socket",
                            "haproxy.cfg:2: bind option 'v4v6' has no effect on patroxy's listening socket",
                            "haproxy.cfg:2: bind option 'defer-accept' has no effect on patroxy's listening socket"});
}

TEST_CASE("environment variables: quoted ${NAME} everywhere, bare $NAME in addresses", "[config][haproxy]")
{
    const auto env = fixed_env({{"PORT", "5100"}, {"HOST", "10.0.0.5"}, {"API", "8018"}});
    CHECK(binds_of(":${PORT}", env) == std::vector<std::string>{"primary=0.0.0.0:5100"});
    CHECK(binds_of("\"${HOST}:${PORT}\"", env) == std::vector<std::string>{"primary=10.0.0.5:5100"});
    CHECK(binds_of("\"*:${UNSET-5200}\"", env) == std::vector<std::string>{"primary=0.0.0.0:5200"});
    const auto r = read_cfg("listen primary\n    bind :5000\n    option httpchk\n"
                            "    server n1 $HOST:5432 check port \"${API}\"\n",
                            env);
    const auto& m = translated(r).members.at(0);
    CHECK(m.host == "10.0.0.5");
    CHECK(m.api == "http://10.0.0.5:8018");
}

TEST_CASE("a section without option httpchk is a static server list", "[config][haproxy]")
{
    const auto r = read_cfg("listen pgbouncer\n    bind :6432\n    option tcp-check\n    balance source\n"
                            "    server b1 10.0.5.1:6432 check inter 2s\n    server b2 10.0.5.2:6432 check backup\n"
                            "listen direct\n    bind :6433\n    server b1 10.0.5.1:6432\n");
    const auto& c = translated(r);
    REQUIRE(c.listeners.size() == 2);
    const auto& l = c.listeners[0];
    CHECK_FALSE(l.role);
    CHECK(l.servers == std::vector<std::string>{"b1", "b2"});
    CHECK(l.balance == balance_mode::source);
    CHECK(l.member_settings.at("b2").backup);
    CHECK(c.listeners[1].servers == std::vector<std::string>{"b1"});
    CHECK(c.members.size() == 2);
    CHECK(c.members[0].api.empty());
    CHECK(c.health.interval == health_settings{}.interval); // static servers' inter polls nothing
    CHECK(r.warnings == std::vector<std::string>{
                            "haproxy.cfg:5: 'check' (option tcp-check) has no effect on b1, b2: patroxy checks members "
                            "through Patroni only, so a static server takes sessions unless a role section's check "
                            "marks its member down"});
}

TEST_CASE("servers at one address in several sections are one member, polled once", "[config][haproxy][members]")
{
    const auto r = read_cfg("listen primary\n    bind :5000\n    option httpchk\n"
                            "    default-server on-marked-down shutdown-sessions\n"
                            "    server pg1 10.0.0.1:5432 check port 8008\n"
                            "    server pg2 PG2.example:5432 check port 8008\n"
                            "listen replicas\n    bind :5001\n    option httpchk OPTIONS /replica\n"
                            "    default-server on-marked-down shutdown-sessions\n"
                            "    server replica1 10.0.0.1:5432 check port 8008\n"
                            "    server pg2 pg2.example:5432 check port 8008\n"
                            "listen other\n    bind :5002\n    server pg1 10.0.0.9:5432\n");
    const auto& c = translated(r);
    REQUIRE(c.members.size() == 3);
    CHECK(c.members[0].name == "pg1");
    CHECK(c.members[1].name == "pg2");
    CHECK(c.members[1].host == "PG2.example"); // as first written; compared without case
    CHECK(c.members[2].name == "pg1-2");
    CHECK(c.members[2].host == "10.0.0.9");
    CHECK(c.listeners[2].servers == std::vector<std::string>{"pg1-2"});
    CHECK(r.warnings == std::vector<std::string>{
                            "haproxy.cfg:11: server replica1 is the member 'pg1' (same address 10.0.0.1:5432 as at "
                            "haproxy.cfg:5): patroxy polls it once and names it 'pg1' in its stats and runtime commands",
                            "haproxy.cfg:15: server name 'pg1' is the member at 10.0.0.1:5432 (haproxy.cfg:5); this "
                            "server at 10.0.0.9:5432 is the member 'pg1-2'"});
}

TEST_CASE("what patroxy has once: the most watchful check, the most patient timeout", "[config][haproxy]")
{
    const auto r = read_cfg("defaults\n    timeout client 30m\n    timeout server 30m\n    timeout check 2s\n"
                            "    retries 3\n"
                            "listen primary\n    bind :5000\n    option httpchk\n    timeout server 1h\n"
                            "    server n1 10.0.0.1:5432 check port 8008 inter 2s fastinter 500ms rise 3 fall 3 "
                            "on-marked-down shutdown-sessions\n"
                            "listen replicas\n    bind :5001\n    option httpchk OPTIONS /replica\n    retries 1\n"
                            "    timeout check 4s\n"
                            "    server n1 10.0.0.1:5432 check port 8008 inter 5s fastinter 1s rise 3 fall 3 "
                            "on-marked-down shutdown-sessions\n");
    const auto& c = translated(r);
    CHECK(c.health.interval == 2s);
    CHECK(c.health.fast_interval == 500ms);
    CHECK(c.health.timeout == 4s);
    CHECK(c.health.fall == 3);
    CHECK(c.timeouts.server_idle == 1h);
    CHECK(c.timeouts.client_idle == 30min);
    CHECK(c.retries == 3);
    CHECK(r.warnings == std::vector<std::string>{
                            "haproxy.cfg:3: timeout server 30m is not used: patroxy has one such timeout for all "
                            "listeners; kept 1h (haproxy.cfg:9)",
                            "haproxy.cfg:4: timeout check 2s is not used: patroxy polls each member once for all "
                            "listeners; kept 4s (haproxy.cfg:15)",
                            "haproxy.cfg:14: retries 1 is not used: patroxy has one retry count for all listeners; kept "
                            "3 (haproxy.cfg:5)",
                            "haproxy.cfg:16: inter 5s is not used: patroxy polls each member once for all listeners; "
                            "kept 2s (haproxy.cfg:10)",
                            "haproxy.cfg:16: fastinter 1s is not used: patroxy polls each member once for all "
                            "listeners; kept 500ms (haproxy.cfg:10)"});
}

TEST_CASE("HTTPS Patroni APIs: check-ssl with ca-file and crt", "[config][haproxy]")
{
    const auto r = read_cfg("listen primary\n    bind :5000\n    option httpchk\n"
                            "    default-server check-ssl ca-file /etc/ssl/patroni-ca.pem crt /etc/ssl/patroxy.pem "
                            "on-marked-down shutdown-sessions\n"
                            "    server n1 10.0.0.1:5432 check port 8008\n"
                            "    server n2 [fd00::2]:5432 check port 8008 verify none\n");
    const auto& c = translated(r);
    CHECK(c.members[0].api == "https://10.0.0.1:8008");
    CHECK(c.members[1].host == "fd00::2");
    CHECK(c.members[1].api == "https://[fd00::2]:8008");
    CHECK(c.tls.api_ca == "/etc/ssl/patroni-ca.pem");
    CHECK(c.tls.api_cert == "/etc/ssl/patroxy.pem");
    CHECK(c.tls.api_key == "/etc/ssl/patroxy.pem");
    CHECK(c.listeners[0].tls_options == tls_settings{}); // the API's files stay out of a listener's copy
    CHECK(r.warnings == std::vector<std::string>{"haproxy.cfg:6: verify none is not honoured: patroxy verifies the "
                                                 "Patroni API's certificate against ca-file, or the system's trust "
                                                 "store"});
}

TEST_CASE("what changes nothing is named once, with why", "[config][haproxy]")
{
    const auto r = read_cfg("global\n    tune.bufsize 32768\n    ssl-default-bind-ciphers HIGH\n"
                            "peers mypeers\n    peer a 10.0.0.1:1024\n"
                            "defaults\n    option redispatch\n    timeout client-fin 1s\n    option tcpka\n"
                            "    default-server slowstart 10s agent-check agent-port 5555\n"
                            "listen primary\n    bind :5000\n    balance static-rr\n    option httpchk\n"
                            "    stats enable\n"
                            "    server n1 10.0.0.1:5432 check port 8008\n    server n2 10.0.0.2:5432 check port 8008\n"
                            "backend unused\n    server n1 10.0.0.1:5432\n");
    translated(r);
    CHECK(r.warnings == std::vector<std::string>{
                            "haproxy.cfg:2: 'tune.bufsize' has no effect: patroxy sizes its own buffers and threads",
                            "haproxy.cfg:3: 'ssl-default-bind-ciphers' has no effect: TLS is set in patroxy's native tls "
                            "settings",
                            "haproxy.cfg:4: the peers section has no effect on patroxy",
                            "haproxy.cfg:8: timeout client-fin has no effect: patroxy closes both sides of a session "
                            "together, so no half-closed side waits",
                            "haproxy.cfg:9: option tcpka has no effect: patroxy sets its own socket options",
                            "haproxy.cfg:10: server option 'slowstart' has no effect: patroxy gives a member its full "
                            "share at once",
                            "haproxy.cfg:10: server option 'agent-check' has no effect: patroxy has no agent checks: "
                            "Patroni's REST API decides",
                            "haproxy.cfg:10: server option 'agent-port' has no effect: patroxy has no agent checks: "
                            "Patroni's REST API decides",
                            "haproxy.cfg:11: servers n1, n2 without 'on-marked-down shutdown-sessions': HAProxy keeps "
                            "their sessions when it marks them down; patroxy closes the sessions of a member that is "
                            "marked down or leaves the role",
                            "haproxy.cfg:13: balance static-rr is balanced as roundrobin (patroxy applies weight "
                            "changes at once)",
                            "haproxy.cfg:15: stats lines have no effect in a mode tcp section: the stats page is a mode "
                            "http section with 'stats enable'",
                            "haproxy.cfg:18: backend unused is used by no frontend: its servers take no traffic"});
}

TEST_CASE("a section may be disabled, and a stats uri with a query keeps its path", "[config][haproxy]")
{
    const auto r = read_cfg("listen stats\n    mode http\n    bind :8404\n    stats uri /admin?stats\n"
                            "listen old\n    disabled\n    bind :5009\n    option httpchk\n"
                            "    server n1 10.0.0.1:5432 check port 8008\n" +
                            listen_with_bind(":5000"));
    const auto& c = translated(r);
    REQUIRE(c.listeners.size() == 1);
    CHECK(c.listeners[0].name == "primary");
    REQUIRE(c.stats);
    CHECK(c.stats->uri == "/admin");
    CHECK(c.stats->bind == endpoint{"0.0.0.0", 8404});
    CHECK(r.warnings == std::vector<std::string>{
                            "haproxy.cfg:4: stats uri /admin?stats: patroxy serves the page at /admin and does not "
                            "match the query",
                            "haproxy.cfg:6: listen old is disabled: it opens no listener",
                            without_shutdown_sessions(10)});
}

TEST_CASE("frontends and backends: the first unconditional use_backend wins, a listen without bind is a backend",
          "[config][haproxy]")
{
    const auto r = read_cfg("frontend fe\n    bind :5000\n    use_backend be_a\n    use_backend be_b\n"
                            "    default_backend be_b\n"
                            "frontend idle\n    default_backend be_a\n"
                            "backend be_a\n    option httpchk\n    default-server on-marked-down shutdown-sessions\n"
                            "    server n1 10.0.0.1:5432 check port 8008\n"
                            "backend be_b\n    option httpchk OPTIONS /replica\n    no option httpchk\n"
                            "    server n1 10.0.0.1:5432\n"
                            "frontend fe2\n    bind :5001\n    default_backend pool\n"
                            "listen pool\n    option httpchk OPTIONS /replica\n    timeout queue 0\n"
                            "    timeout client 0\n    default-server on-marked-down shutdown-sessions\n"
                            "    server n1 10.0.0.1:5432 check port 8008\n");
    const auto& c = translated(r);
    REQUIRE(c.listeners.size() == 2);
    CHECK(c.listeners[0].name == "fe");
    CHECK(c.listeners[0].role == listener_role::primary);
    CHECK(c.listeners[1].name == "fe2");
    CHECK(c.listeners[1].role == listener_role::replica);
    CHECK(c.listeners[1].queue_timeout == 30s);
    CHECK(r.warnings == std::vector<std::string>{
                            "haproxy.cfg:4: use_backend be_b is never used: the unconditional use_backend at "
                            "haproxy.cfg:3 always wins",
                            "haproxy.cfg:6: frontend idle has no bind: it opens no listener",
                            "haproxy.cfg:12: backend be_b is used by no frontend: its servers take no traffic",
                            "haproxy.cfg:21: timeout queue 0 (wait without limit in HAProxy) is not used: patroxy keeps 30s"});
}

TEST_CASE("the runtime API socket: HAProxy's default level, what is not applied", "[config][haproxy]")
{
    const std::string listen = listen_with_bind(":5000");
    const auto plain = read_cfg("global\n    stats socket \"/run/${NAME}.sock\"\n" + listen, fixed_env({{"NAME", "px"}}));
    const auto& a = translated(plain).admin_socket;
    REQUIRE(a);
    CHECK(a->path == "/run/px.sock");
    CHECK(a->level == admin_level::operator_);
    CHECK_FALSE(a->mode);
    CHECK(a->timeout == admin_socket_settings{}.timeout);

    const auto r = read_cfg("global\n    stats socket ipv4@127.0.0.1:9999 level admin\n"
                            "    stats socket unix@admin.sock uid 0 level operator user haproxy group haproxy\n"
                            "    stats socket /run/second.sock\n    stats maxconn 10\n" + listen);
    const auto& b = translated(r).admin_socket;
    REQUIRE(b);
    CHECK(b->path == "admin.sock");
    CHECK(b->level == admin_level::operator_);
    CHECK(b->user == "haproxy");
    CHECK(b->group == "haproxy");
    CHECK(r.warnings == std::vector<std::string>{
                            "haproxy.cfg:2: stats socket ipv4@127.0.0.1:9999 is not opened: patroxy's runtime API "
                            "listens on a Unix socket path only",
                            "haproxy.cfg:3: stats socket uid is not applied: give the owner by name with user/group",
                            "haproxy.cfg:4: only one runtime API socket is opened: the one at haproxy.cfg:3",
                            "haproxy.cfg:5: 'stats maxconn' has no effect: the process is placed, run and tuned by its "
                            "service manager (systemd unit, container), not by this file",
                            without_shutdown_sessions(6)});
    CHECK(only_haproxy_error("global\n    stats socket /run/a.sock level root\n" + listen) ==
          "haproxy.cfg:2: stats socket level: expected admin, operator or user, got 'root'");
    CHECK(only_haproxy_error(listen + "    default-server resolvers dns\n    server n2 10.0.0.2:5432 check port 8008\n") ==
          "haproxy.cfg:5: no resolvers section named 'dns'");
}
