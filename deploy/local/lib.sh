# Shared by the deploy/local/ scripts: settings, the layout of the work dir, running Patroni and
# PostgreSQL as the postgres user, talking to Patroni's REST API, bounded wait loops, and starting and
# stopping only the processes whose PIDs this setup recorded (or that a data dir of ours names in its
# postmaster.pid).
# Sourced, not run: the caller has already done `set -euo pipefail`.
# shellcheck shell=bash disable=SC2034  # the variables are used by the scripts that source this

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$LOCAL_DIR/../.." && pwd)"

# --- settings (all overridable from the environment) -------------------------------------------
# Normalised (no "..", no trailing /) so that it matches the -D path Patroni hands to postgres.
WORK="$(realpath -m -- "${PATROXY_WORK:-$REPO_ROOT/.work/local}")"
BUILD_DIR="${PATROXY_BUILD_DIR:-$REPO_ROOT/build}"
PATROXY_BIN="$BUILD_DIR/proxy/patroxy"
PG_BIN="${PATROXY_PG_BIN:-/usr/lib/postgresql/15/bin}"
PRIMARY_PORT="${PATROXY_PRIMARY_PORT:-5000}"
REPLICA_PORT="${PATROXY_REPLICA_PORT:-5001}"
STATS_PORT="${PATROXY_STATS_PORT:-8404}"         # patroxy's stats page, /stats.json, /metrics
ETCD_PORT="${PATROXY_ETCD_PORT:-2379}"           # etcd client URL (v3 API), what Patroni talks to
ETCD_PEER_PORT="${PATROXY_ETCD_PEER_PORT:-2380}" # etcd peer URL (a cluster of one, but etcd needs it)
# Patroni's timing (bootstrap.dcs; it only applies to a new cluster, which every `up` makes).
TTL="${PATRONI_TTL:-30}"
LOOP_WAIT="${PATRONI_LOOP_WAIT:-10}"
RETRY_TIMEOUT="${PATRONI_RETRY_TIMEOUT:-10}"
# How long `up` waits for one leader and two streaming replicas.
UP_TIMEOUT="${PATROXY_UP_TIMEOUT:-120}"
SCOPE=demo
# PATROXY_TLS=1: a throw-away CA in the work dir, ssl = on on the members, and patroxy terminating
# TLS on :5000/:5001 and verifying the members' certificates (server_tls: verify-full).
TLS="${PATROXY_TLS:-0}"

# The three Patroni members: name, PostgreSQL port, REST API port (index 0..2).
MEMBERS=(node1 node2 node3)
PG_PORTS=("${PATROXY_PG1_PORT:-5441}" "${PATROXY_PG2_PORT:-5442}" "${PATROXY_PG3_PORT:-5443}")
API_PORTS=("${PATROXY_API1_PORT:-8441}" "${PATROXY_API2_PORT:-8442}" "${PATROXY_API3_PORT:-8443}")

# Debian's own Patroni and Python: PATH may start with a pyenv shim whose python3 has no psycopg2,
# so Patroni is run by its absolute path, with /usr/bin first in PATH and nothing else inherited.
PATRONI=/usr/bin/patroni
PATRONICTL=/usr/bin/patronictl
PYTHON=/usr/bin/python3
ETCD=/usr/bin/etcd
CLEAN_PATH=/usr/bin:/bin:/usr/sbin:/sbin

# --- layout of the work dir ---------------------------------------------------------------------
# The marker tells `down` and the next `up` that this directory is ours to delete: PATROXY_WORK
# may point anywhere, and a stray `rm -rf` of someone else's directory must be impossible.
MARKER="$WORK/.patroxy-local"
LOG_DIR="$WORK/log"
ETCD_DATA="$WORK/etcd"
ETCD_PID_FILE="$WORK/etcd.pid"
ETCD_LOG="$LOG_DIR/etcd.log"
# PATROXY_CONFIG_FORMAT=haproxy: patroxy runs from the classic haproxy.cfg (deploy/local/haproxy-cfg)
# instead of its native JSON, as an operator moving off HAProxy would start.
CONFIG_FORMAT="${PATROXY_CONFIG_FORMAT:-json}"
if [ "$CONFIG_FORMAT" = haproxy ]; then CONFIG="$WORK/dropin-haproxy.cfg"; else CONFIG="$WORK/patroxy.json"; fi
TLS_DIR="$WORK/tls" # ca.crt, and a certificate for 127.0.0.1/localhost per user of it (PATROXY_TLS=1)
PATROXY_PID_FILE="$WORK/patroxy.pid"
PATROXY_LOG="$LOG_DIR/patroxy.log"

