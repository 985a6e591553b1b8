#!/usr/bin/env bash
# End-to-end: patroxy in front of a REAL Patroni cluster (deploy/local/up: etcd + 3 Patroni members
# with PostgreSQL 15) survives a crash of the leader.
#   1. a write through :primary lands on the leader; 4 new connections through :replicas reach
#      servers in recovery, both replicas among them;
#   2. kill -9 of the leader (deploy/local/kill-leader) while a probe opens a NEW connection to
#      :primary every 100 ms and INSERTs; meanwhile each surviving member's GET /patroni is polled every
#      100 ms to time when a new leader is ready (role master/primary, state running). Asserts that no
#      probe error is "read-only transaction" (patroxy never sent a write to a replica) and that the
#      first successful write on the new leader completes within 1.0 s after it was seen ready;
#   3. deploy/local/down (also on any failure, from the EXIT trap).
# Own work dir and ports, so it never collides with a developer's demo on the default ports.
# Every loop here is bounded in count and in time.
set -euo pipefail

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$E2E_DIR/../.." && pwd)"
LOCAL="$REPO_ROOT/deploy/local"

export PATROXY_BUILD_DIR="${PATROXY_BUILD_DIR:-$REPO_ROOT/build}"
export PATROXY_WORK="${PATROXY_E2E_WORK:-$PATROXY_BUILD_DIR/e2e-work}"
export PATROXY_PRIMARY_PORT=55000 PATROXY_REPLICA_PORT=55001
export PATROXY_PG1_PORT=55441 PATROXY_PG2_PORT=55442 PATROXY_PG3_PORT=55443
export PATROXY_API1_PORT=58441 PATROXY_API2_PORT=58442 PATROXY_API3_PORT=58443
export PATROXY_ETCD_PORT=52379 PATROXY_ETCD_PEER_PORT=52380
export PATRONI_TTL=10 PATRONI_LOOP_WAIT=2 PATRONI_RETRY_TIMEOUT=3

MEMBERS=(node1 node2 node3)
PG_PORTS=("$PATROXY_PG1_PORT" "$PATROXY_PG2_PORT" "$PATROXY_PG3_PORT")
API_PORTS=("$PATROXY_API1_PORT" "$PATROXY_API2_PORT" "$PATROXY_API3_PORT")
PATROXY_LOG="$PATROXY_WORK/log/patroxy.log"

PROBE_MAX_SECONDS=60 # the probe stops by itself after this, whatever happens
PROBE_MAX_ATTEMPTS=600
MAX_DELAY=1.0 # seconds from "new leader ready" to the first successful write through patroxy

say() { printf 'e2e.failover %s: %s\n' "$(date +%H:%M:%S.%3N)" "$*"; }
fail() {
  printf 'e2e.failover: FAIL: %s\n' "$*" >&2
  exit 1
}
ts() { date +%s.%N; }

# psql through patroxy as the demo's application role; unaligned, fields separated by '|'.
pq() { # PORT SQL
  timeout 10 psql "host=127.0.0.1 port=$1 user=app dbname=app connect_timeout=3 sslmode=disable application_name=e2e" \
    -X -A -t -q -v ON_ERROR_STOP=1 -c "$2"
}

# Kept after the run (overwritten by the next one): the probe's and the poller's records, and copies of
# the logs of patroxy, Patroni and PostgreSQL from the work dir, which deploy/local/down deletes.
TMP="$PATROXY_BUILD_DIR/e2e-logs"
rm -rf -- "$TMP"
mkdir -p "$TMP"
PROBE_LOG="$TMP/probe.log"
POLL_LOG="$TMP/poll.log"
BG_PIDS=()
started=$SECONDS

