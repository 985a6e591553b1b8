// What the haproxy.cfg drop-in refuses: everything that would change routing and that patroxy
// cannot honour, each with its exact file:line and message (the config is not used then).
#include "haproxy_test_support.hpp"

using namespace patroxy::config;
using namespace patroxy::config::test;

namespace {

/// A role section listing the one member n1, to put after a section under test.
const std::string n1_primary = "listen primary\n"
                               "    bind :5000\n"
                               "    option httpchk\n"
                               "    server n1 10.0.0.1:5432 check port 8008\n";

/// The n1 role section with another bind line.
std::string listen_primary_bind(const std::string& bind)
{
    return "listen primary\n    bind " + bind + "\n    option httpchk\n    server n1 10.0.0.1:5432 check port 8008\n";
}

} // namespace

TEST_CASE("routing by condition is refused", "[config][haproxy][errors]")
{
    CHECK(only_haproxy_error("frontend fe\n"
                             "    bind :5000\n"
                             "    use_backend be if { src 10.0.0.0/8 }\n"
                             "    default_backend be\n"
                             "backend be\n"
                             "    option httpchk\n"
                             "    server n1 10.0.0.1:5432 check port 8008\n") ==
          "haproxy.cfg:3: use_backend with a condition ('if …') is not supported: patroxy routes each listener to one "
          "backend; write one frontend per backend");
    CHECK(only_haproxy_error(n1_primary + "    tcp-request connection reject if { src 10.1.0.0/16 }\n") ==
          "haproxy.cfg:5: 'tcp-request' is not supported: its rules accept or reject clients by condition, which "
          "patroxy does not evaluate");
    CHECK(only_haproxy_error(n1_primary + "    use-server n1 if TRUE\n") ==
          "haproxy.cfg:5: 'use-server' is not supported: it pins sessions to a server by condition; patroxy routes by "
          "role only");
}

TEST_CASE("check expectations other than status 200 are refused", "[config][haproxy][errors]")
{
    CHECK(only_haproxy_error(n1_primary + "    http-check expect status 503\n") ==
          "haproxy.cfg:5: http-check expect status 503 is not supported: patroxy follows Patroni's 200 (selected) or "
          "503 (not selected), so only 'http-check expect status 200' keeps its meaning");
    CHECK(only_haproxy_error(n1_primary + "    http-check expect ! string \"running\"\n") ==
          "haproxy.cfg:5: http-check expect ! string running is not supported: patroxy follows Patroni's 200 "
          "(selected) or 503 (not selected), so only 'http-check expect status 200' keeps its meaning");
    CHECK(only_haproxy_error(n1_primary + "    http-check connect port 8008\n") ==
          "haproxy.cfg:5: http-check connect is not supported: give the Patroni REST API's port with 'port N' on the "
          "server or default-server line");
}

TEST_CASE("check URIs that select no role are refused at their line", "[config][haproxy][errors]")
{
    auto with_check = [](const std::string& check) {
        return "listen primary\n    bind :5000\n    " + check + "\n    server n1 10.0.0.1:5432 check port 8008\n";
    };
    CHECK(only_haproxy_error(with_check("option httpchk GET /replica?lag=-1")) ==
          "haproxy.cfg:3: lag=-1 is negative: Patroni would take every replica for lagging");
    CHECK(only_haproxy_error(with_check("option httpchk OPTIONS /read-only-sync")) ==
          "haproxy.cfg:3: /read-only-sync (the leader and the synchronous standbys) has no patroxy role; use /sync "
          "or /read-only");
    CHECK(only_haproxy_error(with_check("option httpchk POST /primary")) ==
          "haproxy.cfg:3: Patroni answers only OPTIONS, GET and HEAD on its health endpoints; POST /primary never passes");
    // A send line decides the request: the error points at it.
    const auto e = only_haproxy_error("listen primary\n    bind :5000\n    option httpchk\n"
                                      "    http-check send meth GET uri /patroni\n"
                                      "    server n1 10.0.0.1:5432 check port 8008\n");
    CHECK(e.starts_with("haproxy.cfg:4: GET /patroni is not a role check"));
}