# Per member NAME: WORK/NAME/ holds patroni.yml, patroni.pid, pgpass and data/ (PGDATA); the logs are
# LOG_DIR/NAME.log (Patroni) and LOG_DIR/NAME-postgresql.log (PostgreSQL's logging collector).
member_dir() { printf '%s\n' "$WORK/$1"; }
member_config() { printf '%s\n' "$WORK/$1/patroni.yml"; }
member_data() { printf '%s\n' "$WORK/$1/data"; }
member_pid_file() { printf '%s\n' "$WORK/$1/patroni.pid"; }
member_log() { printf '%s\n' "$LOG_DIR/$1.log"; }

# --- messages -------------------------------------------------------------------------------------
say() { printf '%s: %s\n' "$(basename "$0")" "$*"; }
die() {
  printf '%s: error: %s\n' "$(basename "$0")" "$*" >&2
  exit 1
}
now() { date +%H:%M:%S.%3N; }
# "HH:MM:SS.mmm (epoch S.NNNNNN)": for humans and for measurements that must not trip over midnight.
now_both() { date '+%H:%M:%S.%3N (epoch %s.%6N)'; }

is_root() { [ "$(id -u)" -eq 0 ]; }

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

check_settings() {
  local p all=("$PRIMARY_PORT" "$REPLICA_PORT" "$STATS_PORT" "$ETCD_PORT" "$ETCD_PEER_PORT" "${PG_PORTS[@]}" "${API_PORTS[@]}")
  for p in "${all[@]}"; do
    if ! is_uint "$p" || [ "$p" -lt 1 ] || [ "$p" -gt 65535 ]; then die "not a TCP port: '$p'"; fi
  done
  [ "$(printf '%s\n' "${all[@]}" | sort -u | wc -l)" -eq "${#all[@]}" ] ||
    die "the ports must all differ: patroxy $PRIMARY_PORT $REPLICA_PORT (stats $STATS_PORT), etcd $ETCD_PORT $ETCD_PEER_PORT, PostgreSQL ${PG_PORTS[*]}, Patroni REST ${API_PORTS[*]}"
  for p in "$TTL" "$LOOP_WAIT" "$RETRY_TIMEOUT" "$UP_TIMEOUT"; do
    if ! is_uint "$p" || [ "$p" -eq 0 ]; then die "PATRONI_TTL, PATRONI_LOOP_WAIT, PATRONI_RETRY_TIMEOUT and PATROXY_UP_TIMEOUT take whole seconds > 0, got '$p'"; fi
  done
  [ "$WORK" != "/" ] || die "PATROXY_WORK must not be /"
  # The path goes verbatim into YAML, JSON and command lines: keep it to plain characters.
  [[ "$WORK" =~ ^[A-Za-z0-9/._+-]+$ ]] ||
    die "PATROXY_WORK may hold only letters, digits and / . _ + - (got '$WORK')"
}

# Ports of ours that lie in the kernel's ephemeral port range and are not reserved
# (net.ipv4.ip_local_reserved_ports), comma-separated; nothing when none. The kernel may give such a
# port to any outgoing connection as its local port, and while that connection lives a server cannot
# bind it. The defaults lie below the range.
unreserved_ephemeral_ports() {
  "$PYTHON" - "$PRIMARY_PORT" "$REPLICA_PORT" "$STATS_PORT" "$ETCD_PORT" "$ETCD_PEER_PORT" "${PG_PORTS[@]}" "${API_PORTS[@]}" <<'PY'
import sys
lo, hi = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
reserved = set()
for item in open("/proc/sys/net/ipv4/ip_local_reserved_ports").read().strip().split(","):
    if "-" in item:
        a, b = item.split("-")
        reserved.update(range(int(a), int(b) + 1))
    elif item:
        reserved.add(int(item))
print(",".join(p for p in sys.argv[1:] if lo <= int(p) <= hi and int(p) not in reserved))
PY
}

