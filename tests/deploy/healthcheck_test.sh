#!/usr/bin/env bash
# deploy.healthcheck: deploy/docker/healthcheck.sh, the image's HEALTHCHECK, against small HTTP
# servers on loopback: healthy only on "200" to GET /health; unhealthy on 503, on a refused
# connection and on a server that accepts but never answers (within its timeout); Basic auth
# sent when PATROXY_HEALTH_AUTH is set. Then against the patroxy under test: healthy once it runs
# with a stats listener (whose auth does not cover /health), unhealthy once it has stopped.
# usage: healthcheck_test.sh PATROXY_BINARY
source "$(dirname "$0")/lib.sh"
binary=${1:?usage: healthcheck_test.sh PATROXY_BINARY}
HEALTHCHECK=${HEALTHCHECK:-$REPO/deploy/docker/healthcheck.sh}
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT

# serve PORT MODE: answers GET /health with MODE (an HTTP status), or "silent": accept, say nothing.
serve() {
  /usr/bin/python3 - "$1" "$2" <<'PY' &
import base64, socket, sys, time
port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(8)
while True:
    c, _ = s.accept()
    if mode == "silent":
        time.sleep(30)
        continue
    req = b""
    while b"\r\n\r\n" not in req:
        chunk = c.recv(4096)
        if not chunk:
            break
        req += chunk
    head = req.decode(errors="replace").split("\r\n")
    status = mode
    if not head[0].startswith("GET /health HTTP/1."):
        status = "404"
    if mode == "auth":
        want = "Authorization: Basic " + base64.b64encode(b"admin:s3cret").decode()
        status = "200" if want in head else "401"
    c.sendall(("HTTP/1.0 %s X\r\nContent-Length: 0\r\n\r\n" % status).encode())
    c.close()
PY
  pids+=($!)
}

ok_port=$(free_port); serve "$ok_port" 200
down_port=$(free_port); serve "$down_port" 503
silent_port=$(free_port); serve "$silent_port" silent
auth_port=$(free_port); serve "$auth_port" auth
closed_port=$(free_port)
# wait until the servers listen
for p in "$ok_port" "$down_port" "$silent_port" "$auth_port"; do
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.1; done
done

probe() { PATROXY_HEALTH_ADDR=127.0.0.1:$1 PATROXY_HEALTH_TIMEOUT=1 bash "$HEALTHCHECK"; }
check "200 -> healthy" probe "$ok_port"
check "503 -> unhealthy" bash -c "! PATROXY_HEALTH_ADDR=127.0.0.1:$down_port bash '$HEALTHCHECK'"
check "refused -> unhealthy" bash -c "! PATROXY_HEALTH_ADDR=127.0.0.1:$closed_port bash '$HEALTHCHECK'"
start=$(date +%s)
check "no answer -> unhealthy" bash -c "! PATROXY_HEALTH_ADDR=127.0.0.1:$silent_port PATROXY_HEALTH_TIMEOUT=1 bash '$HEALTHCHECK'"
check "no answer -> gives up after its timeout" bash -c "[ \$(( \$(date +%s) - $start )) -le 3 ]"
check "auth required, none sent -> unhealthy" bash -c "! PATROXY_HEALTH_ADDR=127.0.0.1:$auth_port bash '$HEALTHCHECK'"
check "auth required, PATROXY_HEALTH_AUTH sent -> healthy" \
  env PATROXY_HEALTH_ADDR=127.0.0.1:$auth_port PATROXY_HEALTH_AUTH=admin:s3cret bash "$HEALTHCHECK"
check "default address is the stats listener 127.0.0.1:8404" \
  grep -q 'addr=${PATROXY_HEALTH_ADDR:-127.0.0.1:8404}' "$HEALTHCHECK"

# The real thing: a static listener (to a closed port: /health is about patroxy, not the
# servers) and a stats listener with auth, as in deploy/docker/patroxy.json.
work=$(mktemp -d)
listen_port=$(free_port)
stats_port=$(free_port)
cat > "$work/patroxy.json" <<JSON
{ "cluster": { "members": [ { "name": "a", "host": "127.0.0.1", "port": $closed_port } ] },
  "listeners": [ { "name": "l", "bind": "127.0.0.1:$listen_port", "servers": ["a"] } ],
  "stats": { "bind": "127.0.0.1:$stats_port", "auth": { "user": "admin", "password": "x" } },
  "workers": 1 }
JSON
"$binary" -f "$work/patroxy.json" > "$work/patroxy.log" 2>&1 &
px=$!
pids+=($px)
healthy=1
for _ in $(seq 50); do
  PATROXY_HEALTH_ADDR=127.0.0.1:$stats_port bash "$HEALTHCHECK" >/dev/null 2>&1 && { healthy=0; break; }
  sleep 0.1
done
check "patroxy with a stats listener -> healthy within 5 s" test $healthy -eq 0
kill -TERM "$px"
wait "$px" 2>/dev/null
check "patroxy stopped -> unhealthy" bash -c "! PATROXY_HEALTH_ADDR=127.0.0.1:$stats_port bash '$HEALTHCHECK'"
rm -rf "$work"
finish