cleanup() {
  local rc=$?
  set +e
  if [ "${#BG_PIDS[@]}" -gt 0 ]; then
    touch "$TMP/stop"
    kill "${BG_PIDS[@]}" 2>/dev/null
    wait "${BG_PIDS[@]}" 2>/dev/null
  fi
  if [ "$rc" -ne 0 ] && [ -f "$PATROXY_LOG" ]; then
    echo "--- last lines of $PATROXY_LOG" >&2
    tail -n 40 "$PATROXY_LOG" >&2
    if [ -f "$PROBE_LOG" ]; then
      echo "--- probe log (seq start end result)" >&2
      tail -n 60 "$PROBE_LOG" >&2
    fi
  fi
  cp -r "$PATROXY_WORK/log" "$TMP/work-log" 2>/dev/null
  rm -f "$TMP/stop"
  say "cleaning up: deploy/local/down (records and logs kept in $TMP)"
  "$LOCAL/down" >/dev/null 2>&1 || echo "e2e.failover: deploy/local/down failed" >&2
  say "exit $rc after $((SECONDS - started))s"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "e2e.failover: FAIL: command failed at line $LINENO" >&2' ERR
trap 'exit 130' INT TERM

# --- 1. up, a write on the leader, reads on the replicas ------------------------------------------
say "deploy/local/up (work dir $PATROXY_WORK, patroxy :$PATROXY_PRIMARY_PORT/:$PATROXY_REPLICA_PORT)"
PATROXY_NO_BUILD="${PATROXY_NO_BUILD:-1}" "$LOCAL/up" >"$TMP/up.log" 2>&1 || {
  cat "$TMP/up.log" >&2
  fail "deploy/local/up failed"
}

pq "$PATROXY_PRIMARY_PORT" "CREATE TABLE IF NOT EXISTS e2e(t timestamptz)" >/dev/null
pq "$PATROXY_PRIMARY_PORT" "INSERT INTO e2e VALUES (now())" >/dev/null
got="$(pq "$PATROXY_PRIMARY_PORT" "SELECT inet_server_port(), pg_is_in_recovery()")"
leader_port="${got%%|*}"
[ "${got#*|}" = f ] || fail ":primary reached a server in recovery ($got)"
old_leader=""
for i in "${!MEMBERS[@]}"; do
  if [ "${PG_PORTS[$i]}" = "$leader_port" ]; then old_leader="${MEMBERS[$i]}"; fi
done
[ -n "$old_leader" ] || fail ":primary reached port '$leader_port', not one of ${PG_PORTS[*]}"
dcs="$(curl -s --max-time 2 "http://127.0.0.1:${API_PORTS[0]}/cluster" |
  /usr/bin/python3 -c 'import json,sys; print(next(m["name"] for m in json.load(sys.stdin)["members"] if m["role"] == "leader"))')"
[ "$dcs" = "$old_leader" ] || fail ":primary reached $old_leader but the DCS leader is $dcs"
say "write through :primary landed on the leader $old_leader (:$leader_port, in recovery: f)"

replica_ports=()
for i in "${!MEMBERS[@]}"; do
  if [ "${MEMBERS[$i]}" != "$old_leader" ]; then replica_ports+=("${PG_PORTS[$i]}"); fi
done
seen=""
for _ in 1 2 3 4; do
  got="$(pq "$PATROXY_REPLICA_PORT" "SELECT inet_server_port(), pg_is_in_recovery()")"
  [ "${got#*|}" = t ] || fail ":replicas reached a server not in recovery ($got)"
  seen+=" ${got%%|*}"
done
for p in "${replica_ports[@]}"; do
  [[ " $seen " == *" $p "* ]] || fail "4 connections through :replicas reached ports$seen, never the replica :$p"
done
say "4 connections through :replicas reached ports$seen, all in recovery"

