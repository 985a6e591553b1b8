#!/usr/bin/env bash
# e2e.haproxy_dropin: patroxy run from the classic haproxy.cfg (deploy/local/haproxy-cfg, the file the
# README shows), as an operator moving off HAProxy starts it: `patroxy -f haproxy.cfg`. Asserts:
#   - the file validates (patroxy -c) and routes as the native config does: writes to the leader,
#     reads to both replicas, the stats page and /metrics agree with patronictl;
#   - the runtime socket the file declares (stats socket) answers `show stat` over socat with
#     HAProxy's CSV; HAProxy 2.6 started from the very same file, on the same ports and socket,
#     reports the same server up on each listener;
#   - `disable server replicas/X` on the socket stops reads reaching X, `enable server` brings it back;
#   - a planned switchover and a crash of the leader keep the promises of e2e.switchover and
#     e2e.failover;
#   - SIGHUP re-reads the haproxy.cfg: a listen section added to the file starts routing.
# deploy/local/down at the end, pass or fail. Records in <build>/e2e-logs/e2e.haproxy_dropin/.
set -euo pipefail
E2E_NAME=e2e.haproxy_dropin
export PATROXY_CONFIG_FORMAT=haproxy
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
HAPROXY_CFG="$CONFIG" # HAProxy starts from patroxy's file (haproxy_down finds it by its PID file)
SOCKET="$PATROXY_WORK/admin.sock"

cluster_up
"$PATROXY_BIN" -c -f "$CONFIG" >"$LOGS/check.out" 2>&1 || { cat "$LOGS/check.out"; fail "patroxy -c rejects $CONFIG"; }
say "patroxy -c -f $(basename "$CONFIG"): $(tail -n 1 "$LOGS/check.out") ($(grep -c 'warning' "$LOGS/check.out" || true) warnings)"
# The stats check first, as in e2e.failover: it waits until patroxy's view agrees with patronictl (a
# replica can be out of :replicas for patroxy's first interval; seen once in CI: 4 reads, one replica).
check_stats
check_routing

# --- the runtime socket, and HAProxy from the same file ----------------------------------------------
wait_for "patroxy's socket to show :primary on $LEADER and :replicas on ${REPLICAS[*]}" 10 \
  settled_as "$LEADER" socket_states "$SOCKET" || { socket_states "$SOCKET"; fail "patroxy's show stat disagrees with Patroni"; }
socket_states "$SOCKET" | sort >"$LOGS/states-patroxy.txt"

stop_patroxy
dropin_listening() { port_open "$PATROXY_PRIMARY_PORT" && port_open "$PATROXY_REPLICA_PORT"; }
start_until_bound haproxy "$LOGS/haproxy.log" - haproxy_pid dropin_listening \
  start_background "$HAPROXY_PID_FILE" "$LOGS/haproxy.log" "$HAPROXY" -db -f "$CONFIG" ||
  { cat "$LOGS/haproxy.log" >&2; fail "haproxy exited"; }
say "HAProxy (pid $(haproxy_pid)) runs from the same file"
# rise 2 x inter 1s, plus HAProxy's spread of the first checks.
wait_for "HAProxy's socket to show :primary on $LEADER and :replicas on ${REPLICAS[*]}" 30 \
  settled_as "$LEADER" socket_states "$SOCKET" || { socket_states "$SOCKET"; fail "HAProxy does not settle"; }
socket_states "$SOCKET" | sort >"$LOGS/states-haproxy.txt"
haproxy_down
diff "$LOGS/states-haproxy.txt" "$LOGS/states-patroxy.txt" >&2 ||
  fail "HAProxy and patroxy disagree on which server is up (above: HAProxy <, patroxy >)"
say "HAProxy and patroxy agree on every server: $(tr '\n' ';' <"$LOGS/states-patroxy.txt")"

start_until_bound patroxy "$PATROXY_LOG" - patroxy_pid dropin_listening \
  start_background "$PATROXY_PID_FILE" "$PATROXY_LOG" "$PATROXY_BIN" -f "$CONFIG" || fail "patroxy did not start again"
