#!/usr/bin/env bash
# deploy.syscall_filter: patroxy still runs under the unit's SystemCallFilter= and
# RestrictAddressFamilies= (deploy/systemd/patroxy.service). There is no systemd as PID 1 to start
# it under, so patroxy runs under strace instead, through the paths a service lives through:
# start, Patroni polling of a fake member (HTTP) and its libpq sql_check against a real
# PostgreSQL 15, a relayed session on a static and on a role listener, a refused server, the
# stats listener, SIGHUP, SIGTERM with a session still open. Every system call it made must be in
# the unit's filter (as `systemd-analyze syscall-filter` expands its groups) and every socket
# family in RestrictAddressFamilies=. Exit 77 (ctest: skipped, and said why) without strace or
# systemd-analyze.
# usage: syscall_filter_test.sh PATROXY_BINARY
source "$(dirname "$0")/lib.sh"
binary=${1:?usage: syscall_filter_test.sh PATROXY_BINARY}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

# strace and systemd-analyze are not in every Debian image (no systemd in most containers).
for tool in strace systemd-analyze; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIPPED: $tool is not installed; the unit's system call filter was not checked"
    exit 77
  fi
done
for tool in psql "$PGBIN/initdb" "$PGBIN/pg_ctl"; do
  command -v "$tool" >/dev/null || { fail "$tool is not installed (deploy/install-packages.sh)"; finish; }
done

