#!/usr/bin/env bash
# deploy.compose_config: deploy/docker/compose.yml is a valid compose file (`docker-compose config`,
# offline; there is no Docker engine on the test machines, so nothing is started) and still
# hangs together: patroxy is built from the Dockerfile, publishes 5000/5001/8404, mounts
# deploy/docker/patroxy.json where the image's ENTRYPOINT reads it, has time to drain on stop;
# every member of that config is a Patroni service of the file (REST on 8008); etcd's initial
# cluster and Patroni's ETCD3_HOSTS name the etcd services.
source "$(dirname "$0")/lib.sh"

if ! command -v docker-compose >/dev/null; then
  fail "docker-compose is not installed (deploy/install-packages.sh installs it)"
  finish
fi
check "docker-compose config -q accepts $COMPOSE" docker-compose -f "$COMPOSE" config -q

normalized=$(mktemp)
trap 'rm -f "$normalized"' EXIT
if ! docker-compose -f "$COMPOSE" config > "$normalized" 2>/dev/null; then
  fail "docker-compose config printed nothing to check"
  finish
fi

# The structural checks, on compose's own normalized output.
/usr/bin/python3 - "$normalized" "$(dirname "$COMPOSE")/patroxy.json" <<'PY'
# exits with the number of failed checks
import json, sys, yaml
from urllib.parse import urlparse

doc = yaml.safe_load(open(sys.argv[1]))
services = doc.get("services", {})
bad = []
def expect(ok, what):
    print(("ok:   " if ok else "FAIL: ") + what)
    if not ok:
        bad.append(what)

px = services.get("patroxy", {})
expect(px.get("build", {}).get("dockerfile") == "deploy/docker/Dockerfile", "patroxy is built from deploy/docker/Dockerfile")
published = {str(p).split(":")[-1].split("/")[0] for p in px.get("ports", [])}
expect({"5000", "5001", "8404"} <= published, "patroxy publishes 5000, 5001 and 8404 (has %s)" % sorted(published))
mounts = [str(v) for v in px.get("volumes", [])]
expect(any(m.endswith("deploy/docker/patroxy.json:/etc/patroxy/patroxy.json:ro") for m in mounts),
       "deploy/docker/patroxy.json is mounted read-only at /etc/patroxy/patroxy.json")
grace = str(px.get("stop_grace_period", "10s"))
seconds = int(grace[:-1]) * (60 if grace.endswith("m") else 1) if grace[:-1].isdigit() else 0
expect(seconds >= 31, "stop_grace_period (%s) covers the 30 s drain" % grace)

names = {n for n, s in services.items()} | {s.get("hostname") for s in services.values()}
cfg = json.load(open(sys.argv[2]))
members = cfg["cluster"]["members"]
expect(len(members) == 3, "patroxy.json names three members")
for m in members:
    api = urlparse(m.get("api", ""))
    svc = services.get(m["host"], {})
    expect(m["host"] in names and "spilo" in str(svc.get("image", "")),
           "member %s is the Patroni service %s of the compose file" % (m["name"], m["host"]))
    expect(api.hostname == m["host"] and api.port == 8008, "member %s's api is http://%s:8008" % (m["name"], m["host"]))
expect(cfg["cluster"].get("discover") is True, "patroxy.json discovers members")
expect("auth" in cfg.get("stats", {}), "patroxy.json protects the stats page with auth")

etcd = sorted(n for n, s in services.items() if "etcd" in str(s.get("image", "")))
expect(len(etcd) == 3, "three etcd services (%s)" % etcd)
for n in etcd:
    env = services[n].get("environment", {})
    initial = {part.split("=")[0] for part in str(env.get("ETCD_INITIAL_CLUSTER", "")).split(",")}
    expect(initial == set(etcd), "%s's ETCD_INITIAL_CLUSTER names the etcd services" % n)
for n, s in services.items():
    if "spilo" not in str(s.get("image", "")):
        continue
    hosts = {h.strip(" '\"").split(":")[0] for h in str(s.get("environment", {}).get("ETCD3_HOSTS", "")).split(",")}
    expect(hosts == set(etcd), "%s's ETCD3_HOSTS names the etcd services" % n)
sys.exit(min(len(bad), 100))
PY
failures=$((failures + $?))
finish