# NAME → its index in MEMBERS, or die.
member_index() {
  local i
  for i in "${!MEMBERS[@]}"; do
    if [ "${MEMBERS[$i]}" = "$1" ]; then
      printf '%s\n' "$i"
      return 0
    fi
  done
  die "no member '$1' (members: ${MEMBERS[*]})"
}

# --- Patroni and PostgreSQL as the postgres user ------------------------------------------------------
# PostgreSQL and Patroni refuse to run as root. As root we drop to the 'postgres' user that the Debian
# package creates; otherwise the current user owns them. setpriv execs (runuser and su fork and
# stay the parent, and on SIGTERM they SIGKILL their child 2 s later, which would cut Patroni's own
# shutdown short). `cd /` because pg_ctl and postgres complain when they cannot read the caller's
# working directory.
postgres_prefix=()
if is_root; then postgres_prefix=(setpriv --reuid=postgres --regid=postgres --init-groups --); fi
postgres_home() { if is_root; then getent passwd postgres | cut -d: -f6; else printf '%s\n' "${HOME:-/tmp}"; fi; }

as_postgres() { (cd / && "${postgres_prefix[@]}" "$@"); }

# Hands files or directories to whoever runs the servers (a no-op when not root).
own_for_postgres() {
  if is_root; then chown postgres:postgres "$@"; fi
}

# A CA and two certificates for 127.0.0.1 and localhost signed by it: members.crt (PostgreSQL,
# owned by postgres, which refuses a key others can read) and patroxy.crt. Throw-away: the CA key
# stays in the work dir, which `down` deletes.
make_demo_certificates() {
  mkdir -m 755 "$TLS_DIR"
  (
    cd "$TLS_DIR"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt \
      -days 30 -subj "/CN=patroxy local demo CA" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >san.ext
    for who in members patroxy; do
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$who.key" -out "$who.csr" \
        -subj "/CN=127.0.0.1" 2>/dev/null
      openssl x509 -req -in "$who.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -extfile san.ext \
        -out "$who.crt" 2>/dev/null
      chmod 600 "$who.key"
    done
  )
  own_for_postgres "$TLS_DIR/members.crt" "$TLS_DIR/members.key"
}

require_postgres_user() {
  is_root || return 0
  id postgres >/dev/null 2>&1 ||
    die "running as root but there is no 'postgres' user (deploy/install-packages.sh installs postgresql-15, which creates it)"
}

# As root, the servers run as postgres, so every directory above the work dir must let postgres
# through (o+x): /work/main does, a home directory with mode 700 does not. Checked on the deepest
# existing directory before anything is created (the ones `up` creates get mode 755).
require_postgres_can_reach_work() {
  is_root || return 0
  local dir="$WORK"
  while [ ! -d "$dir" ]; do dir="$(dirname "$dir")"; done
  as_postgres test -x "$dir" -a -r "$dir" 2>/dev/null ||
    die "the postgres user cannot reach $WORK: a directory on that path is not traversable by other users (needs o+x; see: namei -l $WORK). Set PATROXY_WORK to a path it can reach, e.g. PATROXY_WORK=/var/tmp/patroxy-local"
}

# patronictl with one of our configs (it only reads the etcd3 section), in Debian's Python.
patronictl() { (cd / && env -i PATH="$CLEAN_PATH" HOME="$(postgres_home)" LANG=C.UTF-8 "$PATRONICTL" -c "$(member_config "${MEMBERS[0]}")" "$@"); }

# --- bounded probes and waits ----------------------------------------------------------------------
# Each probe below is itself bounded (timeout/connect_timeout/--max-time), so a wait loop over it is
# bounded too.

