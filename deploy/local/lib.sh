# Shared by deploy/local/{up,status,down}: paths, port defaults, running PostgreSQL tools as the
# postgres user, bounded wait loops, and stopping only the processes whose PIDs this setup recorded.
# Sourced, not run: the caller has already done `set -euo pipefail`.
# shellcheck shell=bash disable=SC2034  # the variables are used by the scripts that source this

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$LOCAL_DIR/../.." && pwd)"

# --- settings (all overridable from the environment) -------------------------------------------
# Normalised (no "..", no trailing /) so that it matches the -D path pg_ctl hands to postgres.
WORK="$(realpath -m -- "${PATROXY_WORK:-$REPO_ROOT/.work/local}")"
BUILD_DIR="${PATROXY_BUILD_DIR:-$REPO_ROOT/build}"
PATROXY_BIN="$BUILD_DIR/proxy/patroxy"
PG_BIN="${PATROXY_PG_BIN:-/usr/lib/postgresql/15/bin}"
PRIMARY_PORT="${PATROXY_PRIMARY_PORT:-5000}"
REPLICA_PORT="${PATROXY_REPLICA_PORT:-5001}"
PG1_PORT="${PATROXY_PG1_PORT:-5441}"
PG2_PORT="${PATROXY_PG2_PORT:-5442}"

# --- layout of the work dir ---------------------------------------------------------------------
# The marker tells `down` and the next `up` that this directory is ours to delete: PATROXY_WORK
# may point anywhere, and a stray `rm -rf` of someone else's directory must be impossible.
MARKER="$WORK/.patroxy-local"
LOG_DIR="$WORK/log"
PG1_DATA="$WORK/pg1"
PG2_DATA="$WORK/pg2"
PG1_LOG="$LOG_DIR/pg1.log"
PG2_LOG="$LOG_DIR/pg2.log"
CONFIG="$WORK/patroxy.json"
PATROXY_PID_FILE="$WORK/patroxy.pid"
PATROXY_LOG="$LOG_DIR/patroxy.log"

