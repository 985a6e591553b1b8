#!/usr/bin/env bash
# e2e.failover: patroxy in front of a REAL Patroni cluster (deploy/local/up: etcd + 3 Patroni members
# with PostgreSQL 15) survives a crash of the leader, and takes the old leader back as a replica.
#   1. routing: a write through :primary lands on the leader; 4 new connections through :replicas
#      reach servers in recovery, both replicas among them; the stats page (/stats.json) and /metrics
#      show the same members and roles as `patronictl list`;
#   2. kill -9 of the leader's Patroni and PostgreSQL (deploy/local/kill-leader) while a probe opens a
#      NEW connection to :primary every 100 ms and INSERTs, and every member's GET /patroni is polled
#      every 100 ms. Asserts: no write ever reaches a member in recovery (no "read-only transaction"),
#      none succeeds elsewhere once the new leader is ready, and the first write on the new leader
#      ends within 1.0 s after its GET /patroni first said role master, state running;
#   3. the old leader rejoins (deploy/local/start-member; pg_rewind if it diverged): once it streams
#      from the new leader, a read probe through :replicas (a new connection every 100 ms) reaches it
#      within 10 s, and no read fails meanwhile; the write probe goes on and never reaches it.
# deploy/local/down at the end, pass or fail. Records in <build>/e2e-logs/e2e.failover/.
set -euo pipefail
E2E_NAME=e2e.failover
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

REJOIN_TIMEOUT=120 # s for the old leader to stream again (pg_rewind, or a new base backup)
ROUTED_WITHIN=10   # s from "it streams" to the first read through :replicas on it

cluster_up
# The stats check first: it waits (up to 10 s) until patroxy's view agrees with patronictl, both
# replicas active on :replicas. patroxy follows Patroni one poll later, and a replica can be out of
# :replicas for patroxy's first interval (seen once: 4 reads, 0.6 s after patroxy started, all on
# one replica). The routing check then sees what patroxy routes once it knows the cluster.
check_stats
check_routing

# --- 2. crash ----------------------------------------------------------------------------------------
change_leader crash kill_leader kill # the write probe and the watcher go on during the rejoin
NEW="$(dcs_leader)" || fail "no DCS leader after the failover"
say "failover over: new leader $NEW; bringing the old leader $OLD back"

# --- 3. the old leader rejoins as a replica -------------------------------------------------------------
start_probe reads read "$PATROXY_REPLICA_PORT"
START_AT="$(epoch)"
"$LOCAL/start-member" "$OLD" >"$LOGS/start-member.log" 2>&1 || {
  cat "$LOGS/start-member.log" >&2
  fail "deploy/local/start-member $OLD failed"
}
STREAM_AT="$(e2e_py when --watch "$LOGS/crash-watch.jsonl" --since "$START_AT" --name "$NEW" --streaming "$OLD" \
  --timeout "$REJOIN_TIMEOUT")" || fail "$OLD does not stream from $NEW within ${REJOIN_TIMEOUT}s"
say "$OLD streams from $NEW $(awk -v a="$STREAM_AT" -v b="$START_AT" 'BEGIN { printf "%.1f", a - b }') s after start-member"
OLD_PORT="$(pg_port_of "$OLD")"
for _ in $(seq 1 $((ROUTED_WITHIN * 5 + 10))); do # until a read reached it (bounded: ~ROUTED_WITHIN+2 s)
  if grep -q "\"port\": $OLD_PORT," "$LOGS/reads.jsonl"; then break; fi
  sleep 0.2
done
sleep 1 # a few more reads and writes with all three members up
stop_jobs reads

# --- verdicts ------------------------------------------------------------------------------------------
rc=0
leader_change_figures crash "crash failover (kill -9 of the leader)" "${CRASH_CHECKS[@]}" || rc=1
e2e_py landed --probe "$LOGS/reads.jsonl" --members "$MEMBERS_ARG" --from "$START_AT" \
  --what "reads through :replicas while $OLD rejoins" --check-no-failures --never-on "$NEW" \
  --first-on "$OLD" --ref "$STREAM_AT" --first-within "$ROUTED_WITHIN" || rc=1
e2e_py landed --probe "$LOGS/crash-patroxy.jsonl" --members "$MEMBERS_ARG" --from "$START_AT" --expect-recovery false \
  --what "writes through :primary while $OLD rejoins" --never-on "$OLD" --check-no-failures || rc=1
echo
grep -E 'primary changed|DCS|leader' "$PATROXY_LOG" | tail -n 6 | sed 's/^/patroxy log: /' || true
[ "$rc" -eq 0 ] || fail "see above (records: $LOGS)"
say "PASS"
