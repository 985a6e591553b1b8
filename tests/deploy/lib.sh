# Shared by the deploy.* tests: where things are, and how a check reports. Each test script sources
# this, calls check/fail as it goes, and ends with finish (exit 1 if any check failed).
# DOCKERFILE, COMPOSE and UNIT may point elsewhere (to check that a broken copy fails).
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DOCKERFILE=${DOCKERFILE:-$REPO/deploy/docker/Dockerfile}
COMPOSE=${COMPOSE:-$REPO/deploy/docker/compose.yml}
UNIT=${UNIT:-$REPO/deploy/systemd/patroxy.service}
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }
# check "what" command...: runs the command, passes on exit 0.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
  fi
  echo "all checks passed"
}

# The words of the apt-get install in the given stage of the Dockerfile ("build" = the stage named
# build, "runtime" = the last one): package names only, flags and shell syntax dropped.
dockerfile_packages() {
  awk -v want="$1" '
    /^FROM / { stage = ($0 ~ / AS build/) ? "build" : "runtime"; next }
    stage != want { next }
    {
      start = 1
      if (!grab) {
        for (i = 1; i < NF; i++) if ($i == "apt-get" && $(i + 1) == "install") break
        if (i >= NF) next
        grab = 1
        start = i + 2
      }
      for (i = start; i <= NF; i++) {
        w = $i
        if (w == "&&" || w == ";") { grab = 0; exit }
        if (w ~ /^-/ || w == "\\") continue
        print w
      }
    }' "$DOCKERFILE"
}

# A free TCP port on loopback (bound and released; good enough for a test that binds it at once).
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
