#!/usr/bin/env bash
# storm.failover: a connection storm during a failover, through patroxy and through HAProxy 2.6 (the
# classic config), one after the other on the same real cluster (deploy/local on the storm's own
# ports, tests/storm/ports.sh). For each proxy: kill -9 of the leader's Patroni and PostgreSQL
# (STORM_EVENT=switchover: a planned switchover instead), and at once STORM_CLIENTS clients (2,000)
# connect to the proxy's primary port within STORM_SPREAD_MS (1 s), each running SELECT 1 once
# (bench/storm, one process on libpq's non-blocking API). Every client's outcome is counted.
# Asserted on patroxy only: every client served or refused with a clear error (53300 over
# max_connections, 57P03 past queue_timeout), none hung, no other kind of failure, at least one
# served, patroxy alive, its peak RSS under STORM_RSS_BOUND_MB. HAProxy's figures are measured.
# The table goes to <build>/e2e-logs/storm.md (and the test's log); records in <build>/e2e-logs/storm.failover/.
set -euo pipefail
E2E_NAME=storm.failover
STORM_DIR="$(cd "$(dirname "$0")" && pwd)"
export E2E_PORTS_FILE="$STORM_DIR/ports.sh"
BUILD="${PATROXY_BUILD_DIR:-$STORM_DIR/../../build}"
# Its own work dir: it may run while the e2e suite's cluster is up.
export PATROXY_E2E_WORK="${PATROXY_STORM_WORK:-$BUILD/storm-work}"
# shellcheck source=tests/e2e/lib.sh
source "$STORM_DIR/../e2e/lib.sh"

CLIENTS="${STORM_CLIENTS:-2000}"
SPREAD_MS="${STORM_SPREAD_MS:-1000}"
EVENT="${STORM_EVENT:-crash}"
# The peak RSS patroxy may reach (VmHWM, its whole life): 31 MB measured with 2,000 clients (README
# "Connection storm"); the bound leaves room for a slower machine, not for a leak per client.
RSS_BOUND_MB="${STORM_RSS_BOUND_MB:-100}"
# A client unfinished after this is a hang: above patroxy's queue_timeout (30 s) plus a connect.
CLIENT_TIMEOUT_MS=60000
STORM_BIN="$PATROXY_BUILD_DIR/bench/patroxy_storm"
[ -x "$STORM_BIN" ] || fail "no $STORM_BIN (build the patroxy_storm target)"
case "$EVENT" in crash | switchover) ;; *) fail "STORM_EVENT must be crash or switchover" ;; esac

# Every client is a descriptor in the storm client and one or two in the proxy: patroxy and HAProxy
# inherit this shell's limit (HAProxy raises its own from maxconn as well).
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((2 * CLIENTS + 256)) ] || fail "ulimit -Hn $(ulimit -Hn) is too low for $CLIENTS clients"

# --- patroxy as an operator would set it for this: -----------------------------------------------
# PostgreSQL takes max_connections 100 (Patroni's default here), 3 of them reserved for superusers
# and some used by Patroni itself: 90 sessions per member on the primary listener leaves that room,
# so that a member is never asked for more than it can take (it would answer 53300 "too many
# clients", which patroxy retries but which wastes a fork per try). The clients over that wait in
# patroxy's queue for a slot (queue_timeout 30 s) instead of failing. The listener itself takes up
# to 4000 (the application's pools together), beyond which a client gets 53300 at once.
MEMBER_MAX_CONNECTIONS=90
LISTENER_MAX_CONNECTIONS=4000
storm_config() {
  "$PYTHON" - "$PATROXY_WORK/patroxy.json" "$MEMBER_MAX_CONNECTIONS" "$LISTENER_MAX_CONNECTIONS" <<'PY'
import json, sys
path, member_max, listener_max = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path) as f:
    cfg = json.load(f)
for l in cfg["listeners"]:
    if l["name"] == "primary":
        l["max_connections"] = listener_max
        l["member_options"] = {m["name"]: {"max_connections": member_max} for m in cfg["cluster"]["members"]}
with open(path, "w") as f:
    json.dump(cfg, f, indent=2)
PY
}
listener_limit() {
  curl -s --max-time 2 "http://127.0.0.1:$PATROXY_STATS_PORT/stats.json" |
    "$PYTHON" -c 'import json,sys; print(next(l["sessions_limit"] for l in json.load(sys.stdin)["listeners"] if l["name"] == "primary"))'
}
limit_is() { [ "$(listener_limit)" = "$1" ]; }

cluster_up
storm_config
kill -HUP "$(patroxy_pid)"
wait_for "patroxy to reload the storm settings" 10 limit_is "$LISTENER_MAX_CONNECTIONS" ||
  fail "patroxy did not take the storm settings (primary listener limit $(listener_limit))"
say "patroxy reloaded: primary listener max_connections $LISTENER_MAX_CONNECTIONS, $MEMBER_MAX_CONNECTIONS per member, queue_timeout 30s"
haproxy_up
wait_for "HAProxy to route :primary to $LEADER" 30 haproxy_settled "$LEADER" || fail "HAProxy did not settle"

