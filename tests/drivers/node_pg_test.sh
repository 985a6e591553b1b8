#!/usr/bin/env bash
# drivers.node_pg: node-postgres (npm pg, pinned by node/package-lock.json) through a terminating
# patroxy listener with direct TLS: node_pg_test.js against the cluster of lib.sh.
# Usage: node_pg_test.sh PATROXY_BINARY OUTPUT_DIR (node_modules in OUTPUT_DIR/node, see
# install-node-modules; tests/run installs them before ctest).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/drivers/lib.sh
source "$here/lib.sh"
binary=${1:?usage: node_pg_test.sh PATROXY_BINARY OUTPUT_DIR}
out=${2:?usage: node_pg_test.sh PATROXY_BINARY OUTPUT_DIR}

command -v node >/dev/null || die "no node: deploy/install-packages.sh installs nodejs"
rc=0
"$here/install-node-modules" "$out" || rc=$?
if [ "$rc" -eq 77 ]; then
  echo "SKIP drivers.node_pg: node-postgres is not installed in $out/node and the npm registry is unreachable"
  exit 77
fi
[ "$rc" -eq 0 ] || die "install-node-modules failed ($rc)"

drivers_setup "$binary"
NODE_PATH=$out/node/node_modules run_driver node "$here/node_pg_test.js"
drivers_passed
