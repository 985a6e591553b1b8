#!/usr/bin/env bash
# deploy.monitoring: deploy/monitoring/ against promtool and against a live patroxy.
#   - alerts.yml passes `promtool check rules`, and `promtool test rules` passes
#     tests/deploy/monitoring/alerts_test.yml, which has a firing and a silent case for every alert;
#   - prometheus.yml passes `promtool check config`;
#   - grafana-dashboard.json is JSON whose every panel query is valid PromQL (checked by promtool as
#     recording rules, Grafana's $variables replaced) and which has the panels the kit promises;
#   - every patroxy_* name in the rules, the dashboard and the scrape config is a series a real
#     patroxy serves: one is started on loopback against two fake Patroni members (a leader and a
#     replica 3 MiB behind), with a primary and a replica listener (max_lag) and stats auth by
#     password_hash, and scraped as Prometheus would (Basic auth) once its checks have run.
# MONITORING may point at another copy of deploy/monitoring (to see that a broken one fails).
# usage: monitoring_test.sh PATROXY_BINARY
source "$(dirname "$0")/lib.sh"
binary=${1:?usage: monitoring_test.sh PATROXY_BINARY}
MONITORING=${MONITORING:-$REPO/deploy/monitoring}
RULES=$MONITORING/alerts.yml
DASHBOARD=$MONITORING/grafana-dashboard.json
SCRAPE=$MONITORING/prometheus.yml
work=$(mktemp -d)
pids=()
cleanup() {
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null
  wait 2>/dev/null
  # the patroxy log, for tests.secrets_not_logged
  if [ -n "${PATROXY_TEST_EVIDENCE_DIR:-}" ] && [ -f "$work/patroxy.log" ]; then
    mkdir -p "$PATROXY_TEST_EVIDENCE_DIR/logs"
    cp "$work/patroxy.log" "$PATROXY_TEST_EVIDENCE_DIR/logs/deploy-monitoring-$$.log"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
command -v promtool >/dev/null || { echo "promtool is missing (Debian's prometheus package)"; exit 77; }

# --- the rules ---
check "promtool check rules alerts.yml" promtool check rules "$RULES"
# The unit tests name the rule file relative to themselves; a copy of the kit gets a copy of them.
cp "$REPO/tests/deploy/monitoring/alerts_test.yml" "$work/alerts_test.yml"
sed -i "s#^  - \.\./\.\./\.\./deploy/monitoring/alerts\.yml\$#  - $RULES#" "$work/alerts_test.yml"
check "promtool test rules alerts_test.yml" promtool test rules "$work/alerts_test.yml"
# Every alert has a case where it fires (exp_alerts) and one where it stays silent.
for alert in $(sed -n 's/^ *- alert: *//p' "$RULES"); do
  check "alert $alert is unit-tested firing and silent" /usr/bin/python3 - "$work/alerts_test.yml" "$alert" <<'PY'
import sys, yaml
tests = yaml.safe_load(open(sys.argv[1]))["tests"]
cases = [c for t in tests for c in t.get("alert_rule_test", []) if c["alertname"] == sys.argv[2]]
sys.exit(0 if any(c.get("exp_alerts") for c in cases) and any(not c.get("exp_alerts") for c in cases) else 1)
PY
done
for alert in PatroxyNoPrimaryRoutable PatroxyMemberDown PatroxyReplicaLagOverLimit PatroxySessionsKilled \
             PatroxyQueueGrowing PatroxyCancelsFailing PatroxyReloadFailed; do
  check "the rules page on $alert" grep -q "^ *- alert: $alert\$" "$RULES"
done
check "every alert says what happened and what to do (summary, description)" /usr/bin/python3 - "$RULES" <<'PY'
import sys, yaml
rules = [r for g in yaml.safe_load(open(sys.argv[1]))["groups"] for r in g["rules"]]
sys.exit(0 if rules and all(r.get("annotations", {}).get("summary") and len(r["annotations"].get("description", "")) > 80
                            and r.get("labels", {}).get("severity") in ("page", "warning") for r in rules) else 1)
PY

# --- the scrape config ---
check "promtool check config prometheus.yml" promtool check config "$SCRAPE"
check "prometheus.yml scrapes job patroxy on /metrics with basic_auth from a file" /usr/bin/python3 - "$SCRAPE" <<'PY'
import sys, yaml
jobs = [j for j in yaml.safe_load(open(sys.argv[1]))["scrape_configs"] if j["job_name"] == "patroxy"]
sys.exit(0 if jobs and jobs[0].get("metrics_path", "/metrics") == "/metrics"
         and "password_file" in jobs[0].get("basic_auth", {}) and "password" not in jobs[0]["basic_auth"] else 1)
PY

# --- the dashboard ---
# Each query as a recording rule, so that promtool parses it; Grafana's variables get values.
check "grafana-dashboard.json: every panel query is valid PromQL" bash -c "
  /usr/bin/python3 - '$DASHBOARD' > '$work/dashboard_rules.yml' <<'PY' && promtool check rules '$work/dashboard_rules.yml' >/dev/null
import json, sys
d = json.load(open(sys.argv[1]))
exprs = [t['expr'] for p in d['panels'] for t in p.get('targets', [])]
assert len(exprs) >= 10, 'too few queries'
print('groups:\n  - name: dashboard\n    rules:')
for i, e in enumerate(exprs):
    for var, value in (('\$__rate_interval', '1m'), ('\$__interval', '1m'), ('\$instance', '.*'), ('\$listener', '.*')):
        e = e.replace(var, value)
    assert '\$' not in e, 'unknown variable in ' + e
    print('      - record: dashboard:query_%d' % i)
    print('        expr: ' + json.dumps(e))
PY"
check "grafana-dashboard.json: panels for sessions, routable members and roles, queue, bytes, connect latency, kills, cancels, health checks, reloads" \
  /usr/bin/python3 - "$DASHBOARD" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
queries = " ".join(t["expr"] for p in d["panels"] for t in p.get("targets", []))
kinds = {p["type"] for p in d["panels"]}
need = ["patroxy_listener_sessions_current", "patroxy_listener_eligible_members", "patroxy_member_role",
        "patroxy_listener_queue_current", "patroxy_listener_bytes_in_total", "patroxy_listener_bytes_out_total",
        "patroxy_server_connect_seconds_bucket", "patroxy_sessions_killed_total", "patroxy_cancel_requests_total",
        "patroxy_server_check_failures_total", "patroxy_config_reloads_total", "patroxy_config_reload_failures_total"]
missing = [n for n in need if n not in queries]
print("missing:", missing) if missing else None
sys.exit(0 if not missing and "heatmap" in kinds and d.get("uid") and all(p.get("title") for p in d["panels"]) else 1)
PY

# --- a live patroxy ---
leader_api=$(free_port); replica_api=$(free_port)
primary_port=$(free_port); replica_port=$(free_port); stats_port=$(free_port)
/usr/bin/python3 "$REPO/tests/deploy/fake_patroni.py" "$leader_api" "$replica_api" &
pids+=($!)
# A password made here, kept by patroxy only as its hash, and given to the scraper as a file.
password="mon-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
hash=$(openssl passwd -6 "$password")
printf '%s\n' "$password" > "$work/scrape.password"
if [ -n "${PATROXY_TEST_EVIDENCE_DIR:-}" ]; then
  mkdir -p "$PATROXY_TEST_EVIDENCE_DIR"
  printf 'password\t%s\npassword_hash\t%s\n' "$password" "$hash" >> "$PATROXY_TEST_EVIDENCE_DIR/secrets.txt"
fi
cat > "$work/patroxy.json" <<JSON
{ "cluster": { "scope": "demo", "members": [
    { "name": "node1", "host": "127.0.0.1", "port": 1, "api": "http://127.0.0.1:$leader_api" },
    { "name": "node2", "host": "127.0.0.1", "port": 2, "api": "http://127.0.0.1:$replica_api" } ] },
  "health": { "interval": "200ms", "fast_interval": "100ms", "rise": 1, "fall": 1 },
  "listeners": [
    { "name": "primary", "bind": "127.0.0.1:$primary_port", "role": "primary", "max_connections": 100 },
    { "name": "replicas", "bind": "127.0.0.1:$replica_port", "role": "replica", "max_lag": "1MB" } ],
  "stats": { "bind": "127.0.0.1:$stats_port", "auth": { "user": "stats", "password_hash": "$hash" } },
  "workers": 1 }
JSON
"$binary" -f "$work/patroxy.json" > "$work/patroxy.log" 2>&1 &
pids+=($!)
scrape() { curl -sS --max-time 2 -u "stats:$(cat "$work/scrape.password")" "http://127.0.0.1:$stats_port/metrics"; }
# Ready when both members have been checked: the replica's lag is known.
for _ in $(seq 100); do
  scrape > "$work/metrics.txt" 2>/dev/null && grep -q '^patroxy_member_lag_bytes{member="node2"}' "$work/metrics.txt" && break
  sleep 0.1
done
check "the live patroxy reports the replica's lag (3 MiB)" \
  grep -qx 'patroxy_member_lag_bytes{member="node2"} 3145728' "$work/metrics.txt"
check "/metrics needs the password: none -> 401" \
  bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 http://127.0.0.1:$stats_port/metrics)\" = 401 ]"
check "/metrics needs the password: a wrong one -> 401" \
  bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -u stats:wrong http://127.0.0.1:$stats_port/metrics)\" = 401 ]"
check "the live /metrics passes promtool check metrics" bash -c "promtool check metrics < '$work/metrics.txt'"
# Series names, and family names (a histogram's, named in a description) from its TYPE lines.
{ sed -n 's/^\(patroxy_[a-zA-Z0-9_]*\).*/\1/p' "$work/metrics.txt"
  sed -n 's/^# TYPE \(patroxy_[a-zA-Z0-9_]*\) .*/\1/p' "$work/metrics.txt"; } | sort -u > "$work/served.txt"
used=$(grep -oh 'patroxy_[a-z0-9_]*[a-z0-9]' "$RULES" "$DASHBOARD" "$SCRAPE" | sort -u)
[ -n "$used" ] || fail "no patroxy_* name found in the kit"
for name in $used; do
  check "$name is served" grep -qx "$name" "$work/served.txt"
done
finish