# Whether something accepts TCP connections on 127.0.0.1:PORT.
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# psql over TCP to 127.0.0.1 with a bounded connect and run time; prints the unaligned result.
# -X: a user's ~/.psqlrc must not change the output we parse.
psql_at() { # PORT USER DBNAME SQL
  timeout 15 psql "host=127.0.0.1 port=$1 user=$2 dbname=$3 connect_timeout=3 application_name=deploy-local" \
    -X -A -t -q -v ON_ERROR_STOP=1 -c "$4"
}

# GET http://127.0.0.1:PORT/PATH of a Patroni REST API: the body, whatever the status (Patroni answers
# 503 with a JSON body on the health endpoints); status 1 when nothing answers.
api_get() { curl -s --max-time 2 "http://127.0.0.1:$1$2"; }

# Whether patroxy's stats listener answers HTTP on STATS_PORT (any status: 401 with auth counts).
stats_answers() { [ "$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://127.0.0.1:$STATS_PORT/stats.json")" != 000 ]; }

# json CODE [ARG...]: Debian's python3 runs CODE with `d` = the JSON document on stdin and the ARGs
# in sys.argv[1:].
json() {
  local code="$1"
  shift
  "$PYTHON" -c "import json, sys; d = json.load(sys.stdin); $code" "$@"
}

# The leader's name from GET /cluster of the first member that answers (the DCS view: after a kill
# -9 it still names the dead leader until the leader key expires after ttl); status 1 if none.
dcs_leader() {
  local port name
  for port in "${API_PORTS[@]}"; do
    if name="$(api_get "$port" /cluster |
      json 'print(next(m["name"] for m in d.get("members", []) if m.get("role") == "leader"))' 2>/dev/null)" &&
      [ -n "$name" ]; then
      printf '%s\n' "$name"
      return 0
    fi
  done
  return 1
}

# One line per member from its own GET /patroni: "NAME ROLE STATE STREAMING" where STREAMING is the
# space-free, comma-separated list of application names the member reports streaming from it
# ("-" if none); "NAME - down -" when the REST API does not answer.
member_states() {
  local i body
  for i in "${!MEMBERS[@]}"; do
    if body="$(api_get "${API_PORTS[$i]}" /patroni)" && [ -n "$body" ]; then
      printf '%s\n' "$body" | json '
s = [r.get("application_name", "?") for r in d.get("replication", []) if r.get("state") == "streaming"]
print(sys.argv[1], d.get("role", "-"), d.get("state", "-"), ",".join(s) or "-")' "${MEMBERS[$i]}" 2>/dev/null ||
        printf '%s - unreadable -\n' "${MEMBERS[$i]}"
    else
      printf '%s - down -\n' "${MEMBERS[$i]}"
    fi
  done
}

# True (and prints the leader's name) when exactly one member says it is the running primary
# ("master" in 3.0.2, "primary" in later Patroni), both others say they are running replicas, and the
# leader reports both of them streaming.
cluster_ready() {
  local states leaders name role state streaming others
  states="$(member_states)"
  leaders="$(awk '($2 == "master" || $2 == "primary") && $3 == "running" { print $1 }' <<<"$states")"
  [ "$(grep -c . <<<"$leaders")" -eq 1 ] || return 1
  while read -r name role state streaming; do
    [ "$name" != "$leaders" ] || continue
    [ "$role" = replica ] && [ "$state" = running ] || return 1
    others="$(awk -v n="$leaders" '$1 == n { print $4 }' <<<"$states")"
    [[ ",$others," == *",$name,"* ]] || return 1
  done <<<"$states"
  printf '%s\n' "$leaders"
}