TEST_CASE("mode http outside the stats section is refused where it is set", "[config][haproxy][errors]")
{
    CHECK(only_haproxy_error("listen primary\n    mode http\n    bind :5000\n    option httpchk\n"
                             "    server n1 10.0.0.1:5432 check port 8008\n") ==
          "haproxy.cfg:2: mode http outside the stats section: patroxy relays PostgreSQL (mode tcp); only a section "
          "with 'stats enable' may be mode http");
    // Inherited from defaults: said once, at the defaults line, however many sections inherit it.
    const auto r = read_cfg("defaults\n    mode http\n" + n1_primary +
                            "listen replicas\n    bind :5001\n    option httpchk OPTIONS /replica\n"
                            "    server n1 10.0.0.1:5432 check port 8008\n");
    CHECK(error_lines(r) == std::vector<std::string>{
                                "haproxy.cfg:2: mode http outside the stats section: patroxy relays PostgreSQL (mode "
                                "tcp); only a section with 'stats enable' may be mode http"});
}

TEST_CASE("a server of a role section needs its Patroni REST API port", "[config][haproxy][errors]")
{
    CHECK(only_haproxy_error("listen primary\n    bind :5000\n    option httpchk\n"
                             "    server n1 10.0.0.1:5432 check\n") ==
          "haproxy.cfg:4: server n1: 'check' without 'port' checks PostgreSQL's own port; patroxy needs the port of "
          "the member's Patroni REST API ('check port 8008')");
    CHECK(only_haproxy_error("listen primary\n    bind :5000\n    option httpchk\n"
                             "    server n1 10.0.0.1:5432 port 8008\n") ==
          "haproxy.cfg:4: server n1 has no 'check' in a section that routes by Patroni role: HAProxy would send it "
          "sessions whatever its role; add 'check port <its Patroni REST API port>'");
    CHECK(only_haproxy_error("listen primary\n    bind :5000\n    option httpchk\n") ==
          "haproxy.cfg:1: section primary has no server: its listeners would route nowhere");
}

TEST_CASE("a role section must list every member patroxy polls", "[config][haproxy][errors]")
{
    CHECK(only_haproxy_error("listen primary\n    bind :5000\n    option httpchk\n"
                             "    server n1 10.0.0.1:5432 check port 8008\n"
                             "    server n2 10.0.0.2:5432 check port 8008\n"
                             "listen replicas\n    bind :5001\n    option httpchk OPTIONS /replica\n"
                             "    server n1 10.0.0.1:5432 check port 8008\n") ==
          "haproxy.cfg:6: section replicas routes by Patroni role but does not list n2: patroxy routes such a listener "
          "among every member it polls, so it would take its sessions when the role fits; list every member in each "
          "section checked with option httpchk");
}

TEST_CASE("one member has one REST API", "[config][haproxy][errors]")
{
    CHECK(only_haproxy_error(n1_primary + "listen replicas\n    bind :5001\n    option httpchk OPTIONS /replica\n"
                                          "    server n1 10.0.0.1:5432 check port 8009\n") ==
          "haproxy.cfg:8: member 'n1' is checked at http://10.0.0.1:8009 here but at http://10.0.0.1:8008 at "
          "haproxy.cfg:4: one member has one Patroni REST API");
}

TEST_CASE("frontends must reach a backend", "[config][haproxy][errors]")
{
    CHECK(only_haproxy_error("frontend fe\n    bind :5000\n" + n1_primary) ==
          "haproxy.cfg:1: frontend fe has no default_backend: it would route nowhere");
    CHECK(only_haproxy_error("frontend fe\n    bind :5000\n    default_backend nowhere\n" + n1_primary) ==
          "haproxy.cfg:3: no backend named 'nowhere'");
}

TEST_CASE("balancing patroxy does not have is refused", "[config][haproxy][errors]")
{
    CHECK(only_haproxy_error(n1_primary + "    balance uri\n") ==
          "haproxy.cfg:5: balance uri is not supported: patroxy balances roundrobin, leastconn, first or source (by "
          "the client's address)");
    CHECK(only_haproxy_error(n1_primary + "    balance hdr(Host)\n").starts_with("haproxy.cfg:5: balance hdr(Host) is not"));
}

