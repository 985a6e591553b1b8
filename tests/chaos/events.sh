#!/usr/bin/env bash
# chaos.events: a real Patroni cluster (deploy/local, synchronous_mode on) under load through patroxy
# while N events happen one after the other, alternating: a planned switchover to the synchronous
# standby, kill -9 of the leader's Patroni and PostgreSQL (the killed member is started again once a
# new leader took over), and the synchronous standby stopped and started. One writer through
# :primary (one INSERT per transaction) and two readers through :replicas run for the whole test.
# The invariants (tests/chaos/README.md says how each is checked), asserted at the end:
#   - every write a client saw committed is on the final leader (0 acknowledged writes lost);
#   - no write committed on a member that was not the leader of its timeline at that moment;
#   - 0 writes refused as read-only (25006), and no read session began on a member not in recovery;
#   - patroxy's RSS and open fds back in their band once the load stops; 0 live or queued sessions.
# PATROXY_CHAOS_EVENTS=N (default 6, what CI runs; 20 by hand: about 6 minutes). The report:
# <build>/chaos-logs/chaos.md; records and logs: <build>/chaos-logs/chaos.events/.
set -euo pipefail
E2E_NAME=chaos.events
CHAOS_DIR="$(cd "$(dirname "$0")" && pwd)"
export PATROXY_BUILD_DIR="${PATROXY_BUILD_DIR:-$(cd "$CHAOS_DIR/../.." && pwd)/build}"
export E2E_PORTS_FILE="$CHAOS_DIR/ports.sh"
export E2E_LOGS_DIR="$PATROXY_BUILD_DIR/chaos-logs"
export PATROXY_E2E_WORK="$PATROXY_BUILD_DIR/chaos-work"
# Checked before lib.sh replaces the records of the last run.
EVENTS="${PATROXY_CHAOS_EVENTS:-6}"
if ! [[ "$EVENTS" =~ ^[0-9]+$ ]] || [ "$EVENTS" -lt 1 ] || [ "$EVENTS" -gt 100 ]; then
  echo "$E2E_NAME: PATROXY_CHAOS_EVENTS must be 1..100, got '$EVENTS'" >&2
  exit 2
fi
# shellcheck source=tests/e2e/lib.sh
source "$CHAOS_DIR/../e2e/lib.sh"

KINDS=(switchover kill replica)
REPLICA_DOWN=4   # s the stopped standby stays down: Patroni (loop_wait 2 s) names another one meanwhile
STEADY=2         # s of undisturbed load after the cluster settled, before the next event
SETTLE_TIMEOUT=120
REPORT="$E2E_LOGS/chaos.md"
EVENTS_LOG="$LOGS/events.jsonl"
READERS=(reader1 reader2)
# The load's own bound: an event takes 10-30 s here.
LOAD_SECONDS=$((120 + 60 * EVENTS))
rm -f "$REPORT"

traffic() { /usr/bin/python3 "$CHAOS_DIR/traffic.py" "$@"; }

# chaos_job NAME SUBCOMMAND [ARG...]: like lib.sh's start_job, with traffic.py (stop_jobs stops it).
chaos_job() {
  local name="$1"
  shift
  rm -f "$LOGS/$name.stop"
  /usr/bin/python3 "$CHAOS_DIR/traffic.py" "$@" --out "$LOGS/$name.jsonl" --stop "$LOGS/$name.stop" 2>>"$LOGS/$name.err" &
  JOBS[$name]=$!
}

start_load() {
  local i
  chaos_job writer writer --port "$PATROXY_PRIMARY_PORT" --max-seconds "$LOAD_SECONDS"
  for i in "${!READERS[@]}"; do
    chaos_job "${READERS[$i]}" reader --port "$PATROXY_REPLICA_PORT" --id "$((i + 1))" --max-seconds "$LOAD_SECONDS"
  done
}
stop_load() { stop_jobs writer "${READERS[@]}"; }

