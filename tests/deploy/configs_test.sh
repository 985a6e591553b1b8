#!/usr/bin/env bash
# deploy.production_config: the shipped configurations validate with the patroxy being tested
# (`patroxy -c -f`, which is also the systemd unit's ExecStartPre), and every key that
# config/examples/production.json and tls.json set is explained in config/examples/README.md;
# tls.json validates with its PEM files made here (patroxy -c loads every certificate it names);
# haproxy.cfg is deploy/local/haproxy-cfg's output and reads without a warning.
# usage: configs_test.sh PATROXY_BINARY
source "$(dirname "$0")/lib.sh"
binary=${1:?usage: configs_test.sh PATROXY_BINARY}
PRODUCTION=${PRODUCTION:-$REPO/config/examples/production.json}
DOCKER_CONFIG=${DOCKER_CONFIG:-$REPO/deploy/docker/patroxy.json}
EXAMPLES_README=${EXAMPLES_README:-$REPO/config/examples/README.md}
TLS_EXAMPLE=${TLS_EXAMPLE:-$REPO/config/examples/tls.json}

for f in "$PRODUCTION" "$DOCKER_CONFIG"; do
  if out=$("$binary" -c -f "$f" 2>&1); then
    pass "patroxy -c -f $f"
  else
    echo "$out"
    fail "patroxy -c -f $f"
  fi
done

# config/examples/haproxy.cfg is deploy/local/haproxy-cfg's output with deploy/local's default ports
# (the e2e suite runs patroxy and HAProxy from that script's output): patroxy reads it without a
# warning, and HAProxy itself accepts it where it is installed.
HAPROXY_EXAMPLE=${HAPROXY_EXAMPLE:-$REPO/config/examples/haproxy.cfg}
if out=$(env -i PATH="$PATH" "$REPO/deploy/local/haproxy-cfg" --socket /run/patroxy/admin.sock | diff -u "$HAPROXY_EXAMPLE" - 2>&1); then
  pass "config/examples/haproxy.cfg is deploy/local/haproxy-cfg --socket /run/patroxy/admin.sock"
else
  echo "$out"
  fail "config/examples/haproxy.cfg is deploy/local/haproxy-cfg --socket /run/patroxy/admin.sock"
fi
if out=$("$binary" -c -f "$HAPROXY_EXAMPLE" 2>&1) && ! grep -q warning <<<"$out"; then
  pass "patroxy -c -f config/examples/haproxy.cfg, no warning"
else
  echo "$out"
  fail "patroxy -c -f config/examples/haproxy.cfg, no warning"
fi
if command -v haproxy >/dev/null; then
  if out=$(haproxy -c -q -f "$HAPROXY_EXAMPLE" 2>&1); then
    pass "haproxy -c -f config/examples/haproxy.cfg"
  else
    echo "$out"
    fail "haproxy -c -f config/examples/haproxy.cfg"
  fi
fi

# tls.json names files under /etc/patroxy/tls: a throw-away CA and certificate stand in for them.
pem_dir=$(mktemp -d)
trap 'rm -rf "$pem_dir"' EXIT
(
  cd "$pem_dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days 1 \
    -subj "/CN=test CA" 2>/dev/null
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout patroxy.key -out patroxy.crt \
    -days 1 -subj "/CN=patroxy" 2>/dev/null
  for ca in postgres-ca patroni-ca; do cp ca.crt "$ca.crt"; done
)
sed "s|/etc/patroxy/tls/|$pem_dir/|g" "$TLS_EXAMPLE" >"$pem_dir/tls.json"
if out=$("$binary" -c -f "$pem_dir/tls.json" 2>&1); then
  pass "patroxy -c -f config/examples/tls.json (its PEM files made by the test)"
else
  echo "$out"
  fail "patroxy -c -f config/examples/tls.json"
fi
cp "$pem_dir/patroxy.crt" "$pem_dir/wrong.key"
sed "s|$pem_dir/patroxy.key|$pem_dir/wrong.key|" "$pem_dir/tls.json" >"$pem_dir/broken.json"
out=$("$binary" -c -f "$pem_dir/broken.json" 2>&1) && rc=0 || rc=$?
if [ "$rc" = 2 ] && grep -q "/listeners/0/tls: key '$pem_dir/wrong.key'" <<<"$out"; then
  pass "patroxy -c names the listener and the key file that does not load (exit 2)"
else
  echo "$out (exit $rc)"
  fail "patroxy -c names the listener and the key file that does not load (exit 2)"
fi

for example in "$PRODUCTION" "$TLS_EXAMPLE"; do
/usr/bin/python3 - "$example" "$EXAMPLES_README" <<'PY'
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
print(("ok:   " if ok else "FAIL: ") + "%s's members are the documentation hosts 10.0.1.10-12 (%s)" % (sys.argv[1].split('/')[-1], hosts))
bad += not ok
sys.exit(min(bad, 100))
PY
failures=$((failures + $?))
done
finish
