#!/usr/bin/env bash
# e2e.replicas: the replica listener (:replicas, roundrobin, max_lag 1MB) on a REAL Patroni cluster,
# under a read probe (a NEW connection to :replicas every 100 ms) and a write probe (the same to
# :primary) that both run throughout, with every member's GET /patroni polled every 100 ms.
#   1. reads alternate over both replicas, never the leader;
#   6. cancel: 20 times a session through :replicas runs SELECT pg_sleep(30) and psycopg2 sends a
#      CancelRequest through :replicas; all 20 must end with 57014 "canceling statement due to user
#      request" within 2 s (typically 15-100 ms; a cancel sent to the wrong server never takes effect),
#      with sessions on both replicas among them;
#   5. lag: replay paused on replica A (pg_wal_replay_pause(), in Patroni's maintenance mode, which
#      otherwise resumes it within a loop_wait) while ~5 MB are written on the leader:
#      once A's lag (leader's xlog.location - A's replayed_location, as Patroni reports them) is over
#      1 MB, new reads never reach A after one health interval (1 s) + 0.5 s, and keep working on B;
#      once it has caught up after pg_wal_replay_resume(), A is read from again within 5 s;
#   4. replica B stopped (deploy/local/stop-member) and started again: reads keep working on A
#      throughout (zero failures; a read whose session was already open on B when it stopped may be
#      cut, and is reported), none reaches B while it is away, and B is read from again within
#      rise x interval (2 x 1 s) + 1.5 s after its GET /patroni says running replica again;
#   and the write probe never failed.
# deploy/local/down at the end, pass or fail. Records in <build>/e2e-logs/e2e.replicas/.
set -euo pipefail
E2E_NAME=e2e.replicas
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

MAX_LAG=1048576                                              # deploy/local's max_lag 1MB
LAG_NOTICED=$(awk -v i="$HEALTH_INTERVAL" 'BEGIN { print i + 0.5 }') # s for patroxy to act on a lag
BACK_WITHIN=$(awk -v i="$HEALTH_INTERVAL" -v r="$HEALTH_RISE" 'BEGIN { print r * i + 1.5 }')

cluster_up
A="${REPLICAS[0]}"
B="${REPLICAS[1]}"
A_PORT="$(pg_port_of "$A")"
start_watch watch
start_probe reads read "$PATROXY_REPLICA_PORT"
start_probe writes write "$PATROXY_PRIMARY_PORT"
BEGIN_AT="$(epoch)"
rc=0
landed() { e2e_py landed --probe "$LOGS/reads.jsonl" --members "$MEMBERS_ARG" "$@" || rc=1; }
# until a read lands on NAME (bounded: about SECONDS); true if one did.
wait_read_on() { # NAME SINCE SECONDS
  local port
  port="$(pg_port_of "$1")"
  for _ in $(seq 1 $(($3 * 5))); do
    if e2e_py landed --probe "$LOGS/reads.jsonl" --members "$MEMBERS_ARG" --from "$2" --what - \
      --first-on "$1" --first-within 1e9 >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}
wait_ok reads 10
wait_ok writes 3

# --- 1. reads alternate over both replicas --------------------------------------------------------
landed --from "$BEGIN_AT" --to "$(epoch)" --what "1. reads with all members up" --check-no-failures \
  --also-on "$A" --also-on "$B" --never-on "$LEADER" --min-clients 8

# --- 6. cancel through :replicas --------------------------------------------------------------------
echo
say "6. 20 cancels of SELECT pg_sleep(30) through :replicas"
check_cancels cancel "$PATROXY_REPLICA_PORT" || rc=1

# --- 5. lag filter ------------------------------------------------------------------------------------
echo
# Patroni 3.0.2 resumes a paused replay on its next HA loop (PostgreSQL 14+), unless the cluster is in
# maintenance mode: the pause lasts from `patronictl pause` to `patronictl resume`.
say "5. maintenance mode (patronictl pause); replay paused on $A; ~5 MB written on the leader $LEADER"
patronictl pause --wait >"$LOGS/patronictl-pause.log" 2>&1 || fail "patronictl pause failed ($LOGS/patronictl-pause.log)"
PAUSE_AT="$(epoch)"
psql_at "$A_PORT" postgres postgres "SELECT pg_wal_replay_pause()" >/dev/null
psql_at "$LEADER_PORT" app app \
  "CREATE TABLE lagfill AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 5000) g" >/dev/null