# --- 2. crash the leader under a probe ---------------------------------------------------------------
# The probe: one attempt at a time, a NEW connection each, 100 ms after the previous attempt ended.
# During the outage patroxy queues the connection; psql gives up after connect_timeout=3 s, so an
# attempt is always waiting when a primary comes back. (Not one attempt per 100 ms in parallel: on a
# small CI machine the herd of 30 queued connections released at once measures the machine, not
# patroxy.) A line per attempt: SEQ START END ok PORT | SEQ START END fail rc=N ERROR.
probe() {
  local seq=0 deadline=$((SECONDS + PROBE_MAX_SECONDS)) start out rc
  while [ ! -e "$TMP/stop" ] && [ "$SECONDS" -lt "$deadline" ] && [ "$seq" -lt "$PROBE_MAX_ATTEMPTS" ]; do
    seq=$((seq + 1))
    start="$(ts)"
    rc=0
    out="$(timeout 5 psql "host=127.0.0.1 port=$PATROXY_PRIMARY_PORT user=app dbname=app connect_timeout=3 sslmode=disable application_name=e2e-probe" \
      -X -A -t -q -v ON_ERROR_STOP=1 -c "INSERT INTO e2e VALUES (now()) RETURNING inet_server_port()" 2>"$TMP/probe.err")" || rc=$?
    if [ "$rc" -eq 0 ]; then
      printf '%s %s %s ok %s\n' "$seq" "$start" "$(ts)" "$out" >>"$PROBE_LOG"
    else
      printf '%s %s %s fail rc=%s %s\n' "$seq" "$start" "$(ts)" "$rc" "$(tr '\n' ' ' <"$TMP/probe.err")" >>"$PROBE_LOG"
    fi
    sleep 0.1
  done
}
# A poller per surviving member: GET /patroni every 100 ms; a line per request:
# START END NAME ready|- ROLE/STATE, where END is when the answer arrived.
poll() { # NAME API_PORT
  local n=0 deadline=$((SECONDS + PROBE_MAX_SECONDS)) t0 body t flag
  while [ ! -e "$TMP/stop" ] && [ "$SECONDS" -lt "$deadline" ] && [ "$n" -lt "$PROBE_MAX_ATTEMPTS" ]; do
    n=$((n + 1))
    t0="$(ts)"
    body="$(curl -s --max-time 1 "http://127.0.0.1:$2/patroni" || true)"
    t="$(ts)"
    flag=-
    if grep -Eq '"role": *"(master|primary)"' <<<"$body" && grep -Eq '"state": *"running"' <<<"$body"; then flag=ready; fi
    printf '%s %s %s %s %s\n' "$t0" "$t" "$1" "$flag" "$(grep -Eo '"(role|state)": *"[a-z ]*"' <<<"$body" | tr -d ' "\n')" >>"$POLL_LOG"
    [ "$flag" = - ] || break
    sleep 0.1
  done
}
BG_PIDS=()
: >"$PROBE_LOG"
: >"$POLL_LOG"
probe &
BG_PIDS+=($!)
sleep 1 # a few successes on the old leader before the kill
for i in "${!MEMBERS[@]}"; do
  if [ "${MEMBERS[$i]}" != "$old_leader" ]; then
    poll "${MEMBERS[$i]}" "${API_PORTS[$i]}" &
    BG_PIDS+=($!)
  fi
done

"$LOCAL/kill-leader" >"$TMP/kill.log" 2>&1 || {
  cat "$TMP/kill.log" >&2
  fail "deploy/local/kill-leader failed"
}
say "$(grep -m1 'killed leader' "$TMP/kill.log" | sed 's/^kill-leader: //')"
# kill-leader prints the time right after its kill -9 (HH:MM:SS.mmm, today).
kill_hms="$(grep -m1 -Eo '[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} killed leader' "$TMP/kill.log" | cut -d' ' -f1)"
[ -n "$kill_hms" ] || fail "no kill time in the output of deploy/local/kill-leader"
kill_at="$(date -d "$(date +%F) $kill_hms" +%s.%N)"

# Until a poller has seen the new leader and the probe has had 10 consecutive successes after the kill.
ready_line() { awk '$4 == "ready"' "$POLL_LOG" | sort -n -k2 | head -n 1; }
ten_ok() {
  awk -v k="$kill_at" '$3 + 0 >= k + 0 { run = ($4 == "ok") ? run + 1 : 0; if (run >= 10) found = 1 }
    END { exit !found }' "$PROBE_LOG"
}
done_=""
for _ in $(seq 1 $((PROBE_MAX_SECONDS * 10))); do
  if [ -n "$(ready_line)" ] && ten_ok; then
    done_=1
    break
  fi
  kill -0 "${BG_PIDS[0]}" 2>/dev/null || break # the probe stopped by itself (its own limits)
  sleep 0.1
