// The haproxy.cfg drop-in over a corpus in the shapes the public Patroni guides and compose demos
// use (data/haproxy/, written for these tests): each file's translation compared whole, field by
// field (dump() in haproxy_test_support.hpp), with every warning it gives.
#include "haproxy_test_support.hpp"

using namespace patroxy::config;
using namespace patroxy::config::test;

namespace {

/// The config line every corpus file without its own settings ends with.
const std::string defaults_line = "scope= discover=no resolve_interval=- api_auth=- workers=0 retries=2 ";

void check_corpus(const std::string& name, const std::string& expected, const std::vector<std::string>& warnings,
                  const haproxy::env_lookup& env = fixed_env())
{
    const auto r = read_corpus(name, env);
    INFO(name);
    CHECK(dump(translated(r)) == expected);
    CHECK(r.warnings == warnings);
}

} // namespace

TEST_CASE("corpus: one write port with a bare option httpchk (Patroni's own haproxy.cfg)", "[config][haproxy][corpus]")
{
    check_corpus("single_write_port.cfg",
                 defaults_line + "max_connections=100 max_message=1073741824\n"
                 "member postgresql_127.0.0.1_5432 127.0.0.1:5432 api=http://127.0.0.1:8008 weight=100\n"
                 "member postgresql_127.0.0.1_5433 127.0.0.1:5433 api=http://127.0.0.1:8009 weight=100\n"
                 "tls default\n"
                 "health interval=3000ms fast=100ms timeout=5000ms fall=3 rise=2 sql_check=-\n"
                 "timeouts connect=4000ms startup=10000ms client_idle=1800000ms server_idle=1800000ms\n"
                 "listener batman bind=0.0.0.0:5000 role=primary balance=roundrobin maxconn=10000 queue=30000ms "
                 "on_lag=keep tls=passthrough/prefer/disable tls_options=default\n"
                 "  postgresql_127.0.0.1_5432: weight=- backup=no maxconn=100 disabled=no\n"
                 "  postgresql_127.0.0.1_5433: weight=- backup=no maxconn=100 disabled=no\n"
                 "stats bind=0.0.0.0:7000 uri=/ refresh=10000ms auth=- realm=patroxy admin=- hide_version=no tls=no "
                 "tls_options=default\n",
                 {"single_write_port.cfg:7: 'log' has no effect: patroxy writes its own log lines (stderr, or journald under systemd)"});
}

TEST_CASE("corpus: :5000 and :5001 with GET /primary and GET /replica", "[config][haproxy][corpus]")
{
    const std::string service_manager =
        " has no effect: the process is placed, run and tuned by its service manager (systemd unit, container), not "
        "by this file";
    check_corpus("primary_replica_get.cfg",
                 defaults_line + "max_connections=2000 max_message=1073741824\n"
                 "member pg1 10.0.1.11:5432 api=http://10.0.1.11:8008 weight=100\n"
                 "member pg2 10.0.1.12:5432 api=http://10.0.1.12:8008 weight=100\n"
                 "member pg3 10.0.1.13:5432 api=http://10.0.1.13:8008 weight=100\n"
                 "tls default\n"
                 "health interval=3000ms fast=100ms timeout=5000ms fall=3 rise=2 sql_check=-\n"
                 "timeouts connect=4000ms startup=10000ms client_idle=1800000ms server_idle=1800000ms\n"
                 "listener postgres_write bind=0.0.0.0:5000 role=primary balance=roundrobin maxconn=10000 "
                 "queue=30000ms on_lag=keep tls=passthrough/prefer/disable tls_options=default\n"
                 "  pg1: weight=- backup=no maxconn=200 disabled=no\n"
                 "  pg2: weight=- backup=no maxconn=200 disabled=no\n"
                 "  pg3: weight=- backup=no maxconn=200 disabled=no\n"
                 "listener postgres_read bind=0.0.0.0:5001 role=replica balance=roundrobin maxconn=10000 "
                 "queue=30000ms on_lag=keep tls=passthrough/prefer/disable tls_options=default\n"
                 "  pg1: weight=- backup=no maxconn=200 disabled=no\n"
                 "  pg2: weight=- backup=no maxconn=200 disabled=no\n"
                 "  pg3: weight=- backup=no maxconn=200 disabled=no\n"
                 "stats bind=0.0.0.0:7000 uri=/ refresh=5000ms auth=- realm=patroxy admin=- hide_version=no tls=no "
                 "tls_options=default\n",
                 {"primary_replica_get.cfg:6: 'log' has no effect: patroxy writes its own log lines (stderr, or "
                  "journald under systemd)",
                  "primary_replica_get.cfg:7: 'user'" + service_manager,
                  "primary_replica_get.cfg:8: 'group'" + service_manager,
                  "primary_replica_get.cfg:9: 'daemon'" + service_manager,
                  "primary_replica_get.cfg:12: 'log' has no effect: patroxy writes its own log lines (stderr, or journald under systemd)",
                  "primary_replica_get.cfg:15: option dontlognull has no effect: patroxy writes its own log lines (stderr, or journald under systemd)"});
}

