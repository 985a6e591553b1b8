# Shared by the end-to-end tests (tests/e2e/*.sh): one real cluster per test (deploy/local/up with
# the e2e ports and a work dir under the build dir), background probes and watchers (tests/e2e/e2e.py),
# the events (crash, switchover), HAProxy with the classic Patroni config, and the cleanup that runs
# deploy/local/down whatever happens.
# Sourced after `set -euo pipefail` and E2E_NAME=<ctest name>.
# shellcheck shell=bash disable=SC2034  # variables used by the scripts that source this

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOCAL="$(cd "$E2E_DIR/../../deploy/local" && pwd)"

# --- the cluster's settings: the e2e ports, Patroni's short timing -------------------------------
# E2E_PORTS_FILE: another suite's ports (tests/chaos/ports.sh, tests/storm/ports.sh), so that it can
# run beside this one.
# shellcheck source=tests/e2e/ports.sh
source "${E2E_PORTS_FILE:-$E2E_DIR/ports.sh}"
export PATROXY_BUILD_DIR="${PATROXY_BUILD_DIR:-$(cd "$E2E_DIR/../.." && pwd)/build}"
export PATROXY_WORK="${PATROXY_E2E_WORK:-$PATROXY_BUILD_DIR/e2e-work}"
export PATRONI_TTL=10 PATRONI_LOOP_WAIT=2 PATRONI_RETRY_TIMEOUT=3
export PATROXY_NO_BUILD="${PATROXY_NO_BUILD:-1}"
HAPROXY=/usr/sbin/haproxy
# The libpq sslmode of the probes and cancels: disable, or prefer (libpq's default) in e2e.tls.
E2E_SSLMODE="${E2E_SSLMODE:-disable}"

# deploy/local's helpers: MEMBERS, PG_PORTS, API_PORTS, member_index, member_states, cluster_ready,
# dcs_leader, psql_at, wait_for, gone, stop_pid, pid_from_file, ...
# shellcheck source=deploy/local/lib.sh
source "$LOCAL/lib.sh"
check_settings

# The patroxy health settings deploy/local/up writes (interval 1s, rise 2): what "after rise" means.
HEALTH_INTERVAL=1
HEALTH_RISE=2

# --- messages (replace deploy/local's, which name the script) ------------------------------------
say() { printf '%s %s: %s\n' "$E2E_NAME" "$(date +%H:%M:%S.%3N)" "$*"; }
fail() {
  printf '%s: FAIL: %s\n' "$E2E_NAME" "$*" >&2
  exit 1
}
die() { fail "$@"; }
epoch() { date +%s.%6N; }

# --- records: <build>/e2e-logs/<test>/, kept after the run (the next run of the test replaces them) ---
E2E_LOGS="${E2E_LOGS_DIR:-$PATROXY_BUILD_DIR/e2e-logs}"
LOGS="$E2E_LOGS/$E2E_NAME"
rm -rf -- "$LOGS"
mkdir -p "$LOGS"

e2e_py() { /usr/bin/python3 "$E2E_DIR/e2e.py" "$@"; }

# name:pg_port:api_port,... for e2e.py
MEMBERS_ARG=""
for i in "${!MEMBERS[@]}"; do MEMBERS_ARG+="${MEMBERS_ARG:+,}${MEMBERS[$i]}:${PG_PORTS[$i]}:${API_PORTS[$i]}"; done

# Each test reserves the ports again when it starts (tests/e2e/ports.sh says why).
reserve_ports() {
  local added
  if added="$(e2e_py reserve --add "$E2E_PORTS" 2>"$LOGS/reserve.err")"; then
    [ -z "$added" ] || say "reserved ports $added (net.ipv4.ip_local_reserved_ports)"
  else
    say "note: ports not reserved ($(cat "$LOGS/reserve.err")); a bind can fail while an outgoing connection holds one"
  fi
}

pg_port_of() { printf '%s\n' "${PG_PORTS[$(member_index "$1")]}"; }

# --- background jobs: probes and watchers ---------------------------------------------------------
# Each job NAME writes LOGS/NAME.jsonl and stops by itself when LOGS/NAME.stop appears (at the latest
# after its own --max-seconds).
declare -A JOBS=()

