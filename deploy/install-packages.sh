#!/usr/bin/env bash
# Installs every Debian 12 package patroxy's build and tests need. Idempotent: when all are
# present it does nothing; otherwise it runs apt-get update first, then installs what is missing.
set -euo pipefail

packages=(
  # build
  g++ cmake make pkg-config ccache
  libasio-dev libpq-dev nlohmann-json3-dev prometheus-cpp-dev catch2 zlib1g-dev libcrypt-dev
  # tests/fuzz: clang 14 and its runtime (libFuzzer, ASan, UBSan come in libclang-rt-14-dev)
  clang-14 libclang-rt-14-dev
  # TLS: OpenSSL through Asio's SSL support (terminating listeners, the server leg, HTTPS)
  libssl-dev
  # tests: real PostgreSQL servers, TLS certificates for them
  postgresql-15 postgresql-client-15 openssl
  # deploy/local: a real Patroni cluster on etcd (v3 API); python3-etcd is the first of Patroni's
  # alternative DCS dependencies, named so that no other one is chosen; curl for Patroni's REST API
  patroni python3-etcd etcd-server etcd-client curl
  # the comparison (e2e side-by-side figures, bench/): Debian's HAProxy with the classic config;
  # socat drives the runtime API socket (HAProxy's and patroxy's) as operators' scripts do
  haproxy socat
  # stats page: promtool checks /metrics, headless Chromium renders the page in the browser test,
  # which drives it over the DevTools protocol with python3-websocket
  prometheus chromium python3-websocket
  # deploy/docker: `docker-compose config` checks the compose file offline (no engine here);
  # deploy/systemd: systemd-analyze verifies the unit, strace checks its system-call filter
  docker-compose systemd strace
  # tests/drivers: real drivers besides libpq through a terminating listener. pgJDBC from Debian
  # (/usr/share/java/postgresql.jar), compiled against and run with Debian 12's JDK (javac at test
  # time); node-postgres comes from npm (tests/drivers/install-node-modules), run by Node.js below
  libpostgresql-jdbc-java openjdk-17-jdk-headless
  # style: .clang-format and .clang-tidy (tests/style/format-drift, tests/style/tidy)
  clang-format-14 clang-tidy-14
)
# Node.js and npm for node-postgres: Debian's only when none is on the PATH. A NodeSource nodejs
# bundles npm and conflicts with Debian's npm package, so the commands are asked for, not packages.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "installing: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

# Debian's etcd-server starts a system-wide etcd.service on :2379 where systemd runs. deploy/local
# starts its own etcd (data in its work dir) on that port, so the unit it did not ask for is stopped
# and disabled again, only when this run installed the package.
if [[ " ${missing[*]} " == *" etcd-server "* ]] && [ -d /run/systemd/system ]; then
  echo "disabling the etcd.service that etcd-server started (deploy/local runs its own etcd)"
  $sudo systemctl disable --now etcd.service || true
fi
# Likewise Debian's prometheus starts a server on :9090; only its promtool is wanted here.
if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
  echo "disabling the prometheus.service that prometheus started (only promtool is used)"
  $sudo systemctl disable --now prometheus.service || true
fi
