# The chaos test's own ports, sourced by tests/e2e/lib.sh in place of tests/e2e/ports.sh
# (E2E_PORTS_FILE), so that it never shares a port with the e2e suite or a demo on the defaults.
# shellcheck shell=bash disable=SC2034  # variables used by the scripts that source this

# 26xxx: below the kernel's ephemeral range (32768-60999 by default), so no outgoing connection is
# ever given one of them as its local port and nothing needs reserving (E2E_PORTS stays empty).
export PATROXY_PRIMARY_PORT=26000 PATROXY_REPLICA_PORT=26001 PATROXY_STATS_PORT=26404
export PATROXY_PG1_PORT=26441 PATROXY_PG2_PORT=26442 PATROXY_PG3_PORT=26443
export PATROXY_API1_PORT=26451 PATROXY_API2_PORT=26452 PATROXY_API3_PORT=26453
export PATROXY_ETCD_PORT=26379 PATROXY_ETCD_PEER_PORT=26380
E2E_PORTS=""
# No HAProxy here; tests/e2e/lib.sh names its port in a table it builds when sourced.
HAPROXY_PRIMARY_PORT=""
HAPROXY_REPLICA_PORT=""
HAPROXY_STATS_PORT=""
