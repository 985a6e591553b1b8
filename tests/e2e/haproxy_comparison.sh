#!/usr/bin/env bash
# e2e.haproxy_comparison: the crash failover and the planned switchover measured through patroxy AND
# through Debian's HAProxy 2.6 with the classic Patroni config (option httpchk OPTIONS /primary and
# /replica, http-check expect status 200, default-server inter 3s fall 3 rise 2 on-marked-down
# shutdown-sessions), both in front of the same cluster at the same time: one write probe through
# each (a NEW connection every 100 ms, INSERT, libpq connect_timeout 15 s), during the same event.
#   0. 10 cancels through each replica listener (SELECT pg_sleep(30), then a CancelRequest through the
#      same listener), while both replicas are up;
#   1. switchover (deploy/local/switchover), then
#   2. crash (deploy/local/kill-leader) once all three members stream again and HAProxy has settled.
# Prints a table (error window = first failed probe -> first success after it; failed probes, of which
# connection failures, statement failures and read-only errors; delay from the new leader being
# ready to the first write on it) and writes it to <build>/e2e-logs/comparison.md. Asserts on
# patroxy only (no read-only error, no stray write, first write within 1 s of the new leader being
# ready; zero connection failures in the switchover); HAProxy's figures are measured, not asserted.
# deploy/local/down at the end, pass or fail. Records in <build>/e2e-logs/e2e.haproxy_comparison/.
set -euo pipefail
E2E_NAME=e2e.haproxy_comparison
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

cluster_up
haproxy_up
wait_for "HAProxy to route :primary to $LEADER and :replicas to ${REPLICAS[*]}" 30 haproxy_settled "$LEADER" ||
  fail "HAProxy did not settle: $(haproxy_states | tr '\n' ';')"
say "HAProxy settled: $(haproxy_states | tr '\n' ';')"

rc=0
# --- 0. cancels through each replica listener, while both replicas are up ------------------------------
echo
say "10 cancels of SELECT pg_sleep(30) through patroxy's :replicas, then through HAProxy's"
check_cancels cancel-patroxy "$PATROXY_REPLICA_PORT" --count 10 || rc=1
measure_cancels cancel-haproxy "$HAPROXY_REPLICA_PORT" 10

# Both probes (patroxy's asserted, HAProxy's measured) and the watcher around each event.
THROUGH=(patroxy haproxy)

# --- 1. switchover -----------------------------------------------------------------------------------
change_leader switchover switchover switchover "${REPLICAS[0]}"
sleep 1
leader_change_figures switchover "planned switchover" "${SWITCHOVER_CHECKS[@]}" || rc=1

# --- 2. crash ----------------------------------------------------------------------------------------
wait_for "one leader and two streaming replicas again" 60 cluster_ready || fail "the cluster did not recover after the switchover"
wait_for "HAProxy to settle on the new leader $LEADER" 40 haproxy_settled "$LEADER" ||
  fail "HAProxy did not settle: $(haproxy_states | tr '\n' ';')"
say "all three members stream from $LEADER again, HAProxy settled; crash next"
change_leader crash kill_leader kill
sleep 1
leader_change_figures crash "crash failover (kill -9 of the leader)" "${CRASH_CHECKS[@]}" || rc=1

# --- the table ---------------------------------------------------------------------------------------
header="## patroxy vs HAProxy 2.6 (classic config), same cluster, same probe, same events

$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores; Patroni $(/usr/bin/patroni --version 2>/dev/null | awk '{print $2}'), ttl $PATRONI_TTL s, loop_wait $PATRONI_LOOP_WAIT s, retry_timeout $PATRONI_RETRY_TIMEOUT s;
patroxy health interval 1s / fast_interval 100ms / rise 2 / fall 3; HAProxy inter 3s fall 3 rise 2.
Probe: a new connection every 100 ms (libpq connect_timeout 15 s), INSERT, one at a time.
Error window: first failed probe -> first success after it. Delay: new leader's GET /patroni first
says running master -> first write on it ends. Longest without a write: the longest gap between
two successful writes, from the last one before the event."
e2e_py table "$LOGS/switchover-patroxy.json" "$LOGS/switchover-haproxy.json" \
  "$LOGS/crash-patroxy.json" "$LOGS/crash-haproxy.json" --header "$header" --out "$E2E_LOGS/comparison.md" \
  --cancel "patroxy=$LOGS/cancel-patroxy.json" --cancel "HAProxy 2.6=$LOGS/cancel-haproxy.json"
cp "$E2E_LOGS/comparison.md" "$LOGS/"
echo
say "table written to $E2E_LOGS/comparison.md"
[ "$rc" -eq 0 ] || fail "patroxy's figures break its promises (above; records: $LOGS)"
say "PASS"