TEST_CASE("corpus: OPTIONS /master with fastinter, and a leastconn standby port", "[config][haproxy][corpus]")
{
    check_corpus("master_options.cfg",
                 defaults_line + "max_connections=100 max_message=1073741824\n"
                 "member pg0 172.29.0.2:5432 api=http://172.29.0.2:8008 weight=100\n"
                 "member pg1 172.29.0.3:5432 api=http://172.29.0.3:8008 weight=100\n"
                 "member pg2 172.29.0.4:5432 api=http://172.29.0.4:8008 weight=100\n"
                 "tls default\n"
                 "health interval=3000ms fast=1000ms timeout=5000ms fall=2 rise=4 sql_check=-\n"
                 "timeouts connect=4000ms startup=10000ms client_idle=1800000ms server_idle=1800000ms\n"
                 "listener primary bind=0.0.0.0:5000 role=primary balance=roundrobin maxconn=10000 queue=30000ms "
                 "on_lag=keep tls=passthrough/prefer/disable tls_options=default\n"
                 "  pg0: weight=- backup=no maxconn=100 disabled=no\n"
                 "  pg1: weight=- backup=no maxconn=100 disabled=no\n"
                 "  pg2: weight=- backup=no maxconn=100 disabled=no\n"
                 "listener standbys bind=0.0.0.0:5001 role=replica balance=leastconn maxconn=10000 queue=30000ms "
                 "on_lag=keep tls=passthrough/prefer/disable tls_options=default\n"
                 "  pg0: weight=- backup=no maxconn=100 disabled=no\n"
                 "  pg1: weight=- backup=no maxconn=100 disabled=no\n"
                 "  pg2: weight=- backup=no maxconn=100 disabled=no\n",
                 {"master_options.cfg:7: 'log' has no effect: patroxy writes its own log lines (stderr, or journald under systemd)"});
}

TEST_CASE("corpus: host names of a compose demo, HEAD /primary and /replica?lag=1MB without a method",
          "[config][haproxy][corpus]")
{
    const std::string init_addr = ": server option 'init-addr' has no effect: patroxy resolves host names while it "
                                  "runs and starts whatever the answer";
    const std::string settings = " weight=- backup=no maxconn=100 disabled=no\n";
    check_corpus("compose_hostnames.cfg",
                 "scope= discover=no resolve_interval=10000ms api_auth=- workers=0 retries=2 max_connections=100 "
                 "max_message=1073741824\n"
                 "member patroni1 patroni1:5432 api=http://patroni1:8008 weight=100\n"
                 "member patroni2 patroni2:5432 api=http://patroni2:8008 weight=100\n"
                 "member patroni3 patroni3:5432 api=http://patroni3:8008 weight=100\n"
                 "tls default\n"
                 "health interval=3000ms fast=100ms timeout=5000ms fall=3 rise=2 sql_check=-\n"
                 "timeouts connect=4000ms startup=10000ms client_idle=1800000ms server_idle=1800000ms\n"
                 "listener primary bind=0.0.0.0:5000 role=primary balance=roundrobin maxconn=10000 queue=30000ms "
                 "on_lag=keep tls=passthrough/prefer/disable tls_options=default\n"
                 "  patroni1:" + settings + "  patroni2:" + settings + "  patroni3:" + settings +
                 "listener replicas bind=0.0.0.0:5001 role=replica balance=roundrobin maxconn=10000 queue=30000ms "
                 "max_lag=1048576 on_lag=keep tls=passthrough/prefer/disable tls_options=default\n"
                 "  patroni1:" + settings + "  patroni2:" + settings + "  patroni3:" + settings,
                 {"compose_hostnames.cfg:8: 'log' has no effect: patroxy writes its own log lines (stderr, or journald under systemd)",
                  "compose_hostnames.cfg:17: nameserver has no effect: patroxy asks the system resolver "
                  "(/etc/resolv.conf, /etc/hosts) again every hold valid",
                  "compose_hostnames.cfg:24" + init_addr, "compose_hostnames.cfg:33" + init_addr});
}