start_job() { # NAME E2E_PY_SUBCOMMAND [ARG...]
  local name="$1"
  shift
  rm -f "$LOGS/$name.stop"
  # A simple command in the background: $! is python itself, so a kill reaches it.
  /usr/bin/python3 "$E2E_DIR/e2e.py" "$@" --out "$LOGS/$name.jsonl" --stop "$LOGS/$name.stop" 2>>"$LOGS/$name.err" &
  JOBS[$name]=$!
}
start_probe() { start_job "$1" probe --kind "$2" --port "$3" --sslmode "$E2E_SSLMODE"; } # NAME write|read PORT
start_watch() { start_job "$1" watch --members "$MEMBERS_ARG"; }     # NAME

# wait_ok NAME N: until probe NAME has N successful attempts (bounded: 30 s; a loaded machine can
# take seconds to start Python), so that an event never comes before the probe runs.
wait_ok() {
  local i n
  for i in $(seq 1 150); do
    n="$(grep -c '"ok": true' "$LOGS/$1.jsonl" 2>/dev/null)" || true
    [ "${n:-0}" -lt "$2" ] || return 0
    sleep 0.2
  done
  fail "probe $1 had fewer than $2 successes after 30 s (records: $LOGS/$1.jsonl, $LOGS/$1.err)"
}