TEST_CASE("the stats page: conditions and admin without a user are refused", "[config][haproxy][errors]")
{
    const std::string stats = "listen stats\n    mode http\n    bind :8404\n    stats enable\n    stats uri /\n";
    CHECK(only_haproxy_error(stats + "    stats auth admin:pw\n    stats admin if LOCALHOST\n" + n1_primary) ==
          "haproxy.cfg:7: stats admin if LOCALHOST is not supported: patroxy honours no conditions; 'stats admin if "
          "TRUE' gives the admin forms to the stats user (stats auth)");
    // An empty last word is no word (HAProxy's rule), so an empty realm is a missing one.
    CHECK(only_haproxy_error(stats + "    stats realm \"\"\n" + n1_primary) == "haproxy.cfg:6: expected 'stats realm VALUE'");
    CHECK(only_haproxy_error(stats + "    stats admin if TRUE\n" + n1_primary) ==
          "haproxy.cfg:6: stats admin needs stats auth: patroxy gives the admin forms only to an authenticated user");
    CHECK(only_haproxy_error(stats + n1_primary + "listen stats2\n    mode http\n    bind :8405\n    stats enable\n") ==
          "haproxy.cfg:10: a second stats section: patroxy serves one stats page, the one bound at haproxy.cfg:3");
}

TEST_CASE("addresses patroxy cannot listen on or connect to are refused", "[config][haproxy][errors]")
{
    CHECK(only_haproxy_error("listen primary\n    bind /run/pg.sock\n    option httpchk\n"
                             "    server n1 10.0.0.1:5432 check port 8008\n") ==
          "haproxy.cfg:2: bind: '/run/pg.sock' is a Unix socket path; patroxy listens and connects over TCP");
    CHECK(only_haproxy_error("listen primary\n    bind :5000-5300\n    option httpchk\n"
                             "    server n1 10.0.0.1:5432 check port 8008\n") ==
          "haproxy.cfg:2: bind: ':5000-5300': expected a port 1-65535 or a range such as 5000-5002 (at most 100 ports)");
    CHECK(only_haproxy_error("listen primary\n    bind :5000\n    option httpchk\n"
                             "    server n1 10.0.0.1 check port 8008\n") ==
          "haproxy.cfg:4: server n1: '10.0.0.1' has no port: HAProxy would use the port the client connected to; "
          "give the server's PostgreSQL port");
    CHECK(only_haproxy_error("listen primary\n    bind :5000\n    option httpchk\n"
                             "    server n1 10.0.0.1:5432 check port 8008 send-proxy\n") ==
          "haproxy.cfg:4: server option 'send-proxy' is not supported: patroxy does not send the PROXY protocol to "
          "servers");
    CHECK(only_haproxy_error("listen primary\n    bind :5000\n    option httpchk\n"
                             "    server n1 10.0.0.1:5432 check port 8008 ssl verify none\n") ==
          "haproxy.cfg:4: server option 'ssl' is not supported: HAProxy would open TLS straight to PostgreSQL; "
          "patroxy's TLS towards the servers is a listener's server_tls in the native config");
    CHECK(only_haproxy_error(listen_primary_bind(":5000 v4v6 name")) == "haproxy.cfg:2: bind option 'name' needs a value");
    CHECK(only_haproxy_error(listen_primary_bind(":5000 accept-proxy")) ==
          "haproxy.cfg:2: bind option 'accept-proxy' is not supported: TLS towards clients is patroxy's `tls: "
          "terminate` in the native config (PostgreSQL clients negotiate TLS inside the protocol), and patroxy reads no "
          "PROXY headers");
    CHECK(only_haproxy_error(n1_primary + "listen other\n    bind 0.0.0.0:5000\n    option httpchk\n"
                                          "    server n1 10.0.0.1:5432 check port 8008\n") ==
          "haproxy.cfg:6: bind address 0.0.0.0:5000 is already used by listener primary (haproxy.cfg:2)");
}