TEST_CASE("corpus: frontend/backend pairs, named defaults, http-check send, an IPv6 bind, a sync port",
          "[config][haproxy][corpus]")
{
    check_corpus("frontend_backend.cfg",
                 defaults_line + "max_connections=500 max_message=1073741824\n"
                 "member node1 10.0.2.1:5432 api=http://10.0.2.1:8008 weight=100\n"
                 "member node2 10.0.2.2:5432 api=http://10.0.2.2:8008 weight=100\n"
                 "member node3 10.0.2.3:5432 api=http://10.0.2.3:8008 weight=100\n"
                 "tls default\n"
                 "health interval=2000ms fast=100ms timeout=2000ms fall=3 rise=2 sql_check=-\n"
                 "timeouts connect=3000ms startup=10000ms client_idle=3600000ms server_idle=3600000ms\n"
                 "listener fe_write bind=0.0.0.0:5000 role=primary balance=roundrobin maxconn=300 queue=5000ms "
                 "on_lag=keep tls=passthrough/prefer/disable tls_options=default\n"
                 "listener fe_read bind=0.0.0.0:5001 role=replica balance=first maxconn=10000 queue=30000ms "
                 "max_lag=16384 tag:datacenter=east on_lag=keep tls=passthrough/prefer/disable tls_options=default\n"
                 "listener fe_read-2 bind=[::]:5001 role=replica balance=first maxconn=10000 queue=30000ms "
                 "max_lag=16384 tag:datacenter=east on_lag=keep tls=passthrough/prefer/disable tls_options=default\n"
                 "listener fe_sync bind=127.0.0.1:5002 role=sync balance=roundrobin maxconn=10000 queue=30000ms "
                 "on_lag=keep tls=passthrough/prefer/disable tls_options=default\n"
                 "stats bind=127.0.0.1:8404 uri=/stats refresh=10000ms auth=- realm=patroxy admin=- hide_version=no "
                 "tls=no tls_options=default\n",
                 {"frontend_backend.cfg:42: the headers and body of the check request have no effect: patroxy polls "
                  "Patroni with its own requests"});
}

TEST_CASE("corpus: a stats listen with auth on another port, and the runtime API socket", "[config][haproxy][corpus]")
{
    const std::string service_manager =
        " has no effect: the process is placed, run and tuned by its service manager (systemd unit, container), not "
        "by this file";
    check_corpus("stats_auth.cfg",
                 defaults_line + "max_connections=1000 max_message=1073741824\n"
                 "member db1 10.0.3.11:5432 api=http://10.0.3.11:8008 weight=100\n"
                 "member db2 10.0.3.12:5432 api=http://10.0.3.12:8008 weight=100\n"
                 "tls default\n"
                 "health interval=2000ms fast=100ms timeout=1000ms fall=3 rise=2 sql_check=-\n"
                 "timeouts connect=4000ms startup=10000ms client_idle=1800000ms server_idle=1800000ms\n"
                 "listener primary bind=10.0.3.1:5000 role=primary balance=roundrobin maxconn=10000 queue=30000ms "
                 "on_lag=keep tls=passthrough/prefer/disable tls_options=default\n"
                 "stats bind=10.0.3.1:8404 uri=/haproxy refresh=30000ms auth=admin:s3cr3t realm=HAProxy Statistics "
                 "admin=yes hide_version=yes tls=no tls_options=default\n"
                 "admin_socket /run/haproxy/admin.sock mode=432 user= group= level=admin timeout=30000ms\n",
                 {"stats_auth.cfg:5: 'log' has no effect: patroxy writes its own log lines (stderr, or journald under "
                  "systemd)",
                  "stats_auth.cfg:6: 'chroot'" + service_manager, "stats_auth.cfg:7: 'pidfile'" + service_manager,
                  "stats_auth.cfg:8: stats socket expose-fd has no effect on patroxy's runtime API socket",
                  "stats_auth.cfg:10: 'nbthread'" + service_manager});
}