done
touch "$TMP/stop"
wait "${BG_PIDS[@]}" || true
BG_PIDS=()

ready="$(ready_line)"
[ -n "$ready" ] || fail "no surviving member reported role master/primary, state running within ${PROBE_MAX_SECONDS}s"
[ -n "$done_" ] || fail "the probe never had 10 consecutive successful writes after the kill"
ready_at="$(awk '{ print $2 }' <<<"$ready")"
new_leader="$(awk '{ print $3 }' <<<"$ready")"
# The poller's previous answer from that member, which did not yet say ready: the real moment lies between.
prev_at="$(awk -v n="$new_leader" -v r="$ready_at" '$3 == n && $2 + 0 < r + 0 { t = $2 } END { print t }' "$POLL_LOG")"
new_port=""
for i in "${!MEMBERS[@]}"; do
  if [ "${MEMBERS[$i]}" = "$new_leader" ]; then new_port="${PG_PORTS[$i]}"; fi
done
after_kill="$(sort -n "$PROBE_LOG" | awk -v k="$kill_at" '$3 + 0 >= k + 0')"
failed="$(awk '$4 == "fail"' <<<"$after_kill" | grep -c . || true)"
total="$(grep -c . <<<"$after_kill" || true)"
# First successful write on the new leader: the earliest END among successes on its port.
first_write="$(awk -v p="$new_port" '$4 == "ok" && $5 == p { print $3 }' <<<"$after_kill" | sort -n | head -n 1)"
[ -n "$first_write" ] || fail "no successful write on the new leader $new_leader (:$new_port)"
wrong="$(awk -v p="$new_port" '$4 == "ok" && $5 != p && $3 + 0 > r + 0' r="$ready_at" <<<"$after_kill")"
delay="$(awk -v a="$first_write" -v b="$ready_at" 'BEGIN { printf "%.3f", a - b }')"
fmt() { date -d "@$1" +%H:%M:%S.%3N; }

echo
echo "old leader:        $old_leader (:$leader_port)"
echo "new leader:        $new_leader (:$new_port)"
echo "kill:              $(fmt "$kill_at")"
echo "new leader ready:  $(fmt "$ready_at")  (+$(awk -v a="$ready_at" -v b="$kill_at" 'BEGIN { printf "%.3f", a - b }') s after the kill; GET /patroni answered ready then, not yet at ${prev_at:+$(fmt "$prev_at")})"
echo "first write:       $(fmt "$first_write")  (end of the first successful INSERT on :$new_port)"
echo "delay ready→write: $delay s (limit $MAX_DELAY s)"
echo "probes after kill: $total, failed: $failed"
echo "patroxy log:"
grep -E 'primary changed|DCS' "$PATROXY_LOG" | tail -n 6 | sed 's/^/  /' || true
if [ "$failed" -gt 0 ]; then
  echo "failed probe errors (count, text):"
  awk '$4 == "fail" { $1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); print }' <<<"$after_kill" | sort | uniq -c | sort -rn | head -n 5
fi
echo

if grep -q 'read-only transaction' "$PROBE_LOG"; then
  grep 'read-only transaction' "$PROBE_LOG" >&2
  fail "a write through :primary reached a read-only server"
fi
[ -z "$wrong" ] || fail "writes succeeded on a server other than the new leader after it was ready: $wrong"
awk -v d="$delay" -v m="$MAX_DELAY" 'BEGIN { exit !(d <= m) }' ||
  fail "first write $delay s after the new leader was ready (limit $MAX_DELAY s)"

# --- 3. down (the EXIT trap) -----------------------------------------------------------------------
say "PASS"