LAG_AT="$(e2e_py lag --watch "$LOGS/watch.jsonl" --replica "$A" --leader "$LEADER" --since "$PAUSE_AT" \
  --above "$MAX_LAG" --timeout 20)" || fail "the lag of $A never exceeded 1 MB"
say "$A lags by $(cut -d' ' -f2 <<<"$LAG_AT") bytes (GET /patroni) at $(date -d "@${LAG_AT%% *}" +%H:%M:%S.%3N)"
LAG_AT="${LAG_AT%% *}"
sleep 4 # reads meanwhile must all go to B
RESUME_AT="$(epoch)"
psql_at "$A_PORT" postgres postgres "SELECT pg_wal_replay_resume()" >/dev/null
patronictl resume --wait >"$LOGS/patronictl-resume.log" 2>&1 || fail "patronictl resume failed ($LOGS/patronictl-resume.log)"
CAUGHT_UP="$(e2e_py lag --watch "$LOGS/watch.jsonl" --replica "$A" --leader "$LEADER" --since "$RESUME_AT" \
  --at-most "$MAX_LAG" --timeout 20)" || fail "$A did not catch up after pg_wal_replay_resume()"
say "$A resumed at $(date -d "@$RESUME_AT" +%H:%M:%S.%3N), lag back to $(cut -d' ' -f2 <<<"$CAUGHT_UP") bytes at $(date -d "@${CAUGHT_UP%% *}" +%H:%M:%S.%3N)"
CAUGHT_UP="${CAUGHT_UP%% *}"
wait_read_on "$A" "$RESUME_AT" 8 || true
landed --from "$(awk -v a="$LAG_AT" -v n="$LAG_NOTICED" 'BEGIN { printf "%.6f", a + n }')" --to "$RESUME_AT" \
  --what "5. reads while $A lags over 1 MB (from ${LAG_NOTICED} s after the lag was seen)" --check-no-failures \
  --never-on "$A" --also-on "$B" --min-clients 5
landed --from "$PAUSE_AT" --to "$RESUME_AT" --what "5. reads from the pause to the resume" --check-no-failures \
  --never-on "$LEADER" --last-on "$A" --ref "$LAG_AT"
landed --from "$RESUME_AT" --what "5. reads from the resume on" --check-no-failures --never-on "$LEADER" \
  --first-on "$A" --ref "$CAUGHT_UP" --first-within 5

# --- 4. a replica stopped and started again ----------------------------------------------------------
echo
say "4. stopping $B (deploy/local/stop-member)"
STOP_AT="$(epoch)"
"$LOCAL/stop-member" "$B" >"$LOGS/stop-member.log" 2>&1 || fail "deploy/local/stop-member $B failed"
STOPPED_AT="$(epoch)"
sleep 3
START_AT="$(epoch)"
"$LOCAL/start-member" "$B" >"$LOGS/start-member.log" 2>&1 || fail "deploy/local/start-member $B failed"
RUNNING_AT="$(e2e_py when --watch "$LOGS/watch.jsonl" --name "$B" --since "$START_AT" --role replica \
  --state running --timeout 60)" || fail "$B is not a running replica again within 60 s"
say "$B stopped in $(awk -v a="$STOPPED_AT" -v b="$STOP_AT" 'BEGIN { printf "%.1f", a - b }') s; started again, running replica at $(date -d "@$RUNNING_AT" +%H:%M:%S.%3N)"
wait_read_on "$B" "$RUNNING_AT" 10 || true
sleep 0.5
stop_jobs reads writes watch
landed --from "$STOP_AT" --what "4. reads from the stop of $B on" --check-no-failures \
  --allow-in-flight-on "$B" --in-flight-until "$STOPPED_AT" --never-on "$LEADER" \
  --first-on "$B" --ref "$RUNNING_AT" --first-within "$BACK_WITHIN"
landed --from "$STOPPED_AT" --to "$START_AT" --what "4. reads while $B is stopped" --check-no-failures \
  --never-on "$B" --also-on "$A" --min-clients 5

# --- the writes were never disturbed -------------------------------------------------------------
echo
e2e_py landed --probe "$LOGS/writes.jsonl" --members "$MEMBERS_ARG" --from "$BEGIN_AT" --expect-recovery false \
  --what "writes through :primary during all of the above" --check-no-failures --also-on "$LEADER" ||
  rc=1
[ "$rc" -eq 0 ] || fail "see above (records: $LOGS)"
say "PASS"
