# The end-to-end suite's fixed ports, sourced by tests/e2e/lib.sh and tests/e2e/reserve-ports.
# shellcheck shell=bash disable=SC2034  # variables used by the scripts that source this

# Ports no demo uses (55xxx, 58xxx, 52xxx).
export PATROXY_PRIMARY_PORT=55000 PATROXY_REPLICA_PORT=55001 PATROXY_STATS_PORT=58404
export PATROXY_PG1_PORT=55441 PATROXY_PG2_PORT=55442 PATROXY_PG3_PORT=55443
export PATROXY_API1_PORT=58441 PATROXY_API2_PORT=58442 PATROXY_API3_PORT=58443
export PATROXY_ETCD_PORT=52379 PATROXY_ETCD_PEER_PORT=52380
# HAProxy (the comparison only): the classic config's two listeners and its stats page.
HAPROXY_PRIMARY_PORT=55100
HAPROXY_REPLICA_PORT=55101
HAPROXY_STATS_PORT=58405
# e2e.tls: the `replicas_passthrough` listener it adds to patroxy's config by a reload.
PASSTHROUGH_PORT=55002

# All these ports lie in the kernel's ephemeral range (32768-60999 by default): any outgoing connection,
# ours included (a walreceiver, Patroni's etcd watch, a probe) or another program's, can be given one
# as its local port, and a server that starts then cannot bind it for as long as that connection
# lives, TIME_WAIT included (seen here: etcd's peer port held for a minute by someone's connection;
# PostgreSQL's 55442 taken by a connection of an earlier test tier). Reserving them
# (net.ipv4.ip_local_reserved_ports, root only) keeps the kernel from handing them out; a
# reservation does not evict a connection that holds a port already, so tests/run reserves them
# before any test runs (tests/e2e/reserve-ports), and each e2e test again when it starts. The
# reservation stays after the test (a kernel setting, nothing on disk; gone at reboot; undo with
# `sysctl -w net.ipv4.ip_local_reserved_ports=`): removing it would reopen the gap between two tests.
# Without root, deploy/local's bounded retries cover short collisions only.
E2E_PORTS="$PATROXY_PRIMARY_PORT,$PATROXY_REPLICA_PORT,$PATROXY_STATS_PORT,$PATROXY_PG1_PORT,$PATROXY_PG2_PORT"
E2E_PORTS+=",$PATROXY_PG3_PORT,$PATROXY_API1_PORT,$PATROXY_API2_PORT,$PATROXY_API3_PORT,$PATROXY_ETCD_PORT"
E2E_PORTS+=",$PATROXY_ETCD_PEER_PORT,$HAPROXY_PRIMARY_PORT,$HAPROXY_REPLICA_PORT,$HAPROXY_STATS_PORT,$PASSTHROUGH_PORT"