TEST_CASE("corpus: default-server in defaults and in a section, overridden per server", "[config][haproxy][corpus]")
{
    check_corpus("default_server_override.cfg",
                 defaults_line + "max_connections=0 max_message=1073741824\n"
                 "member a 10.0.4.1:5432 api=http://10.0.4.1:8008 weight=100\n"
                 "member b 10.0.4.2:5432 api=http://10.0.4.2:8008 weight=100\n"
                 "member c 10.0.4.3:5432 api=http://10.9.4.3:9008 weight=100\n"
                 "tls default\n"
                 "health interval=1000ms fast=100ms timeout=1000ms fall=2 rise=1 sql_check=-\n"
                 "timeouts connect=4000ms startup=10000ms client_idle=1800000ms server_idle=1800000ms\n"
                 "listener primary bind=127.0.0.1:5000 role=primary balance=roundrobin maxconn=10000 queue=30000ms "
                 "on_lag=keep tls=passthrough/prefer/disable tls_options=default\n"
                 "listener replicas bind=127.0.0.1:5001 role=replica balance=roundrobin maxconn=10000 queue=30000ms "
                 "shutdown_backup_sessions on_lag=keep tls=passthrough/prefer/disable tls_options=default\n"
                 "  a: weight=1 backup=yes maxconn=50 disabled=no\n"
                 "  b: weight=30 backup=no maxconn=80 disabled=no\n"
                 "  c: weight=10 backup=no maxconn=50 disabled=yes\n",
                 {"default_server_override.cfg:9: inter 3s is not used: patroxy polls each member once for all "
                  "listeners; kept 1s (default_server_override.cfg:15)",
                  "default_server_override.cfg:9: fall 3 is not used: patroxy polls each member once for all listeners; "
                  "kept 2 (default_server_override.cfg:21)",
                  "default_server_override.cfg:9: rise 2 is not used: patroxy polls each member once for all listeners; "
                  "kept 1 (default_server_override.cfg:21)",
                  "default_server_override.cfg:21: inter 2s is not used: patroxy polls each member once for all "
                  "listeners; kept 1s (default_server_override.cfg:15)"});
}

TEST_CASE("the classic haproxy.cfg of the local cluster (config/examples) translates as deploy/local's JSON",
          "[config][haproxy][corpus]")
{
    const std::string path = std::string(PATROXY_TEST_DATA) + "/../../../../config/examples/haproxy.cfg";
    const load_result r = load_config_file(path); // by content, as patroxy -f reads it
    const config& c = translated(r);
    CHECK(r.warnings.empty());
    const std::string settings = " weight=- backup=no maxconn=100 disabled=no\n";
    CHECK(dump(c) ==
          defaults_line + "max_connections=1000 max_message=1073741824\n"
          "member node1 127.0.0.1:5441 api=http://127.0.0.1:8441 weight=100\n"
          "member node2 127.0.0.1:5442 api=http://127.0.0.1:8442 weight=100\n"
          "member node3 127.0.0.1:5443 api=http://127.0.0.1:8443 weight=100\n"
          "tls default\n"
          "health interval=1000ms fast=100ms timeout=1000ms fall=3 rise=2 sql_check=-\n"
          "timeouts connect=4000ms startup=10000ms client_idle=1800000ms server_idle=1800000ms\n"
          "listener primary bind=127.0.0.1:5000 role=primary balance=roundrobin maxconn=10000 queue=30000ms "
          "on_lag=keep tls=passthrough/prefer/disable tls_options=default\n"
          "  node1:" + settings + "  node2:" + settings + "  node3:" + settings +
          "listener replicas bind=127.0.0.1:5001 role=replica balance=roundrobin maxconn=10000 queue=30000ms "
          "max_lag=1048576 on_lag=keep tls=passthrough/prefer/disable tls_options=default\n"
          "  node1:" + settings + "  node2:" + settings + "  node3:" + settings +
          "stats bind=127.0.0.1:8404 uri=/ refresh=5000ms auth=- realm=patroxy admin=- hide_version=no tls=no "
          "tls_options=default\n"
          "admin_socket /run/patroxy/admin.sock mode=384 user= group= level=admin timeout=10000ms\n");
}