# --- one storm --------------------------------------------------------------------------------------
# new_leader_at OLD FILE: in the background, writes to FILE the epoch at which a member other than OLD
# first answers GET /primary with 200 (Patroni promoted it), polling every 100 ms for up to 90 s.
new_leader_at() {
  local old="$1" out="$2" i port
  for _ in $(seq 1 900); do
    for i in "${!MEMBERS[@]}"; do
      [ "${MEMBERS[$i]}" != "$old" ] || continue
      port="${API_PORTS[$i]}"
      if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 0.5 "http://127.0.0.1:$port/primary")" = 200 ]; then
        epoch >"$out"
        return 0
      fi
    done
    sleep 0.1
  done
}

# The CPU time (user + system, ms) process PID has used so far.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print int(($12 + $13) * 1000 / hz) }' "/proc/$1/stat"; }
vm_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; } # PID VmRSS|VmHWM

# storm KEY PORT PID: the event, and at once the storm through PORT (the proxy of process PID).
# Writes LOGS/storm-KEY.json (the client's report plus the event's figures).
storm() {
  local key="$1" port="$2" pid="$3" old="$LEADER" rss_before
  rss_before="$(vm_kb "$pid" VmRSS)"
  new_leader_at "$old" "$LOGS/leader-$key.epoch" &
  local watcher=$!
  local switchover=""
  if [ "$EVENT" = crash ]; then
    kill_leader "event-$key"
  else
    "$LOCAL/switchover" >"$LOGS/event-$key.log" 2>&1 &
    switchover=$!
    EVENT_AT="$(epoch)"
  fi
  local started cpu_before
  cpu_before="$(cpu_ms "$pid")"
  started="$(epoch)"
  "$STORM_BIN" --conninfo "hostaddr=127.0.0.1 port=$port user=app password=app dbname=app sslmode=disable gssencmode=disable" \
    --clients "$CLIENTS" --spread-ms "$SPREAD_MS" --client-timeout-ms "$CLIENT_TIMEOUT_MS" >"$LOGS/storm-$key.raw.json" ||
    fail "the storm client failed"
  local cpu_used=$(($(cpu_ms "$pid") - cpu_before))
  wait "$watcher" || true
  [ -z "$switchover" ] || wait "$switchover" || fail "the switchover failed ($LOGS/event-$key.log)"
  "$PYTHON" - "$LOGS/storm-$key.raw.json" "$LOGS/storm-$key.json" "$started" "$EVENT_AT" \
    "$(cat "$LOGS/leader-$key.epoch" 2>/dev/null || echo)" "$rss_before" "$(vm_kb "$pid" VmHWM)" "$(vm_kb "$pid" VmRSS)" \
    "$cpu_used" <<'PY'
import json, sys
raw, out, started, event_at, leader_at, rss_before, hwm, rss_after, cpu = sys.argv[1:10]
r = json.load(open(raw))
r["proxy_cpu_ms"] = int(cpu)
r["storm_after_event_s"] = round(float(started) - float(event_at), 3)
r["new_leader_s"] = round(float(leader_at) - float(started), 3) if leader_at else None
r["rss_before_kb"], r["peak_rss_kb"], r["rss_after_kb"] = int(rss_before), int(hwm), int(rss_after)
json.dump(r, open(out, "w"), indent=1)
PY
  say "$key: $(cat "$LOGS/storm-$key.raw.json")"
}

# restore: the killed member back, all three streaming, HAProxy settled on the leader.
restore() {
  if [ "$EVENT" = crash ]; then "$LOCAL/start-member" "$OLD_LEADER" >"$LOGS/start-$OLD_LEADER.log" 2>&1; fi
  wait_for "one leader and two streaming replicas again" 90 cluster_ready || fail "the cluster did not recover"
  LEADER="$(cluster_ready)"
  wait_for "HAProxy to settle on $LEADER" 40 haproxy_settled "$LEADER" || fail "HAProxy did not settle"
}

OLD_LEADER="$LEADER"
say "storm 1: $EVENT of $LEADER, $CLIENTS clients within $SPREAD_MS ms through patroxy :$PATROXY_PRIMARY_PORT"
storm patroxy "$PATROXY_PRIMARY_PORT" "$(patroxy_pid)"
restore
OLD_LEADER="$LEADER"
say "storm 2: $EVENT of $LEADER, $CLIENTS clients within $SPREAD_MS ms through HAProxy :$HAPROXY_PRIMARY_PORT"
storm haproxy "$HAPROXY_PRIMARY_PORT" "$(haproxy_pid)"

# --- the table and patroxy's promises -----------------------------------------------------------------
rc=0
"$PYTHON" "$STORM_DIR/storm_table.py" --event "$EVENT" --clients "$CLIENTS" --spread-ms "$SPREAD_MS" \
  --patroxy "$LOGS/storm-patroxy.json" --haproxy "$LOGS/storm-haproxy.json" --rss-bound-mb "$RSS_BOUND_MB" \
  --out "$E2E_LOGS/storm.md" || rc=1
cp "$E2E_LOGS/storm.md" "$LOGS/"
kill -0 "$(patroxy_pid)" 2>/dev/null || { say "patroxy is not running after the storms"; rc=1; }
[ "$rc" -eq 0 ] || fail "patroxy broke a promise in the storm (above; records: $LOGS)"
say "PASS"
