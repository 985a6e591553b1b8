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

MAX_DELAY=1.0

cluster_up
start_watch watch
start_probe writes write "$PATROXY_PRIMARY_PORT"
wait_ok writes 10 # a few writes on the old leader first
OLD="$LEADER"
switchover switchover "${REPLICAS[0]}"
e2e_py wait-over --probe "$LOGS/writes.jsonl" --watch "$LOGS/watch.jsonl" --event "$EVENT_AT" \
  --old-leader "$OLD" --timeout 60 || fail "the switchover did not complete (records: $LOGS)"
sleep 2 # the old leader comes back as a replica meanwhile: writes must not reach it
stop_jobs writes watch

echo
e2e_py outage --probe "$LOGS/writes.jsonl" --watch "$LOGS/watch.jsonl" --event "$EVENT_AT" --old-leader "$OLD" \
  --members "$MEMBERS_ARG" --label patroxy --what "planned switchover" --json "$LOGS/outage.json" \
  --check --max-delay "$MAX_DELAY" --max-connect-failures 0 --statements-only-in-flight ||
  fail "see above (records: $LOGS)"
echo
grep -E 'primary changed|DCS' "$PATROXY_LOG" | tail -n 6 | sed 's/^/patroxy log: /' || true
say "PASS"