TEST_CASE("listener names: a section's extra binds must not take another section's name", "[config][haproxy][errors]")
{
    CHECK(only_haproxy_error("listen primary\n    bind :5000\n    bind :5010\n    option httpchk\n"
                             "    server n1 10.0.0.1:5432 check port 8008\n"
                             "listen primary-2\n    bind :5020\n    option httpchk\n"
                             "    server n1 10.0.0.1:5432 check port 8008\n") ==
          "haproxy.cfg:7: listener name 'primary-2' is taken by the listener bound at haproxy.cfg:3 (a section's "
          "listeners are named after it, then <section>-2, -3, … for further bind addresses)");
    CHECK(only_haproxy_error(n1_primary + n1_primary) == "haproxy.cfg:5: a listen section named 'primary' is already at haproxy.cfg:1");
}

TEST_CASE("lines that cannot be read are errors at their line", "[config][haproxy][errors]")
{
    CHECK(only_haproxy_error("listen primary\n    stats realm \"HAProxy Statistics\n    bind :5000\n"
                             "    option httpchk\n    server n1 10.0.0.1:5432 check port 8008\n") ==
          "haproxy.cfg:2: unmatched quote at position 17");
    CHECK(only_haproxy_error("bind :5000\n" + n1_primary) ==
          "haproxy.cfg:1: 'bind' outside any section: a haproxy.cfg starts with a section keyword (global, defaults, "
          "listen, frontend, backend, resolvers, …)");
    CHECK(only_haproxy_error(n1_primary + "    nosuchkeyword 1\n") ==
          "haproxy.cfg:5: unknown keyword 'nosuchkeyword' in a listen section");
    CHECK(only_haproxy_error(n1_primary + "    option nosuchoption\n") == "haproxy.cfg:5: unknown option 'nosuchoption'");
    CHECK(only_haproxy_error(n1_primary + "    timeout connect 5 s\n") == "haproxy.cfg:5: expected 'timeout NAME TIME'");
    CHECK(only_haproxy_error(n1_primary + "    timeout connect 5x\n") ==
          "haproxy.cfg:5: timeout connect: unexpected 'x' after the time '5x'; units are us, ms, s, m, h, d");
    CHECK(only_haproxy_error(n1_primary + "    default-server inter 0\n") == "haproxy.cfg:5: inter must be longer than 0");
    CHECK(only_haproxy_error(n1_primary + "    default-server weight 257\n") ==
          "haproxy.cfg:5: weight: expected a whole number from 0 to 256, got '257'");
    CHECK(only_haproxy_error(".if defined(X)\n" + n1_primary + ".endif\n").starts_with("haproxy.cfg:1: conditional blocks"));
    CHECK(only_haproxy_error("listen primary from nodefaults\n    bind :5000\n    option httpchk\n"
                             "    server n1 10.0.0.1:5432 check port 8008\n") ==
          "haproxy.cfg:1: no defaults section named 'nodefaults' before this section");
    CHECK(only_haproxy_error("listen primary *:5000\n    option httpchk\n") ==
          "haproxy.cfg:1: expected 'listen NAME [from DEFAULTS]'; listening addresses go on 'bind' lines");
}

TEST_CASE("a file with no listener is refused as a whole", "[config][haproxy][errors]")
{
    CHECK(only_haproxy_error("global\n    maxconn 100\nlisten stats\n    mode http\n    bind :8404\n    stats enable\n"
                             "    stats uri /\n") ==
          "haproxy.cfg: no listener: patroxy needs a listen (or frontend and backend) section with a bind and "
          "servers, besides the stats page");
}

// Found by tests/fuzz's haproxy_cfg target: the drop-in took "10.0.3.[" as a host, which the native
// reader refuses, so `patroxy --print-config` wrote a config that does not read.
TEST_CASE("a bracket outside [IPv6]:port is refused at its line", "[config][haproxy][errors]")
{
    CHECK(only_haproxy_error("listen primary\n"
                             "    bind 10.0.3.[:5000\n"
                             "    option httpchk OPTIONS /primary\n"
                             "    server n1 10.0.0.1:5432 check port 8008\n")
              .find("haproxy.cfg:2: bind: '10.0.3.[:5000': a host cannot hold '[' or ']'") == 0);
    CHECK(only_haproxy_error("listen primary\n"
                             "    bind :5000\n"
                             "    option httpchk OPTIONS /primary\n"
                             "    server n1 10.0.0.]:5432 check port 8008\n")
              .find("haproxy.cfg:4: server n1: '10.0.0.]:5432': a host cannot hold '[' or ']'") == 0);
}
