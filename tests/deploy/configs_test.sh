#!/usr/bin/env bash
# deploy.production_config: the shipped configurations validate with the patroxy being tested
# (`patroxy -c -f`, which is also the systemd unit's ExecStartPre), and every key that
# config/examples/production.json sets is explained in config/examples/README.md.
# usage: configs_test.sh PATROXY_BINARY
source "$(dirname "$0")/lib.sh"
binary=${1:?usage: configs_test.sh PATROXY_BINARY}
PRODUCTION=${PRODUCTION:-$REPO/config/examples/production.json}
DOCKER_CONFIG=${DOCKER_CONFIG:-$REPO/deploy/docker/patroxy.json}
EXAMPLES_README=${EXAMPLES_README:-$REPO/config/examples/README.md}

for f in "$PRODUCTION" "$DOCKER_CONFIG"; do
  if out=$("$binary" -c -f "$f" 2>&1); then
    pass "patroxy -c -f $f"
  else
    echo "$out"
    fail "patroxy -c -f $f"
  fi
done

/usr/bin/python3 - "$PRODUCTION" "$EXAMPLES_README" <<'PY'
# exits with the number of failed checks
import json, sys
cfg = json.load(open(sys.argv[1]))
readme = open(sys.argv[2]).read()
bad = 0
def keys(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from keys(v)
    elif isinstance(node, list):
        for v in node:
            yield from keys(v)
for k in sorted(set(keys(cfg))):
    ok = ("`%s`" % k) in readme or ("`%s:" % k) in readme  # `key` or `key: value`
    print(("ok:   " if ok else "FAIL: ") + "config/examples/README.md explains `%s`" % k)
    bad += not ok
hosts = sorted(m["host"] for m in cfg["cluster"]["members"])
ok = hosts == ["10.0.1.10", "10.0.1.11", "10.0.1.12"]
print(("ok:   " if ok else "FAIL: ") + "production.json's members are the documentation hosts 10.0.1.10-12 (%s)" % hosts)
bad += not ok
sys.exit(min(bad, 100))
PY
failures=$((failures + $?))
finish