# --- the cluster's state ----------------------------------------------------------------------------
# The member GET /cluster calls sync_standby (the DCS's /sync key), or status 1.
sync_standby() {
  local port
  for port in "${API_PORTS[@]}"; do
    api_get "$port" /cluster | json 'print(next(m["name"] for m in d["members"] if m["role"] == "sync_standby"))' \
      2>/dev/null && return 0
  done
  return 1
}

# Settled: one running leader that the DCS agrees on, both replicas streaming from it, one of them
# its synchronous standby. Prints the leader.
settled() {
  local leader
  leader="$(cluster_ready)" && [ "$(dcs_leader)" = "$leader" ] && sync_standby >/dev/null && printf '%s\n' "$leader"
}
wait_settled() { wait_for "the cluster to settle after $1" "$SETTLE_TIMEOUT" settled || fail "not settled after $1: $(member_states | tr '\n' ';')"; }

patroxy_sessions() { # live + queued sessions over all listeners, from /stats.json
  curl -s --max-time 2 "http://127.0.0.1:$PATROXY_STATS_PORT/stats.json" |
    json 'print(sum(l["sessions_cur"] + l["queue_cur"] for l in d["listeners"]))'
}
no_sessions() { [ "$(patroxy_sessions)" = 0 ]; }

# "PID RSS_KB FDS" of patroxy now.
patroxy_proc() {
  local pid
  pid="$(patroxy_pid)" || fail "patroxy is not running"
  printf '%s %s %s\n' "$pid" "$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")" "$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)"
}

# --- the events ---------------------------------------------------------------------------------------
# Each sets EVENT_AT (epoch of the event's first action) and TARGET.
ev_switchover() {
  TARGET="$(sync_standby)" || fail "no synchronous standby to switch over to"
  switchover "$1" "$TARGET"
}

ev_kill() {
  local old="$LEADER"
  TARGET="$old"
  kill_leader "$1"
  wait_for "a new leader after the kill of $old" 60 new_leader_other_than "$old" || fail "no new leader after killing $old"
  "$LOCAL/start-member" "$old" >>"$LOGS/$1.log" 2>&1 || fail "could not start $old again (log: $LOGS/$1.log)"
}
new_leader_other_than() { local l; l="$(dcs_leader)" && [ "$l" != "$1" ]; }

ev_replica() {
  TARGET="$(sync_standby)" || fail "no synchronous standby to stop"
  EVENT_AT="$(epoch)"
  "$LOCAL/stop-member" "$TARGET" >"$LOGS/$1.log" 2>&1 || fail "could not stop $TARGET (log: $LOGS/$1.log)"
  say "stopped the synchronous standby $TARGET; starting it again in ${REPLICA_DOWN}s"
  sleep "$REPLICA_DOWN"
  "$LOCAL/start-member" "$TARGET" >>"$LOGS/$1.log" 2>&1 || fail "could not start $TARGET (log: $LOGS/$1.log)"
}

run_event() { # N
  local n="$1" kind="${KINDS[$((($1 - 1) % ${#KINDS[@]}))]}" old="$LEADER"
  say "event $n/$EVENTS: $kind (leader $old, synchronous standby $(sync_standby || echo none))"
  "ev_$kind" "ev$n-$kind"
  wait_settled "event $n ($kind)"
  LEADER="$(settled)"
  printf '{"n": %s, "kind": "%s", "target": "%s", "old_leader": "%s", "new_leader": "%s", "start": %s, "end": %s}\n' \
    "$n" "$kind" "$TARGET" "$old" "$LEADER" "$EVENT_AT" "$(epoch)" >>"$EVENTS_LOG"
  say "event $n settled: leader $LEADER, synchronous standby $(sync_standby || echo none)"
}

# --- the run --------------------------------------------------------------------------------------------
cluster_up
FIRST_LEADER="$LEADER"
[ "$(api_get "${API_PORTS[$(member_index "$LEADER")]}" /history)" = "[]" ] ||
  fail "a new cluster should be on timeline 1 with an empty history"
patronictl edit-config --set synchronous_mode=true --force >"$LOGS/edit-config.log" 2>&1 ||
  fail "patronictl edit-config failed (log: $LOGS/edit-config.log)"
