#!/usr/bin/env bash
# e2e.switchover: a planned switchover (deploy/local/switchover: POST /switchover on the leader's
# Patroni) under a probe that opens a NEW connection to :primary every 100 ms and INSERTs, with every
# member's GET /patroni polled every 100 ms. Asserts:
#   - zero probe connections fail: while no primary is confirmed patroxy holds new clients (up to the
#     listener's queue_timeout, 30 s) and routes them to the new leader; the probe's libpq
#     connect_timeout (15 s) is longer than the switchover;
#   - a statement may fail only where it was in flight on the old primary (the demotion ends it);
#   - no write reaches a member in recovery, none succeeds elsewhere once the new leader is ready;
#   - the first write on the new leader ends within 1.0 s after its GET /patroni first said role
#     master, state running.
# deploy/local/down at the end, pass or fail. Records in <build>/e2e-logs/e2e.switchover/.
set -euo pipefail
E2E_NAME=e2e.switchover
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

cluster_up
change_leader switchover switchover switchover "${REPLICAS[0]}"
sleep 2 # the old leader comes back as a replica meanwhile: writes must not reach it
leader_change_figures switchover "planned switchover" "${SWITCHOVER_CHECKS[@]}" || fail "see above (records: $LOGS)"
grep -E 'primary changed|DCS' "$PATROXY_LOG" | tail -n 6 | sed 's/^/patroxy log: /' || true
say "PASS"