# --- messages -------------------------------------------------------------------------------------
say() { printf '%s: %s\n' "$(basename "$0")" "$*"; }
die() { printf '%s: error: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

check_settings() {
  local p
  for p in "$PRIMARY_PORT" "$REPLICA_PORT" "$PG1_PORT" "$PG2_PORT"; do
    if ! [[ "$p" =~ ^[0-9]+$ ]] || [ "$p" -lt 1 ] || [ "$p" -gt 65535 ]; then die "not a TCP port: '$p'"; fi
  done
  [ "$(printf '%s\n' "$PRIMARY_PORT" "$REPLICA_PORT" "$PG1_PORT" "$PG2_PORT" | sort -u | wc -l)" -eq 4 ] ||
    die "the four ports must differ: primary $PRIMARY_PORT, replica $REPLICA_PORT, pg1 $PG1_PORT, pg2 $PG2_PORT"
  [ "$WORK" != "/" ] || die "PATROXY_WORK must not be /"
}

# --- PostgreSQL as the postgres user ----------------------------------------------------------------
# PostgreSQL refuses to run as root. As root we drop to the 'postgres' user that the Debian package
# creates; otherwise the current user owns the servers. `cd /` because pg_ctl and postgres complain
# when they cannot read the caller's working directory.
as_postgres() {
  if is_root; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

# Hands a directory to whoever runs the servers (a no-op when not root).
own_for_postgres() {
  if is_root; then chown postgres:postgres "$@"; fi
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
  runuser -u postgres -- test -x "$dir" -a -r "$dir" 2>/dev/null ||
    die "the postgres user cannot reach $WORK: a directory on that path is not traversable by other users (needs o+x; see: namei -l $WORK). Set PATROXY_WORK to a path it can reach, e.g. PATROXY_WORK=/var/tmp/patroxy-local"
}

# --- bounded probes and waits ----------------------------------------------------------------------
# Each probe below is itself bounded (timeout/connect_timeout), so a wait loop over it is bounded too.

# Whether something accepts TCP connections on 127.0.0.1:PORT.
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# psql over TCP to 127.0.0.1 with a bounded connect and run time; prints the unaligned result.
# -X: a user's ~/.psqlrc must not change the output we parse.
psql_at() { # PORT USER DBNAME SQL
  timeout 15 psql "host=127.0.0.1 port=$1 user=$2 dbname=$3 connect_timeout=3 application_name=deploy-local" \
    -X -A -t -q -v ON_ERROR_STOP=1 -c "$4"
}

pg_ready() { timeout 5 "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$1" -t 3; }

# wait_for DESCRIPTION SECONDS COMMAND...: retries COMMAND every 0.2 s until it succeeds; gives up
# after SECONDS*5 tries or SECONDS of wall time, whichever comes first. Returns 1 on giving up.
wait_for() {
  local what="$1" secs="$2"
  shift 2
  local tries=$((secs * 5)) i=0 deadline=$((SECONDS + secs))
  while [ "$i" -lt "$tries" ] && [ "$SECONDS" -le "$deadline" ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    i=$((i + 1))
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
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmd" == *"$want"* ]]
}

# The PID of patroxy started by `up`, or nothing (status 1).
patroxy_pid() {
  local pid
  [ -f "$PATROXY_PID_FILE" ] || return 1
  pid="$(head -n 1 "$PATROXY_PID_FILE")"
  pid_matches "$pid" "$CONFIG" || return 1
  printf '%s\n' "$pid"
}

# The postmaster PID of DATADIR (first line of its postmaster.pid), or nothing (status 1).
postmaster_pid() {
  local data="$1" pid
  [ -f "$data/postmaster.pid" ] || return 1
  pid="$(head -n 1 "$data/postmaster.pid")"
  pid_matches "$pid" "$data" || return 1
  printf '%s\n' "$pid"
}

# gone PID: true once the process has exited.
gone() { ! kill -0 "$1" 2>/dev/null; }

# SIGINT, not SIGTERM: SIGTERM makes patroxy drain live sessions for up to 30 s, pointless when
# the servers behind it stop next. SIGKILL if it has not exited after a bounded wait.
stop_patroxy() {
  local pid
  if ! pid="$(patroxy_pid)"; then
    rm -f "$PATROXY_PID_FILE"
    return 0
  fi
  say "stopping patroxy (pid $pid)"
  kill -INT "$pid" 2>/dev/null || true
  if ! wait_for "patroxy (pid $pid) to exit on SIGINT" 10 gone "$pid"; then
    say "sending SIGKILL to patroxy (pid $pid)"
    kill -KILL "$pid" 2>/dev/null || true
    wait_for "patroxy (pid $pid) to exit after SIGKILL" 5 gone "$pid" ||
      die "patroxy (pid $pid) is still running after SIGKILL"
  fi
  rm -f "$PATROXY_PID_FILE"
}

# Fast shutdown through pg_ctl (which itself waits at most -t seconds); if that does not finish,
# immediate shutdown (SIGQUIT), then SIGKILL of the postmaster, whose children exit on its death.
stop_pg() { # NAME DATADIR
  local name="$1" data="$2" pid
  if ! pid="$(postmaster_pid "$data")"; then
    return 0
  fi
  say "stopping PostgreSQL $name (pid $pid)"
  if as_postgres "$PG_BIN/pg_ctl" -D "$data" -m fast -t 30 -w stop >/dev/null 2>&1 &&
    wait_for "PostgreSQL $name (pid $pid) to exit" 5 gone "$pid"; then
    return 0
  fi
  kill -QUIT "$pid" 2>/dev/null || true
  wait_for "PostgreSQL $name (pid $pid) to exit after SIGQUIT" 10 gone "$pid" && return 0
  kill -KILL "$pid" 2>/dev/null || true
  wait_for "PostgreSQL $name (pid $pid) to exit after SIGKILL" 5 gone "$pid" && return 0
  die "PostgreSQL $name (pid $pid) is still running after SIGKILL"
}

# patroxy first, so no new client reaches a server that is going away; then the replica before
# its primary, so it does not spend the shutdown retrying the lost stream.
stop_all() {
  stop_patroxy
  stop_pg pg2 "$PG2_DATA"
  stop_pg pg1 "$PG1_DATA"
}

# Deletes the work dir, but only one that this setup made (it carries the marker) or an empty one.
remove_work_dir() {
  [ -e "$WORK" ] || return 0
  if [ ! -f "$MARKER" ] && [ -n "$(ls -A "$WORK" 2>/dev/null)" ]; then
    die "$WORK exists but was not made by deploy/local/up (no $(basename "$MARKER")); refusing to delete it"
  fi
  rm -rf -- "$WORK"
}
