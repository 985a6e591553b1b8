#!/usr/bin/env bash
# e2e.tls: the cluster with TLS on every leg (PATROXY_TLS=1 deploy/local/up: a throw-away CA, ssl = on
# on the members, patroxy's :primary and :replicas with "tls": "terminate", "server_tls": "verify-full"),
# every client with libpq's default sslmode=prefer (probes and cancels included), HAProxy's classic
# config beside it. One cluster for all of:
#   1. routing over TLS: a write through :primary lands on the leader, the client's leg is TLS
#      (ssl_in_use) and the server sees its leg from patroxy as TLS (pg_stat_ssl); a read through
#      :replicas the same on a replica; the stats page and the routing checks of e2e.failover;
#   2. cancels, 20 through each, all must take effect (57014 within 2 s, both replicas among them,
#      every session TLS on both legs), as e2e.replicas' cancel step:
#      - through :replicas (terminate: patroxy knows each key; patroxy_cancel_requests_total
#        {result="forwarded"} +20);
#      - through `replicas_passthrough`, a listener with "tls": "passthrough" added to the config file
#        and loaded by SIGHUP: TLS end to end to PostgreSQL, opaque to patroxy, so each cancel is sent to
#        every server holding an opaque TLS session (forwarded +0; {result="broadcast"} +20 once that
#        series exists);
#      - through HAProxy's replicas listener: measured, not asserted (it balances the cancel's own
#        connection to any replica);
#   3. a planned switchover under a write probe through patroxy's :primary (and one through HAProxy's,
#      measured), with e2e.switchover's assertions and every probe session TLS;
#   4. a crash of the new leader (kill -9) under the write probe, with e2e.failover's assertions and
#      every probe session TLS.
# Adds its rows to <build>/e2e-logs/comparison.md (its own marked section). deploy/local/down at the
# end, pass or fail. Records in <build>/e2e-logs/e2e.tls/.
set -euo pipefail
E2E_NAME=e2e.tls
export PATROXY_TLS=1
E2E_SSLMODE=prefer # libpq's default: TLS wherever the other side offers it
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

PATROXY_CHECKS=(--expect-ssl) # on top of each event's own: every probe session over TLS
PROBE_LABEL[patroxy]="patroxy (tls: terminate)"
PROBE_LABEL[haproxy]="HAProxy 2.6 (TLS relayed)"

# cancels NAME: patroxy_cancel_requests_total{result=NAME} now, 0 while the series does not exist.
cancels() {
  local v
  v="$(e2e_py metric --stats-port "$PATROXY_STATS_PORT" --name patroxy_cancel_requests_total --label "result=$1")" ||
    fail "no /metrics on :$PATROXY_STATS_PORT"
  [ "$v" = absent ] && echo 0 || echo "$v"
}
has_series() { [ "$(e2e_py metric --stats-port "$PATROXY_STATS_PORT" --name "$1" --label "$2")" != absent ]; }
# expect_cancels RESULT N: patroxy_cancel_requests_total{result=RESULT} reaches N (bounded: a cancel's
# session is counted when it ends, a moment after the statement it cancelled).
expect_cancels() {
  e2e_py metric --stats-port "$PATROXY_STATS_PORT" --name patroxy_cancel_requests_total --label "result=$1" \
    --at-least "$2" --timeout 5 >/dev/null
}

# A listener for the replicas that relays TLS opaquely, added to the config file and loaded by SIGHUP.
add_passthrough_listener() {
  local pid
  pid="$(patroxy_pid)" || fail "patroxy is not running"
  "$PYTHON" - "$CONFIG" "$PASSTHROUGH_PORT" <<'PY'
import json, os, sys
path, port = sys.argv[1], sys.argv[2]
with open(path) as f:
    cfg = json.load(f)
replicas = next(l for l in cfg["listeners"] if l["name"] == "replicas")
added = {k: v for k, v in replicas.items() if k not in ("tls", "server_tls", "client_tls", "tls_options")}
added.update(name="replicas_passthrough", bind=f"127.0.0.1:{port}", tls="passthrough")
cfg["listeners"].append(added)
with open(path + ".new", "w") as f:
    json.dump(cfg, f, indent=2)
os.replace(path + ".new", path)
PY
  "$PATROXY_BIN" -c -f "$CONFIG" >/dev/null || fail "patroxy rejects $CONFIG with the passthrough listener"
  kill -HUP "$pid"
  wait_for "patroxy to bind :$PASSTHROUGH_PORT after SIGHUP" 15 port_open "$PASSTHROUGH_PORT" ||
    fail "no listener on :$PASSTHROUGH_PORT after SIGHUP (log: $PATROXY_LOG)"
  [ "$(patroxy_pid)" = "$pid" ] || fail "patroxy (pid $pid) did not survive the reload"
  say "SIGHUP: patroxy (pid $pid) listens on :$PASSTHROUGH_PORT too (replicas_passthrough, tls: passthrough)"
}

cluster_up
haproxy_up # it settles while patroxy's steps run
rc=0

# --- 1. routing over TLS --------------------------------------------------------------------------------
check_stats
check_routing # psql, libpq's default sslmode=prefer
e2e_py session --port "$PATROXY_PRIMARY_PORT" --write --what "1. a write through :primary (sslmode=prefer)" \
  --expect-port "$LEADER_PORT" --expect-recovery false --expect-ssl | sed "s/^/$E2E_NAME: /"
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "a write through :primary is not TLS on both legs or missed the leader"
e2e_py session --port "$PATROXY_REPLICA_PORT" --what "1. a read through :replicas (sslmode=prefer)" \
  --expect-recovery true --expect-ssl | sed "s/^/$E2E_NAME: /"
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "a read through :replicas is not TLS on both legs or missed the replicas"

