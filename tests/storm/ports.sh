# The storm's own ports (tests/storm/storm.sh), in the shape of tests/e2e/ports.sh, so that it runs
# beside the e2e suite and the demo. All below the kernel's ephemeral range (32768-60999): no
# outgoing connection can hold one of them, so they need no reservation.
# shellcheck shell=bash disable=SC2034  # variables used by the scripts that source this

export PATROXY_PRIMARY_PORT=27000 PATROXY_REPLICA_PORT=27001 PATROXY_STATS_PORT=27404
export PATROXY_PG1_PORT=27441 PATROXY_PG2_PORT=27442 PATROXY_PG3_PORT=27443
export PATROXY_API1_PORT=27451 PATROXY_API2_PORT=27452 PATROXY_API3_PORT=27453
export PATROXY_ETCD_PORT=27379 PATROXY_ETCD_PEER_PORT=27380
HAPROXY_PRIMARY_PORT=27100
HAPROXY_REPLICA_PORT=27101
HAPROXY_STATS_PORT=27405
PASSTHROUGH_PORT=27002
# Nothing to reserve (tests/e2e/lib.sh's reserve_ports then adds nothing).
E2E_PORTS=""