wait_for "patroxy to route again" 15 settled_as "$LEADER" socket_states "$SOCKET" || fail "patroxy does not route after its restart"
check_routing

# --- disable/enable a server on the socket, as an operator's script does ----------------------------
reads_reach() { # COUNT: the ports COUNT new read sessions reach, sorted and unique
  local i
  for i in $(seq 1 "$1"); do psql_at "$PATROXY_REPLICA_PORT" app app "SELECT inet_server_port()"; done | sort -u | tr '\n' ' '
}
off="${REPLICAS[0]}" on_port="$(pg_port_of "${REPLICAS[1]}")"
answer="$(echo "disable server replicas/$off" | socat -t 2 stdio "UNIX-CONNECT:$SOCKET")"
[ -z "$(tr -d '\n' <<<"$answer")" ] || fail "disable server answered '$answer'"
got="$(reads_reach 6)"
[ "$got" = "$on_port " ] || fail "with $off disabled, reads reached ports $got (want only $on_port)"
grep -qx "replicas $off MAINT" <(socket_states "$SOCKET") || fail "show stat does not say MAINT for $off"
echo "enable server replicas/$off" | socat -t 2 stdio "UNIX-CONNECT:$SOCKET" >/dev/null
got="$(reads_reach 6)"
[ "$(wc -w <<<"$got")" = 2 ] || fail "with $off enabled again, reads reached only ports $got"
say "disable server replicas/$off: reads only on :$on_port, show stat MAINT; enable server: both replicas again"

# --- a planned switchover and a crash --------------------------------------------------------------
change_leader switchover switchover switchover "${REPLICAS[0]}"
sleep 2
leader_change_figures switchover "planned switchover (haproxy.cfg)" "${SWITCHOVER_CHECKS[@]}" || fail "see above (records: $LOGS)"
change_leader crash kill_leader crash
leader_change_figures crash "crash of the leader (haproxy.cfg)" "${CRASH_CHECKS[@]}" || fail "see above (records: $LOGS)"
REPLICAS=()
for name in "${MEMBERS[@]}"; do [ "$name" = "$LEADER" ] || REPLICAS+=("$name"); done
LEADER_PORT="$(pg_port_of "$LEADER")"

"$LOCAL/start-member" "$OLD" >"$LOGS/start-member.log" 2>&1 || { cat "$LOGS/start-member.log" >&2; fail "start-member $OLD failed"; }
wait_for "$OLD to rejoin as a replica" 60 cluster_ready >/dev/null || fail "the cluster did not recover"
check_stats # the stats page and /metrics agree with patronictl after both events, all three members up

# --- SIGHUP re-reads the file ------------------------------------------------------------------------
{
  printf '\nlisten readonly\n    bind 127.0.0.1:%s\n    option httpchk OPTIONS /read-only\n' "$PASSTHROUGH_PORT"
  printf '    http-check expect status 200\n    default-server inter 1s fall 3 rise 2 on-marked-down shutdown-sessions\n'
  for i in "${!MEMBERS[@]}"; do
    printf '    server %s 127.0.0.1:%s check port %s\n' "${MEMBERS[$i]}" "${PG_PORTS[$i]}" "${API_PORTS[$i]}"
  done
} >>"$CONFIG"
kill -HUP "$(patroxy_pid)"
readonly_up() { # all three members UP on the new listener (Patroni's /read-only: the leader and the replicas)
  [ "$(echo "show stat" | socat -t 2 stdio "UNIX-CONNECT:$SOCKET" | awk -F, '$1 == "readonly" && $18 == "UP"' | wc -l)" = 4 ] # + BACKEND
}
wait_for "the listen section added to the file to route (SIGHUP)" 15 readonly_up || fail "SIGHUP did not add readonly with 3 members up"
psql_at "$PASSTHROUGH_PORT" app app "SELECT 1" >/dev/null || fail "no session through :$PASSTHROUGH_PORT"
say "SIGHUP: the listen section added to haproxy.cfg routes on :$PASSTHROUGH_PORT, its three members UP in show stat"
say "PASS"