wait_settled "synchronous_mode: on"
say "synchronous_mode on: synchronous standby $(sync_standby)"
traffic create-table --port "$PATROXY_PRIMARY_PORT"
# The writer's 25006 count means something only if a write on a replica really ends that way.
replica="$(sync_standby)"
traffic write-once --port "$(pg_port_of "$replica")" --seq -1 --expect-sqlstate 25006 >"$LOGS/write-on-replica.json" ||
  fail "a write straight to the replica $replica did not fail with 25006 ($(cat "$LOGS/write-on-replica.json"))"
say "a write straight to the replica $replica fails with 25006, as the writer would see it"

# Warm-up, then the baseline: the first sessions allocate what patroxy keeps for its lifetime (worker
# buffers, stats rows); the band is about what churn and failovers add after that.
start_load
wait_ok writer 50
stop_load
wait_for "patroxy to count no session after the warm-up" 15 no_sessions || fail "sessions left after the warm-up"
rm -f "$LOGS"/writer.jsonl "$LOGS"/reader*.jsonl
psql_at "$PATROXY_PRIMARY_PORT" app app "TRUNCATE chaos_writes" >/dev/null
proc="$(patroxy_proc)"
read -r pid_before rss_before fds_before <<<"$proc"
say "patroxy before the load: VmRSS $rss_before kB, $fds_before open fds"

start_load
wait_ok writer 50
for n in $(seq 1 "$EVENTS"); do
  run_event "$n"
  sleep "$STEADY"
done
stop_load
wait_for "patroxy to count no session after the load" 15 no_sessions || true
curl -s --max-time 5 "http://127.0.0.1:$PATROXY_STATS_PORT/stats.json" >"$LOGS/stats-after.json"
proc="$(patroxy_proc)"
read -r pid_after rss_after fds_after <<<"$proc"
say "patroxy after the load: VmRSS $rss_after kB, $fds_after open fds"

# The band: RSS within +20% of the baseline (about 2.3 MiB here: glibc keeps some freed memory in
# its per-thread arenas, and the stats page keeps its recent events; 20 events moved it by 0.1 MiB);
# fds within +8 (health checks in flight: one per member and a /cluster; every client and server
# socket must be closed).
cat >"$LOGS/proc.json" <<EOF
{ "before": { "pid": $pid_before, "rss_kb": $rss_before, "fds": $fds_before },
  "after": { "pid": $pid_after, "rss_kb": $rss_after, "fds": $fds_after },
  "rss_limit_kb": $((rss_before * 120 / 100)), "fd_limit": $((fds_before + 8)) }
EOF

# Patroni writes the history of a new timeline a loop after the promotion: wait until it names the
# final leader's timeline.
final_port="$(pg_port_of "$LEADER")"
final_api="${API_PORTS[$(member_index "$LEADER")]}"
history_complete() {
  local tl
  tl="$(api_get "$final_api" /patroni | json 'print(d["timeline"])')" &&
    api_get "$final_api" /history | json 'sys.exit(0 if (max([l[0] for l in d], default=0) + 1 == int(sys.argv[1]) and all(len(l) >= 5 for l in d)) else 1)' "$tl"
}
wait_for "Patroni's history to reach the final timeline" 30 history_complete || fail "Patroni's history is incomplete"
api_get "$final_api" /history >"$LOGS/history.json"

reads=()
for r in "${READERS[@]}"; do reads+=("$LOGS/$r.jsonl"); done
/usr/bin/python3 -B "$CHAOS_DIR/verdict.py" --writes "$LOGS/writer.jsonl" --reads "${reads[@]}" --events "$EVENTS_LOG" \
  --history "$LOGS/history.json" --first-leader "$FIRST_LEADER" --final-port "$final_port" \
  --members "$MEMBERS_ARG" --proc "$LOGS/proc.json" --stats "$LOGS/stats-after.json" \
  --expect-events "$EVENTS" --label "$(date -u '+%Y-%m-%d %H:%M UTC'), PATROXY_CHAOS_EVENTS=$EVENTS" \
  --report "$REPORT" || fail "an invariant broke (above; records: $LOGS)"
say "report: $REPORT"
say "PASS"