work=$(mktemp -d /tmp/patroxy-syscalls.XXXXXX)
chmod 755 "$work"
pids=()
as_pg=()
if [ "$(id -u)" -eq 0 ]; then as_pg=(runuser -u postgres --); fi
cleanup() {
  kill "${pids[@]}" 2>/dev/null
  "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$work/pgdata" -m immediate stop >/dev/null 2>&1
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# A real PostgreSQL for the relay and the sql_check (trust auth, loopback only).
pg_port=$(free_port)
mkdir "$work/pgdata" "$work/sock"
[ "$(id -u)" -eq 0 ] && chown postgres "$work/pgdata" "$work/sock"
"${as_pg[@]}" "$PGBIN/initdb" -D "$work/pgdata" -A trust -U postgres >/dev/null 2>&1 || { fail "initdb"; finish; }
"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$work/pgdata" -w -l "$work/sock/pg.log" \
  -o "-p $pg_port -k $work/sock -c listen_addresses=127.0.0.1" start >/dev/null || { fail "pg_ctl start"; finish; }

# A fake Patroni REST API that calls that server the leader (GET /patroni and GET /cluster).
api_port=$(free_port)
/usr/bin/python3 - "$api_port" "$pg_port" <<'PY' &
import http.server, json, sys
api, pg = int(sys.argv[1]), int(sys.argv[2])
me = {"state": "running", "role": "master", "xlog": {"location": 100}, "timeline": 1,
      "patroni": {"version": "3.0.2", "scope": "t"}}
cluster = {"members": [{"name": "pg", "role": "leader", "state": "running", "host": "127.0.0.1",
           "port": pg, "api_url": "http://127.0.0.1:%d/patroni" % api, "timeline": 1}]}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(me if self.path.startswith("/patroni") else cluster).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", api), H).serve_forever()
PY
pids+=($!)

static_port=$(free_port); role_port=$(free_port); stats_port=$(free_port); dead_port=$(free_port)
cat > "$work/patroxy.json" <<JSON
{
  "cluster": { "scope": "t", "discover": true, "members": [
    { "name": "pg", "host": "127.0.0.1", "port": $pg_port, "api": "http://localhost:$api_port" },
    { "name": "direct", "host": "localhost", "port": $pg_port },
    { "name": "dead", "host": "127.0.0.1", "port": $dead_port } ] },
  "health": { "interval": "200ms", "fast_interval": "100ms", "timeout": "1s", "sql_check": { "user": "postgres" } },
  "listeners": [
    { "name": "static", "bind": "127.0.0.1:$static_port", "servers": ["dead", "direct"] },
    { "name": "primary", "bind": "127.0.0.1:$role_port", "role": "primary", "queue_timeout": "5s" } ],
  "stats": { "bind": "127.0.0.1:$stats_port", "auth": { "user": "admin", "password": "x" } },
  "workers": 2
}
JSON

strace -f -qq -o "$work/trace" "$binary" -f "$work/patroxy.json" > "$work/patroxy.log" 2>&1 &
tracer=$!
pids+=($tracer)
wait_port "$static_port" && wait_port "$role_port" || fail "patroxy did not bind its listeners"
px=""
for _ in $(seq 50); do px=$(pgrep -P "$tracer" | head -1); [ -n "$px" ] && break; sleep 0.1; done

conn() { psql "host=127.0.0.1 port=$1 user=postgres dbname=postgres connect_timeout=10 $2" -Atc "$3" 2>&1; }
check "a query through the static listener" bash -c "[ \"\$(psql 'host=127.0.0.1 port=$static_port user=postgres dbname=postgres sslmode=disable' -Atc 'select 1')\" = 1 ]"
check "a query through the role listener (after the sql_check)" bash -c "[ \"\$(psql 'host=127.0.0.1 port=$role_port user=postgres dbname=postgres sslmode=prefer' -Atc 'select 2')\" = 2 ]"
psql "host=127.0.0.1 port=$role_port user=postgres dbname=postgres" -Atc "select pg_sleep(1)" >/dev/null 2>&1 &
sleep 0.3
for path in / /stats.json /metrics /health; do
  curl -s -o /dev/null -u admin:x "http://127.0.0.1:$stats_port$path" || true
done
if [ -n "$px" ]; then
  kill -HUP "$px"
  sleep 0.5
  if kill -0 "$px" 2>/dev/null; then
    conn "$static_port" sslmode=disable "select 3" >/dev/null
    kill -TERM "$px"
  else
    echo "note: patroxy exited on SIGHUP (no reload in this build); the trace covers up to there"
  fi
fi
wait "$tracer"

# What the unit allows: its SystemCallFilter= lines, groups expanded as systemd itself lists them.
allow=$(sed -n 's/^SystemCallFilter=\([^~].*\)/\1/p' "$UNIT")
deny=$(sed -n 's/^SystemCallFilter=~//p' "$UNIT")
[ -n "$allow" ] || fail "the unit has no SystemCallFilter= allow list"
systemd-analyze syscall-filter > "$work/groups" 2>/dev/null
/usr/bin/python3 - "$work/groups" "$allow" "$deny" > "$work/allowed" <<'PY'
import sys
groups, current = {}, None
for line in open(sys.argv[1]):
    if line.startswith("@"):
        current = groups.setdefault(line.strip(), [])
    elif current is not None and line.startswith("    ") and not line.strip().startswith("#"):
        current.append(line.strip())
    elif not line.strip():
        current = None
def expand(words, seen=None):
    seen = set() if seen is None else seen
    out = set()
    for w in words:
        if w.startswith("@"):
            if w not in seen:
                seen.add(w)
                out |= expand(groups.get(w, []), seen)
        else:
            out.add(w)
    return out
for name in sorted(expand(sys.argv[2].split()) - expand(sys.argv[3].split())):
    print(name)
PY
awk '{ s = $2; if (s ~ /^</) next; sub(/\(.*/, "", s); if (s ~ /^[a-z_0-9]+$/) print s }' "$work/trace" |
  sort -u > "$work/used"
echo "patroxy made $(wc -l < "$work/used") distinct system calls; the unit allows $(wc -l < "$work/allowed")"
[ -s "$work/used" ] || fail "strace recorded no system call"
while read -r sc; do
  fail "system call $sc is not allowed by the unit's SystemCallFilter="
done < <(comm -23 "$work/used" "$work/allowed")

families=$(sed -n 's/^RestrictAddressFamilies=//p' "$UNIT")
while read -r fam; do
  check "socket family $fam is in RestrictAddressFamilies=" bash -c "[[ ' $families ' == *' $fam '* ]]"
done < <(grep -o 'socket(AF_[A-Z0-9]*' "$work/trace" | sed 's/socket(//' | sort -u)
finish