# wait_for DESCRIPTION SECONDS COMMAND...: retries COMMAND every 0.2 s until it succeeds; gives up
# after SECONDS of wall time. Returns 1 on giving up.
wait_for() {
  local what="$1" secs="$2"
  shift 2
  local deadline=$((SECONDS + secs))
  while [ "$SECONDS" -le "$deadline" ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  say "gave up waiting for $what after ${secs}s"
  return 1
}

# --- processes we started ---------------------------------------------------------------------------
# A PID file can outlive its process and the PID can be reused by something else, so a PID counts
# as ours only while the process's command line still names the file we started it with.
pid_matches() { # PID SUBSTRING
  local pid="$1" want="$2" cmd
  is_uint "$pid" || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmd" == *"$want"* ]]
}

# pid_from_file FILE SUBSTRING: the PID on FILE's first line if that process still runs with
# SUBSTRING in its command line, or nothing (status 1).
pid_from_file() {
  local pid
  [ -f "$1" ] || return 1
  pid="$(head -n 1 "$1")"
  pid_matches "$pid" "$2" || return 1
  printf '%s\n' "$pid"
}

patroxy_pid() { pid_from_file "$PATROXY_PID_FILE" "$CONFIG"; }
etcd_pid() { pid_from_file "$ETCD_PID_FILE" "$ETCD_DATA"; }
patroni_pid() { pid_from_file "$(member_pid_file "$1")" "$(member_config "$1")"; } # NAME
# The postmaster PID of DATADIR (first line of its postmaster.pid), or nothing (status 1).
postmaster_pid() { pid_from_file "$1/postmaster.pid" "$1"; }

# gone PID...: true once all these processes have exited. A zombie has exited too: its parent may be
# slow to reap it (the servers here are reparented to whatever reaps orphans on this machine).
gone() {
  local pid stat
  for pid in "$@"; do
    kill -0 "$pid" 2>/dev/null || continue
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || continue
    stat="${stat##*) }"
    [ "${stat%% *}" = Z ] || return 1
  done
}

# start_background PID_FILE LOG COMMAND...: runs COMMAND in its own session (closing this terminal or
# Ctrl-C here does not reach it), appending its output to LOG, and records its PID. The subshell
# execs, so $! is the PID of COMMAND itself (setsid does not fork: a background job of a script is not
# a process group leader).
start_background() {
  local pid_file="$1" log="$2"
  shift 2
  (cd / && exec setsid "$@") </dev/null >>"$log" 2>&1 &
  echo "$!" >"$pid_file"
}

# stop_pid WHAT PID SIGNAL SECONDS: sends SIGNAL, waits up to SECONDS; SIGKILL if it is still there.
stop_pid() {
  local what="$1" pid="$2" sig="$3" secs="$4"
  kill -"$sig" "$pid" 2>/dev/null || true
  wait_for "$what (pid $pid) to exit on SIG$sig" "$secs" gone "$pid" && return 0
  say "sending SIGKILL to $what (pid $pid)"
  kill -KILL "$pid" 2>/dev/null || true
  wait_for "$what (pid $pid) to exit after SIGKILL" 5 gone "$pid" ||
    die "$what (pid $pid) is still running after SIGKILL"
}

# SIGINT, not SIGTERM: SIGTERM makes patroxy drain live sessions for up to 30 s, pointless when
# the servers behind it stop next.
stop_patroxy() {
  local pid
  if pid="$(patroxy_pid)"; then
    say "stopping patroxy (pid $pid)"
    stop_pid patroxy "$pid" INT 10
  fi
  rm -f "$PATROXY_PID_FILE"
}

stop_etcd() {
  local pid
  if pid="$(etcd_pid)"; then
    say "stopping etcd (pid $pid)"
    stop_pid etcd "$pid" TERM 15
  fi
  rm -f "$ETCD_PID_FILE"
}

# A postmaster whose Patroni is gone (killed, crashed): fast shutdown (SIGINT), then immediate
# (SIGQUIT), then SIGKILL of the postmaster, whose children exit on its death.
stop_postmaster() { # WHAT DATADIR
  local what="$1" data="$2" pid
  pid="$(postmaster_pid "$data")" || return 0
  say "stopping $what (pid $pid), left without its Patroni"
  kill -INT "$pid" 2>/dev/null || true
  wait_for "$what (pid $pid) to exit on SIGINT" 15 gone "$pid" && return 0
  stop_pid "$what" "$pid" QUIT 10
}

# stop_members NAME...: SIGTERM to each member's Patroni at once (Patroni stops its PostgreSQL and
# exits), a bounded wait, SIGKILL for a Patroni still there, then any postmaster left in the data dirs.
stop_members() {
  local name pid pids=() names=()
  for name in "$@"; do
    if pid="$(patroni_pid "$name")"; then
      say "stopping Patroni $name (pid $pid) and its PostgreSQL"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      names+=("$name")
    fi
  done
  if [ "${#pids[@]}" -gt 0 ] && ! wait_for "Patroni ${names[*]} to stop" 60 gone "${pids[@]}"; then
    for pid in "${pids[@]}"; do
      if ! gone "$pid"; then
        say "sending SIGKILL to Patroni pid $pid"
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done
    wait_for "Patroni ${names[*]} to exit after SIGKILL" 5 gone "${pids[@]}" ||
      die "Patroni (pids ${pids[*]}) still running after SIGKILL"
  fi
  for name in "$@"; do
    stop_postmaster "PostgreSQL $name" "$(member_data "$name")"
    rm -f "$(member_pid_file "$name")"
  done
}

# Any other postmaster running from a data dir in the work dir (one or two levels down: a crashed
# run of this or of an earlier layout of these scripts).
stop_stray_postmasters() {
  local f
  [ -d "$WORK" ] || return 0
  for f in "$WORK"/*/postmaster.pid "$WORK"/*/*/postmaster.pid; do
    [ -f "$f" ] || continue
    stop_postmaster "PostgreSQL in $(dirname "$f")" "$(dirname "$f")"
  done
}

# patroxy first, so no new client reaches a server that is going away; then the members (all at
# once); then whatever an earlier run left without a PID file (Patroni before PostgreSQL, which it
# would restart); etcd last, so that Patroni can still release its leader key while it stops.
stop_all() {
  stop_patroxy
  stop_members "${MEMBERS[@]}"
  stop_strays patroxy haproxy Patroni
  stop_stray_postmasters
  stop_strays PostgreSQL
  stop_etcd
  stop_strays etcd
}

# pids_running REGEX: the PIDs (not this shell's) whose command line, NULs read as spaces, matches
# the bash REGEX.
pids_running() {
  local f pid args
  for f in /proc/[0-9]*/cmdline; do
    pid="${f#/proc/}"
    pid="${pid%/cmdline}"
    [ "$pid" != "$$" ] || continue
    { mapfile -d '' args <"$f"; } 2>/dev/null || continue # builtins only: no fork per process
    if [[ "${args[*]}" =~ $1 ]]; then printf '%s\n' "$pid"; fi
  done
}

# What a run of this setup starts, by the command lines it gives them, all naming a path in the work
# dir: a crashed or interrupted run (PID files lost, the work dir deleted by hand) can leave them
# behind, and then `up` would find its ports taken. Matched on program and argument together, so an
# editor or `tail -f` on a file in the work dir is never taken for one of them.
stray_patterns() {
  local w
  w="$(printf '%s' "$WORK" | sed 's/[][\.*^$+?(){}|]/\\&/g')" # a regex matching the path literally
  printf '%s\n' \
    "patroxy ^[^ ]*patroxy -f $w/patroxy\.json( |$)" \
    "haproxy ^[^ ]*haproxy .*-f $w/[^ ]*\.cfg" \
    "Patroni ^[^ ]*python3 $PATRONI $w/[^ /]+/patroni\.yml( |$)" \
    "PostgreSQL ^[^ ]*/postgres -D $w/" \
    "etcd ^$ETCD .*--data-dir $w/etcd( |$)"
}

# stop_strays KIND...: stops those processes of the given kinds (patroxy haproxy Patroni PostgreSQL
# etcd), in that order, each with the signal its orderly stop takes.
stop_strays() {
  local what pattern pid kinds=" $* "
  while read -r what pattern; do
    [[ "$kinds" == *" $what "* ]] || continue
    for pid in $(pids_running "$pattern"); do
      say "stopping $what left by an earlier run (pid $pid): $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-100)"
      case "$what" in
        PostgreSQL | patroxy) stop_pid "$what" "$pid" INT 15 ;;
        *) stop_pid "$what" "$pid" TERM 30 ;;
      esac
    done
  done < <(stray_patterns)
}