# --- 2. cancels -------------------------------------------------------------------------------------------
echo
say "2. 20 cancels through :replicas (tls: terminate), sslmode=prefer"
forwarded="$(cancels forwarded)"
check_cancels cancel-terminate "$PATROXY_REPLICA_PORT" --expect-ssl || rc=1
expect_cancels forwarded "$(awk -v n="$forwarded" 'BEGIN { print n + 20 }')" || {
  rc=1
  echo "$E2E_NAME: FAIL: patroxy forwarded $(($(cancels forwarded) - forwarded)) cancels by key, not 20" >&2
}

echo
add_passthrough_listener
say "2. 20 cancels through :$PASSTHROUGH_PORT (tls: passthrough), sslmode=prefer: TLS to PostgreSQL, opaque to patroxy"
forwarded="$(cancels forwarded)"
broadcast="$(cancels broadcast)"
check_cancels cancel-passthrough "$PASSTHROUGH_PORT" --expect-ssl || rc=1
if has_series patroxy_cancel_requests_total result=broadcast; then
  expect_cancels broadcast "$(awk -v n="$broadcast" 'BEGIN { print n + 20 }')" || {
    rc=1
    echo "$E2E_NAME: FAIL: patroxy broadcast $(($(cancels broadcast) - broadcast)) cancels, not 20" >&2
  }
else
  say "(patroxy_cancel_requests_total{result=\"broadcast\"} not in /metrics yet: not checked)"
fi
[ "$(cancels forwarded)" = "$forwarded" ] || {
  rc=1
  echo "$E2E_NAME: FAIL: patroxy forwarded cancels by key on the passthrough listener: it saw the keys" >&2
}
say "cancels counted by patroxy: forwarded $(cancels forwarded), broadcast $(cancels broadcast), unknown_key $(cancels unknown_key), failed $(cancels failed)"

echo
wait_for "HAProxy to route :primary to $LEADER and :replicas to ${REPLICAS[*]}" 30 haproxy_settled "$LEADER" ||
  fail "HAProxy did not settle: $(haproxy_states | tr '\n' ';')"
say "2. 20 cancels through HAProxy's :$HAPROXY_REPLICA_PORT, sslmode=prefer (measured, not asserted)"
measure_cancels cancel-haproxy "$HAPROXY_REPLICA_PORT" 20

# --- 3. planned switchover, through patroxy and HAProxy -------------------------------------------------
echo
THROUGH=(patroxy haproxy)
change_leader switchover switchover switchover "${REPLICAS[0]}"
sleep 2 # the old leader comes back as a replica meanwhile: writes must not reach it
leader_change_figures switchover "planned switchover (TLS)" "${SWITCHOVER_CHECKS[@]}" || rc=1

# --- 4. crash of the new leader, through patroxy ------------------------------------------------------
wait_for "one leader and two streaming replicas again" 60 cluster_ready || fail "the cluster did not recover after the switchover"
say "all three members stream from $LEADER again; crash next"
THROUGH=(patroxy)
change_leader crash kill_leader kill
sleep 1
leader_change_figures crash "crash failover (kill -9 of the leader) (TLS)" "${CRASH_CHECKS[@]}" || rc=1

# --- the rows of the comparison table -------------------------------------------------------------------
ok_of() { json 'print("%d/%d" % (d["ok"], d["count"]))' <"$1"; } # a cancel summary: "N/20"
header="### With TLS (e2e.tls): ssl = on on the members, patroxy terminating (server_tls verify-full), sslmode=prefer

$(date -u '+%Y-%m-%d %H:%M UTC'). Every client with libpq's default sslmode=prefer: TLS to patroxy, which
re-encrypts towards the members; through HAProxy TLS end to end (relayed). Same probe and figures as above."
footer="Cancels through the replica listener with TLS (sslmode=prefer): patroxy terminate $(ok_of "$LOGS/cancel-terminate.json"), patroxy passthrough $(ok_of "$LOGS/cancel-passthrough.json") (broadcast), HAProxy $(ok_of "$LOGS/cancel-haproxy.json")."
table=("$LOGS/switchover-patroxy.json" "$LOGS/switchover-haproxy.json" "$LOGS/crash-patroxy.json"
  --header "$header" --footer "$footer"
  --cancel-title "cancel of SELECT pg_sleep(30) through a replica listener, TLS (sslmode=prefer)"
  --cancel "patroxy, tls: terminate=$LOGS/cancel-terminate.json"
  --cancel "patroxy, tls: passthrough (broadcast)=$LOGS/cancel-passthrough.json"
  --cancel "HAProxy 2.6 (TLS relayed)=$LOGS/cancel-haproxy.json")
echo
e2e_py table "${table[@]}" --out "$LOGS/comparison.md"
e2e_py table "${table[@]}" --out "$E2E_LOGS/comparison.md" --section e2e.tls >/dev/null
echo
say "rows added to $E2E_LOGS/comparison.md"
[ "$rc" -eq 0 ] || fail "see above (records: $LOGS)"
say "PASS"