stop_jobs() { # NAME... (all when none given)
  local name pids=()
  [ $# -gt 0 ] || set -- "${!JOBS[@]}"
  for name in "$@"; do
    [ -n "${JOBS[$name]:-}" ] || continue
    touch "$LOGS/$name.stop"
    pids+=("${JOBS[$name]}")
  done
  [ "${#pids[@]}" -gt 0 ] || return 0
  # An attempt in progress finishes first: at most the probe's connect timeout (15 s).
  if ! wait_for "jobs $* to stop" 25 gone "${pids[@]}"; then kill "${pids[@]}" 2>/dev/null || true; fi
  wait "${pids[@]}" 2>/dev/null || true
  for name in "$@"; do unset "JOBS[$name]"; done
}

# --- the cluster ------------------------------------------------------------------------------------
# cluster_up: deploy/local/up, a table for the probes' writes, and LEADER/LEADER_PORT/REPLICAS.
cluster_up() {
  say "deploy/local/up (work dir $PATROXY_WORK; patroxy :$PATROXY_PRIMARY_PORT/:$PATROXY_REPLICA_PORT, stats :$PATROXY_STATS_PORT)"
  local t0=$SECONDS
  "$LOCAL/up" >"$LOGS/up.log" 2>&1 || {
    tail -n 30 "$LOGS/up.log" >&2
    fail "deploy/local/up failed (log: $LOGS/up.log)"
  }
  LEADER="$(cluster_ready)" || fail "deploy/local/up returned but the cluster is not ready"
  LEADER_PORT="$(pg_port_of "$LEADER")"
  REPLICAS=()
  for name in "${MEMBERS[@]}"; do [ "$name" = "$LEADER" ] || REPLICAS+=("$name"); done
  psql_at "$PATROXY_PRIMARY_PORT" app app "CREATE TABLE IF NOT EXISTS e2e(t timestamptz)" >/dev/null
  say "up in $((SECONDS - t0))s: leader $LEADER (:$LEADER_PORT), replicas ${REPLICAS[*]}"
}

# The members' ports in the order of names given: "55441 55443".
ports_of() {
  local n out=()
  for n in "$@"; do out+=("$(pg_port_of "$n")"); done
  printf '%s\n' "${out[*]}"
}

# check_routing: a write through :primary lands on the leader (out of recovery) and 4 new connections
# through :replicas reach servers in recovery, both replicas among them.
check_routing() {
  local got seen="" p i
  got="$(psql_at "$PATROXY_PRIMARY_PORT" app app "INSERT INTO e2e VALUES (now()) RETURNING inet_server_port(), pg_is_in_recovery()")"
  [ "$got" = "$LEADER_PORT|f" ] || fail "a write through :primary reached '$got', not the leader $LEADER (:$LEADER_PORT|f)"
  [ "$(dcs_leader)" = "$LEADER" ] || fail "the DCS leader is $(dcs_leader), not $LEADER"
  say "a write through :primary landed on the leader $LEADER (:$LEADER_PORT, in recovery: f)"
  for i in 1 2 3 4; do
    got="$(psql_at "$PATROXY_REPLICA_PORT" app app "SELECT inet_server_port(), pg_is_in_recovery()")"
    [ "${got#*|}" = t ] || fail "a read through :replicas reached a server not in recovery ($got)"
    seen+=" ${got%%|*}"
  done
  for p in $(ports_of "${REPLICAS[@]}"); do
    [[ " $seen " == *" $p "* ]] || fail "4 reads through :replicas reached ports$seen, never the replica :$p"
  done
  say "4 reads through :replicas reached ports$seen, all in recovery (both replicas)"
}

# check_stats: patroxy's stats page (/stats.json) and /metrics name the same members with the same
# roles as `patronictl list`, make the leader the one active server of :primary and the replicas
# those of :replicas (retried for up to 10 s: the stats follow Patroni one poll later).
check_stats() {
  local ctl
  ctl="cd / && env -i PATH=$CLEAN_PATH HOME=$(printf %q "$(postgres_home)") LANG=C.UTF-8"
  ctl+=" $PATRONICTL -c $(printf %q "$(member_config "${MEMBERS[0]}")") list -f json"
  e2e_py stats-vs-patronictl --patronictl "$ctl" --stats-port "$PATROXY_STATS_PORT" --timeout 10 |
    sed "s/^/$E2E_NAME: /"
  [ "${PIPESTATUS[0]}" -eq 0 ] || fail "the stats page or /metrics disagree with patronictl list"
}

# --- events -----------------------------------------------------------------------------------------
# The epoch time an event script printed: "... (epoch S.NNNNNN) ...".
event_epoch() { grep -m1 -Eo 'epoch [0-9]+\.[0-9]+' "$1" | cut -d' ' -f2; }

# kill_leader LOGNAME: deploy/local/kill-leader; EVENT_AT = the time of its kill -9.
kill_leader() {
  "$LOCAL/kill-leader" >"$LOGS/$1.log" 2>&1 || {
    cat "$LOGS/$1.log" >&2
    fail "deploy/local/kill-leader failed"
  }
  EVENT_AT="$(event_epoch "$LOGS/$1.log")"
  [ -n "$EVENT_AT" ] || fail "no kill time in the output of deploy/local/kill-leader ($LOGS/$1.log)"
  say "$(grep -m1 'killed leader' "$LOGS/$1.log" | sed 's/^kill-leader: //')"
}

# switchover LOGNAME [CANDIDATE]: deploy/local/switchover; EVENT_AT = when it sent the POST.
switchover() {
  "$LOCAL/switchover" ${2:+"$2"} >"$LOGS/$1.log" 2>&1 || {
    cat "$LOGS/$1.log" >&2
    fail "deploy/local/switchover failed"
  }
  EVENT_AT="$(event_epoch "$LOGS/$1.log")"
  [ -n "$EVENT_AT" ] || fail "no POST time in the output of deploy/local/switchover ($LOGS/$1.log)"
  say "$(sed 's/^switchover: //' "$LOGS/$1.log" | tr '\n' ' ')"
}

# --- a leader change under write probes, and patroxy's promises around it --------------------------
# (e2e.failover, e2e.switchover, e2e.haproxy_comparison, e2e.tls)
MAX_DELAY=1.0 # s from "new leader ready" to the first write through patroxy that ends on it
# outage's assertions on patroxy's probe besides --check and --max-delay, per event: in a switchover
# patroxy holds new clients until the new leader is ready, so no connection fails, and a statement
# fails only where it was in flight on the old primary.
SWITCHOVER_CHECKS=(--max-connect-failures 0 --statements-only-in-flight)
CRASH_CHECKS=()
PATROXY_CHECKS=() # a test's own extra assertions on patroxy's probes (e2e.tls: --expect-ssl)
# The write probes around an event, by key: patroxy's always, HAProxy's in the comparisons.
THROUGH=(patroxy)
declare -A PROBE_PORT=([patroxy]="$PATROXY_PRIMARY_PORT" [haproxy]="$HAPROXY_PRIMARY_PORT")
declare -A PROBE_LABEL=([patroxy]=patroxy [haproxy]="HAProxy 2.6")

# change_leader NAME EVENT_FUNCTION [ARG...]: the watcher NAME-watch and one write probe NAME-KEY per
# KEY in THROUGH (a new connection to PROBE_PORT[KEY] every 100 ms, INSERT), 10 writes through each on
# the old leader first, the event (kill_leader or switchover), then a bounded wait until it is over for
# every probe (a new leader ready and 10 writes in a row after it). OLD = the old leader, EVENT_AT the
# event. The jobs go on (leader_change_figures stops them).
change_leader() {
  local name="$1" key over=()
  shift
  start_watch "$name-watch"
  for key in "${THROUGH[@]}"; do start_probe "$name-$key" write "${PROBE_PORT[$key]}"; done
  for key in "${THROUGH[@]}"; do
    wait_ok "$name-$key" 10
    over+=(--probe "$LOGS/$name-$key.jsonl")
  done
  OLD="$LEADER"
  "$@"
  e2e_py wait-over "${over[@]}" --watch "$LOGS/$name-watch.jsonl" --event "$EVENT_AT" --old-leader "$OLD" \
    --timeout 90 || fail "$name did not complete through ${THROUGH[*]} (records: $LOGS)"
}

# leader_change_figures NAME WHAT CHECK...: stops NAME's jobs and prints each probe's figures (e2e.py
# outage; summary in LOGS/NAME-KEY.json). patroxy's are asserted: no write reaches a member in
# recovery, none succeeds elsewhere once the new leader is ready, the first write on it ends within
# MAX_DELAY of its GET /patroni saying running master, and CHECK... (SWITCHOVER_CHECKS or CRASH_CHECKS)
# and PATROXY_CHECKS; the others' are measured only. Status 1 when patroxy broke a promise.
# LEADER = the DCS leader after.
leader_change_figures() {
  local name="$1" what="$2" key jobs=("$1-watch") status=0
  shift 2
  for key in "${THROUGH[@]}"; do jobs+=("$name-$key"); done
  stop_jobs "${jobs[@]}"
  for key in "${THROUGH[@]}"; do
    echo
    if [ "$key" = patroxy ]; then
      e2e_py outage --probe "$LOGS/$name-$key.jsonl" --watch "$LOGS/$name-watch.jsonl" --event "$EVENT_AT" \
        --old-leader "$OLD" --members "$MEMBERS_ARG" --label "${PROBE_LABEL[$key]}" --what "$what" \
        --json "$LOGS/$name-$key.json" --check --max-delay "$MAX_DELAY" "$@" "${PATROXY_CHECKS[@]}" || status=1
    else
      e2e_py outage --probe "$LOGS/$name-$key.jsonl" --watch "$LOGS/$name-watch.jsonl" --event "$EVENT_AT" \
        --old-leader "$OLD" --members "$MEMBERS_ARG" --label "${PROBE_LABEL[$key]}" --what "$what" \
        --json "$LOGS/$name-$key.json"
    fi
  done
  echo
  LEADER="$(dcs_leader)" || fail "no DCS leader after $what"
  return "$status"
}

# --- cancels through a replica listener ---------------------------------------------------------------
# Typically 15-100 ms; the bound is 2 s because a 2-core machine shared with compilers stalls a process
# for a second now and then. A cancel that reaches the wrong server never takes effect at all.
CANCEL_WITHIN=2.0

# check_cancels NAME PORT [CANCEL_ARG...]: 20 times a session through PORT runs SELECT pg_sleep(30) and
# psycopg2 sends a CancelRequest through PORT (e2e.py cancel, sslmode E2E_SSLMODE). Asserts that all
# end with 57014 "canceling statement due to user request" within CANCEL_WITHIN, with sessions on both
# replicas among them. Records in LOGS/NAME.jsonl, the summary in LOGS/NAME.json.
check_cancels() {
  local name="$1" port="$2"
  shift 2
  e2e_py cancel --port "$port" --count 20 --sleep 30 --within "$CANCEL_WITHIN" --min-servers 2 --check \
    --sslmode "$E2E_SSLMODE" --out "$LOGS/$name.jsonl" --json "$LOGS/$name.json" "$@"
}

# measure_cancels NAME PORT COUNT: the same through HAProxy, measured, not asserted; within 1 s (patroxy's
# take 15-100 ms), so that each miss costs 1.8 s rather than 2.8 s.
measure_cancels() {
  e2e_py cancel --port "$2" --count "$3" --within 1.0 --sslmode "$E2E_SSLMODE" --out "$LOGS/$1.jsonl" \
    --json "$LOGS/$1.json"
}

# --- HAProxy with the classic Patroni config (PATRONI-NOTES.md) -------------------------------------
HAPROXY_CFG="${HAPROXY_CFG:-$PATROXY_WORK/haproxy.cfg}" # in the work dir: deploy/local/down deletes it, up sweeps strays
HAPROXY_PID_FILE="$PATROXY_WORK/haproxy.pid"

haproxy_pid() { pid_from_file "$HAPROXY_PID_FILE" "$HAPROXY_CFG"; }

# haproxy_up: writes the classic config (deploy/local/haproxy-cfg with the public guides' timing) and
# starts Debian's HAProxy 2.6 in the foreground (-db), in the background, with its PID recorded; waits
# until it routes as Patroni says (haproxy_settled).
haproxy_up() {
  "$LOCAL/haproxy-cfg" --ports "$HAPROXY_PRIMARY_PORT,$HAPROXY_REPLICA_PORT,$HAPROXY_STATS_PORT" --inter 3s \
    --check-timeout 5s --socket "$PATROXY_WORK/haproxy-admin.sock" >"$HAPROXY_CFG"
  "$HAPROXY" -c -q -f "$HAPROXY_CFG" || fail "haproxy rejects $HAPROXY_CFG"
  start_until_bound haproxy "$LOGS/haproxy.log" - haproxy_pid haproxy_listening \
    start_background "$HAPROXY_PID_FILE" "$LOGS/haproxy.log" "$HAPROXY" -db -f "$HAPROXY_CFG" ||
    { cat "$LOGS/haproxy.log" >&2; fail "haproxy exited"; }
  say "HAProxy $($HAPROXY -v | head -n 1 | awk '{print $3}') (pid $(haproxy_pid)) on :$HAPROXY_PRIMARY_PORT/:$HAPROXY_REPLICA_PORT, classic config (inter 3s fall 3 rise 2)"
}

haproxy_listening() { port_open "$HAPROXY_PRIMARY_PORT" && port_open "$HAPROXY_REPLICA_PORT"; }

haproxy_down() {
  local pid
  if pid="$(haproxy_pid)"; then stop_pid haproxy "$pid" TERM 10; fi
  rm -f "$HAPROXY_PID_FILE"
}

# "listener server status" lines from HAProxy-format CSV on stdin (HAProxy's /;csv or `show stat`,
# patroxy's the same): the servers of :primary and :replicas.
csv_states() {
  awk -F, '($1 == "primary" || $1 == "replicas") && $2 != "FRONTEND" && $2 != "BACKEND" { print $1, $2, $18 }'
}
haproxy_states() { curl -s --max-time 2 "http://127.0.0.1:$HAPROXY_STATS_PORT/;csv" | csv_states; }
# socket_states SOCKET: the same from a runtime API socket, as an operator's script asks it.
socket_states() { echo "show stat" | socat -t 2 stdio "UNIX-CONNECT:$1" | csv_states; }

# settled_as LEADER STATES_COMMAND [ARG...]: the states say :primary routes to LEADER only and
# :replicas to the others only.
settled_as() {
  local leader="$1" states name want_p want_r
  shift
  states="$("$@")" || return 1
  for name in "${MEMBERS[@]}"; do
    if [ "$name" = "$leader" ]; then want_p=UP want_r=DOWN; else want_p=DOWN want_r=UP; fi
    grep -qx "primary $name $want_p" <<<"$states" || return 1
    grep -qx "replicas $name $want_r" <<<"$states" || return 1
  done
}
# haproxy_settled LEADER: HAProxy routes :primary to LEADER only and :replicas to the others only.
haproxy_settled() { settled_as "$1" haproxy_states; }

# --- cleanup ------------------------------------------------------------------------------------------
E2E_STARTED=$SECONDS

e2e_cleanup() {
  local rc=$?
  set +e
  stop_jobs
  haproxy_down
  if [ "$rc" -ne 0 ] && [ -f "$PATROXY_LOG" ]; then
    echo "--- last lines of $PATROXY_LOG" >&2
    tail -n 40 "$PATROXY_LOG" >&2
  fi
  # deploy/local/down deletes the work dir: keep its logs (patroxy, etcd, Patroni, PostgreSQL).
  cp -r "$LOG_DIR" "$LOGS/work-log" 2>/dev/null
  [ ! -f "$PATROXY_WORK/patroxy.json" ] || cp "$PATROXY_WORK/patroxy.json" "$LOGS/"
  [ ! -f "$HAPROXY_CFG" ] || cp "$HAPROXY_CFG" "$LOGS/"
  say "cleaning up: deploy/local/down (records and logs kept in $LOGS)"
  "$LOCAL/down" >"$LOGS/down.log" 2>&1 || echo "$E2E_NAME: deploy/local/down failed (log: $LOGS/down.log)" >&2
  say "exit $rc after $((SECONDS - E2E_STARTED))s"
  exit "$rc"
}
trap e2e_cleanup EXIT
reserve_ports
trap 'echo "$E2E_NAME: FAIL: command failed at line $LINENO" >&2' ERR
trap 'exit 130' INT TERM
