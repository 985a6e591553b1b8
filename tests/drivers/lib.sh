# shellcheck shell=bash
# Sourced by the drivers tier's launchers (jdbc_test.sh, node_pg_test.sh): one PostgreSQL 15 with
# ssl = on under a throwaway CA made with the openssl CLI, a SCRAM user that may log in only over
# TLS, and patroxy in front with a terminating listener (client_tls require, server_tls
# verify-full) and a stats listener with auth for the kill. Everything on 127.0.0.1, every wait
# bounded, and the trap stops what this script started by its PID (nothing else), then removes
# the work dir (kept when PATROXY_TEST_KEEP is set).
#
# After drivers_setup PATROXY_BINARY, the driver program gets:
#   LISTENER_PORT   the terminating listener ("tls", member pg1)
#   STATS_PORT      the stats listener (user admin, password STATS_PASSWORD)
#   CA_CERT         the CA that signed the certificate of patroxy and of PostgreSQL (CN/SAN 127.0.0.1)
#   OTHER_CA_CERT   a CA that signed nothing here
#   DRIVER_USER, DRIVER_PASSWORD   the SCRAM role
set -euo pipefail

readonly PG_BIN=/usr/lib/postgresql/15/bin
WORK=""
PG_PID=""
PATROXY_PID=""
DRIVER_PID=""
DRIVERS_FAILED=1 # cleared by drivers_passed; the logs are printed otherwise

log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*"; }
die() { log "FAIL: $*"; exit 1; }

# Execs a command as the postgres OS user when root (PostgreSQL refuses root), as is otherwise,
# with `signal` sent to it when this shell dies first. It replaces the shell it runs in: call it
# as `as_server SIG cmd... &` (then $! is the command's own PID) or in a ( subshell ).
as_server() {
  local signal=$1; shift
  if [ "$(id -u)" -eq 0 ]; then
    exec setpriv --pdeathsig "$signal" --reuid=postgres --regid=postgres --init-groups -- "$@"
  fi
  exec setpriv --pdeathsig "$signal" -- "$@"
}