# Our ports lie in the kernel's ephemeral range (32768-60999 by default), so any program's outgoing
# connection can hold one of them as its local port for a moment, and a server started then fails to
# bind. That passes: start_until_bound starts it again.
# start_until_bound WHAT LOG ARG ALIVE READY START...: runs START... (which starts a server in the
# background) unless `ALIVE ARG` says it runs already, waits (bounded) until `READY ARG` succeeds or
# `ALIVE ARG` fails; a server that died with "address already in use" at the end of its LOG is started
# again after 2 s, up to 10 times. Status 0 when it runs (ready or not: the caller says what it needs),
# 1 when it died otherwise.
start_until_bound() {
  local what="$1" log="$2" arg="$3" alive="$4" ready="$5" try
  shift 5
  # shellcheck disable=SC2317  # called by wait_for
  # Dead only when two looks 0.2 s apart agree: while a process execs (the shell, then env, then
  # the server) its command line can read empty for a moment, and a single look took that for a
  # death (etcd declared unhealthy 30 ms after its start, twice in CI).
  ready_or_dead() { "$ready" "$arg" || { ! "$alive" "$arg" >/dev/null && sleep 0.2 && ! "$alive" "$arg" >/dev/null; }; }
  for try in $(seq 1 10); do
    "$alive" "$arg" >/dev/null || "$@"
    # Until the new process has exec'd, its command line is still this shell's and "$alive" says
    # no, which ready_or_dead would take for an early death (seen once: etcd declared unhealthy
    # 20 ms after its start). A process that really dies at once costs these 5 s.
    wait_for "$what to run" 5 "$alive" "$arg" || true
    wait_for "$what to start" 30 ready_or_dead || true
    if "$alive" "$arg" >/dev/null; then return 0; fi
    tail -n 30 "$log" 2>/dev/null | grep -qi 'address already in use' || return 1
    say "try $try: $what could not bind a port (an outgoing connection's, for a moment?); again in 2 s"
    sleep 2
  done
  return 1
}

