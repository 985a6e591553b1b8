#!/usr/bin/env bash
# deploy.secrets: the stats password from a file, from the environment and as a crypt(3) hash,
# through the real binary. `patroxy -c` names an unset variable, a missing file and a malformed
# hash (exit 2, the secret never shown) and passes when they are right; --print-config writes the
# key back, not the secret; a running patroxy asks for the file's password, takes a rotated file
# at SIGHUP, keeps the old password when the file is gone at a reload (and says so in /metrics:
# patroxy_config_last_reload_successful 0), and its log holds none of the passwords.
# usage: secrets_test.sh PATROXY_BINARY
source "$(dirname "$0")/lib.sh"
binary=${1:?usage: secrets_test.sh PATROXY_BINARY}
work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  wait 2>/dev/null
  if [ -n "${PATROXY_TEST_EVIDENCE_DIR:-}" ] && [ -f "$work/patroxy.log" ]; then
    mkdir -p "$PATROXY_TEST_EVIDENCE_DIR/logs"
    cp "$work/patroxy.log" "$PATROXY_TEST_EVIDENCE_DIR/logs/deploy-secrets-$$.log"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

secret() { echo "$1-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"; }
first=$(secret first); second=$(secret second); from_env=$(secret env)
hash=$(openssl passwd -6 "$(secret hashed)")
if [ -n "${PATROXY_TEST_EVIDENCE_DIR:-}" ]; then
  mkdir -p "$PATROXY_TEST_EVIDENCE_DIR"
  printf 'password_file\t%s\npassword_file\t%s\npassword_env\t%s\n' "$first" "$second" "$from_env" \
    >> "$PATROXY_TEST_EVIDENCE_DIR/secrets.txt"
fi
listen_port=$(free_port); stats_port=$(free_port)
# config AUTH_KEYS: a static listener (to a closed port) and stats with the given auth keys.
config() {
  cat <<JSON
{ "cluster": { "members": [ { "name": "a", "host": "127.0.0.1", "port": 1 } ] },
  "listeners": [ { "name": "l", "bind": "127.0.0.1:$listen_port", "servers": ["a"] } ],
  "stats": { "bind": "127.0.0.1:$stats_port", "auth": { "user": "admin", $1 } },
  "workers": 1 }
JSON
}
# checks_as EXPECTED_EXIT OUTPUT_FILE AUTH_KEYS [ENV...]: patroxy -c on that config.
checks_as() {
  local want=$1 out=$2 keys=$3
  shift 3
  config "$keys" > "$work/check.json"
  env "$@" "$binary" -c -f "$work/check.json" > "$out" 2>&1
  [ $? -eq "$want" ]
}

# refused MESSAGE AUTH_KEYS [ENV...]: -c exits 2, says MESSAGE, and shows no secret of this test.
refused() {
  local message=$1 keys=$2
  shift 2
  checks_as 2 "$work/out" "$keys" "$@" && grep -qF -- "$message" "$work/out" &&
    ! grep -qF -e "$first" -e "$second" -e "$from_env" "$work/out"
}

printf '%s\n' "$first" > "$work/stats.password"
check "-c: password_file readable -> valid" checks_as 0 "$work/out" "\"password_file\": \"$work/stats.password\""
check "-c: password_file missing -> exit 2 naming the file" \
  refused "cannot read password file '$work/nonexistent': No such file or directory" \
  "\"password_file\": \"$work/nonexistent\""
check "-c: password_env set -> valid" checks_as 0 "$work/out" '"password_env": "PATROXY_STATS_PW"' \
  PATROXY_STATS_PW="$from_env"
check "-c: password_env unset -> exit 2 naming the variable" \
  refused "environment variable PATROXY_STATS_PW_UNSET is not set" '"password_env": "PATROXY_STATS_PW_UNSET"' \
  -u PATROXY_STATS_PW_UNSET
check "-c: password_hash from openssl passwd -6 -> valid" checks_as 0 "$work/out" "\"password_hash\": \"$hash\""
check "-c: a password in password_hash -> exit 2, not echoed" \
  refused "expected a crypt(3) SHA-512 hash" "\"password_hash\": \"$from_env\""
config "\"password_file\": \"$work/stats.password\"" > "$work/patroxy.json"
check "--print-config writes password_file, not the password" bash -c "
  '$binary' --print-config -f '$work/patroxy.json' > '$work/printed.json' &&
  grep -qF '\"password_file\": \"$work/stats.password\"' '$work/printed.json' && ! grep -qF '$first' '$work/printed.json'"

# A running patroxy with the password in a file.
"$binary" -f "$work/patroxy.json" > "$work/patroxy.log" 2>&1 &
pid=$!
status_with() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 -u "admin:$1" "http://127.0.0.1:$stats_port/stats.json"; }
for _ in $(seq 100); do [ "$(status_with "$first")" = 200 ] && break; sleep 0.05; done
check "live: the file's password -> 200" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -u 'admin:$first' http://127.0.0.1:$stats_port/stats.json)\" = 200 ]"
check "live: another password -> 401" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -u 'admin:$second' http://127.0.0.1:$stats_port/stats.json)\" = 401 ]"
# Rotation: a new file content, then SIGHUP.
printf '%s\n' "$second" > "$work/stats.password"
kill -HUP "$pid"
for _ in $(seq 100); do [ "$(status_with "$second")" = 200 ] && break; sleep 0.05; done
check "live: after SIGHUP the rotated password -> 200" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -u 'admin:$second' http://127.0.0.1:$stats_port/stats.json)\" = 200 ]"
check "live: after SIGHUP the old password -> 401" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -u 'admin:$first' http://127.0.0.1:$stats_port/stats.json)\" = 401 ]"
# The file gone at a reload: refused, the running password stays, and /metrics says so.
rm "$work/stats.password"
kill -HUP "$pid"
for _ in $(seq 100); do grep -q 'refused, still running the previous config' "$work/patroxy.log" && break; sleep 0.05; done
check "live: reload without the file is refused, naming it" grep -q "cannot read password file '$work/stats.password'" "$work/patroxy.log"
curl -s --max-time 2 -u "admin:$second" "http://127.0.0.1:$stats_port/metrics" > "$work/metrics.txt"
check "live: the running password still works: /metrics answers" grep -q '^patroxy_config_reloads_total ' "$work/metrics.txt"
check "live: /metrics shows the refused reload" grep -qx 'patroxy_config_last_reload_successful 0' "$work/metrics.txt"
check "live: /metrics counts it" grep -qx 'patroxy_config_reload_failures_total 1' "$work/metrics.txt"
check "live: the log holds no password" bash -c "! grep -qF -e '$first' -e '$second' '$work/patroxy.log'"
finish