# Waits (bounded) for a PID to exit; true when it did.
wait_exit() {
  local pid=$1 tenths=$2 i
  for ((i = 0; i < tenths; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  ! kill -0 "$pid" 2>/dev/null
}

stop_pid() {
  local pid=$1 first=$2 grace_tenths=$3
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "-$first" "$pid" 2>/dev/null || true
  wait_exit "$pid" "$grace_tenths" && return 0
  kill -KILL "$pid" 2>/dev/null || true
  wait_exit "$pid" 50 || true
}

drivers_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$DRIVERS_FAILED" -ne 0 ] && [ -n "$WORK" ]; then
    for f in "$WORK/patroxy.log" "$WORK/postgres.log"; do
      [ -s "$f" ] && { echo "----- $f (last 60 lines)"; tail -n 60 "$f"; }
    done
  fi
  stop_pid "$DRIVER_PID" TERM 20
  stop_pid "$PATROXY_PID" TERM 50
  stop_pid "$PG_PID" INT 150 # fast shutdown
  if [ -n "$WORK" ]; then
    if [ -n "${PATROXY_TEST_KEEP:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  fi
  exit "$rc"
}

drivers_passed() { DRIVERS_FAILED=0; }

# Runs the driver program (at most 60 s) as a child this shell waits for, so a SIGTERM from ctest
# reaches the trap at once and the cleanup stops the program too.
run_driver() {
  timeout 60 "$@" &
  DRIVER_PID=$!
  wait "$DRIVER_PID"
}

# n distinct TCP ports that were free on 127.0.0.1 a moment ago (all bound at once, then released).
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# True when something listens on 127.0.0.1:port (read from /proc/net/tcp: no probe connection,
# so patroxy sees no phantom session).
listening() {
  local hex
  hex=$(printf '0100007F:%04X 00000000:0000 0A' "$1")
  grep -q "$hex" /proc/net/tcp
}

wait_listening() {
  local port=$1 pid=$2 what=$3 i
  for ((i = 0; i < 100; i++)); do
    listening "$port" && return 0
    kill -0 "$pid" 2>/dev/null || die "$what exited before listening on $port"
    sleep 0.1
  done
  die "$what does not listen on $port after 10 s"
}

# A CA, and one certificate of it for 127.0.0.1 (SANs IP:127.0.0.1, DNS:localhost) that both
# PostgreSQL and patroxy present; P-256 keys, valid from now for 2 days.
make_pki() {
  local d=$WORK/pki
  mkdir -p "$d"
  (
    cd "$d"
    for ca in ca other-ca; do
      openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout "$ca.key" \
        -out "$ca.crt" -days 2 -subj "/CN=patroxy drivers test $ca" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    done
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout server.key \
      -out server.csr -subj "/CN=127.0.0.1"
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile server.ext -out server.crt
    chmod 600 ./*.key
  ) >"$WORK/openssl.log" 2>&1 || { cat "$WORK/openssl.log"; die "openssl could not make the test PKI"; }
  CA_CERT=$d/ca.crt
  OTHER_CA_CERT=$d/other-ca.crt
}

start_postgres() {
  local data=$WORK/pg/data i
  mkdir -p "$WORK/pg"
  [ "$(id -u)" -ne 0 ] || chown postgres: "$WORK/pg"
  (as_server KILL "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync \
    --no-instructions) >"$WORK/initdb.log" 2>&1 || { cat "$WORK/initdb.log"; die "initdb failed"; }
  cp "$WORK/pki/server.crt" "$WORK/pki/server.key" "$data/"
  chmod 600 "$data/server.key"
  [ "$(id -u)" -ne 0 ] || chown postgres: "$data/server.crt" "$data/server.key"
  cat >>"$data/postgresql.conf" <<EOF
# patroxy drivers tier
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$WORK/pg'
max_connections = 50
shared_buffers = 16MB
fsync = off
synchronous_commit = off
full_page_writes = off
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
EOF
  # Over TCP only TLS and SCRAM: a session that reached PostgreSQL did so through patroxy's
  # verify-full leg. The setup below uses the Unix socket.
  printf '%s\n' "local all all trust" "hostssl all all 127.0.0.1/32 scram-sha-256" >"$data/pg_hba.conf"

  as_server QUIT "$PG_BIN/postgres" -D "$data" >"$WORK/postgres.log" 2>&1 &
  PG_PID=$!
  for ((i = 0; i < 300; i++)); do
    "$PG_BIN/pg_isready" -q -h "$WORK/pg" -p "$PG_PORT" -U postgres -d postgres -t 1 && break
    kill -0 "$PG_PID" 2>/dev/null || die "postgres exited during startup"
    sleep 0.1
  done
  "$PG_BIN/pg_isready" -q -h "$WORK/pg" -p "$PG_PORT" -U postgres -d postgres -t 1 || die "postgres not ready after 30 s"
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$WORK/pg" -p "$PG_PORT" -U postgres -d postgres \
    -c "CREATE ROLE $DRIVER_USER LOGIN PASSWORD '$DRIVER_PASSWORD'" >/dev/null
}

start_patroxy() {
  local binary=$1
  cat >"$WORK/patroxy.json" <<EOF
{
  "cluster": { "members": [ { "name": "pg1", "host": "127.0.0.1", "port": $PG_PORT } ] },
  "listeners": [
    { "name": "tls", "bind": "127.0.0.1:$LISTENER_PORT", "servers": ["pg1"], "max_connections": 50,
      "tls": "terminate", "client_tls": "require", "server_tls": "verify-full" }
  ],
  "tls": { "cert": "$WORK/pki/server.crt", "key": "$WORK/pki/server.key", "server_ca": "$CA_CERT" },
  "stats": { "bind": "127.0.0.1:$STATS_PORT", "auth": { "user": "admin", "password": "$STATS_PASSWORD" } },
  "timeouts": { "connect": "2s", "startup": "5s", "client_idle": "30m", "server_idle": "30m" },
  "workers": 1
}
EOF
  setpriv --pdeathsig TERM -- "$binary" -f "$WORK/patroxy.json" >"$WORK/patroxy.log" 2>&1 &
  PATROXY_PID=$!
  wait_listening "$LISTENER_PORT" "$PATROXY_PID" patroxy
  wait_listening "$STATS_PORT" "$PATROXY_PID" "patroxy (stats)"
}

# The whole cluster; exports what the driver program needs.
drivers_setup() {
  local binary=$1
  [ -x "$binary" ] || die "no patroxy binary at $binary"
  [ -x "$PG_BIN/postgres" ] || die "no PostgreSQL 15 at $PG_BIN (deploy/install-packages.sh installs postgresql-15)"
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/patroxy-drivers-XXXXXX")
  chmod 755 "$WORK" # the postgres user reaches its data dir and socket below it
  trap drivers_cleanup EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT
  read -r PG_PORT LISTENER_PORT STATS_PORT < <(free_ports 3)
  DRIVER_USER=driver
  DRIVER_PASSWORD="pw-$RANDOM$RANDOM"
  STATS_PASSWORD="stats-$RANDOM$RANDOM"
  make_pki
  start_postgres
  start_patroxy "$binary"
  export LISTENER_PORT STATS_PORT STATS_PASSWORD CA_CERT OTHER_CA_CERT DRIVER_USER DRIVER_PASSWORD
  log "PostgreSQL 15 on :$PG_PORT (ssl on, hostssl scram only), patroxy tls terminate on :$LISTENER_PORT, stats on :$STATS_PORT"
}