# launch_member NAME: starts NAME's Patroni as postgres in the background (its config must exist).
launch_member() {
  local name="$1"
  [ -f "$(member_config "$name")" ] || die "no $(member_config "$name"); run deploy/local/up first"
  # A postmaster left behind by a killed Patroni: Patroni would adopt it, but a clean start is clearer.
  stop_postmaster "PostgreSQL $name" "$(member_data "$name")"
  start_background "$(member_pid_file "$name")" "$(member_log "$name")" \
    "${postgres_prefix[@]}" env -i PATH="$CLEAN_PATH" HOME="$(postgres_home)" LANG=C.UTF-8 \
    "$PATRONI" "$(member_config "$name")"
}

member_api_answers() { [ -n "$(api_get "${API_PORTS[$(member_index "$1")]}" /patroni)" ]; } # NAME

# start_member NAME: starts NAME's Patroni unless it runs (again, if its REST API could not bind) and
# waits until its REST API answers.
start_member() {
  local name="$1" pid
  if ! start_until_bound "Patroni $name" "$(member_log "$name")" "$name" patroni_pid member_api_answers \
    launch_member "$name" || ! pid="$(patroni_pid "$name")"; then
    tail -n 20 "$(member_log "$name")" >&2
    die "Patroni $name exited (log: $(member_log "$name"))"
  fi
  say "Patroni $name runs (pid $pid, REST API 127.0.0.1:${API_PORTS[$(member_index "$name")]}, log $(member_log "$name"))"
}

# Deletes the work dir, but only one that this setup made (it carries the marker) or an empty one.
remove_work_dir() {
  [ -e "$WORK" ] || return 0
  if [ ! -f "$MARKER" ] && [ -n "$(ls -A "$WORK" 2>/dev/null)" ]; then
    die "$WORK exists but was not made by deploy/local/up (no $(basename "$MARKER")); refusing to delete it"
  fi
  rm -rf -- "$WORK"
}
