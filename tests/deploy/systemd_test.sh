#!/usr/bin/env bash
# deploy.systemd_unit: deploy/systemd/patroxy.service is a unit systemd accepts and that runs
# patroxy the way the README says. No systemd runs as PID 1 on the test machines, so:
#   - the keys the design relies on are checked in the file (always);
#   - `systemd-analyze verify` on a copy whose /usr/local/bin/patroxy is the binary under test
#     (verify insists that the executables exist), and `systemd-analyze security --offline`
#     must rate the hardening "OK" (exposure <= 2.0), where systemd-analyze exists; where it does
#     not, that is said and the key checks still decide;
#   - the unit's own ExecStartPre/ExecReload check command is run on a valid config (exit 0)
#     and on a broken one (exit 2, so `systemctl reload` refuses a broken edit).
# usage: systemd_test.sh PATROXY_BINARY
source "$(dirname "$0")/lib.sh"
binary=${1:?usage: systemd_test.sh PATROXY_BINARY}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# key=value as written in [Service], with comments dropped; several lines for repeated keys.
value_of() { sed -n "s/^$1=//p" "$UNIT"; }
has_line() { grep -qxF -- "$1" "$UNIT"; }

check "Type=simple or exec" bash -c "[[ \$(sed -n 's/^Type=//p' '$UNIT') =~ ^(simple|exec)$ ]]"
check "ExecStart runs /usr/local/bin/patroxy -f /etc/patroxy/patroxy.json" \
  has_line "ExecStart=/usr/local/bin/patroxy -f /etc/patroxy/patroxy.json"
check "ExecStartPre validates the config" \
  has_line "ExecStartPre=/usr/local/bin/patroxy -c -f /etc/patroxy/patroxy.json"
check "ExecReload sends SIGHUP to the main process" has_line 'ExecReload=/bin/kill -HUP $MAINPID'
check "KillSignal=SIGTERM" has_line "KillSignal=SIGTERM"
stop=$(value_of TimeoutStopSec)
check "TimeoutStopSec ($stop) covers the 30 s drain" \
  bash -c "s='$stop'; s=\${s%s}; [[ \$s =~ ^[0-9]+$ ]] && [ \$s -gt 30 ]"
check "Restart=on-failure" has_line "Restart=on-failure"
check "User=patroxy" has_line "User=patroxy"
check "LimitNOFILE=65536" has_line "LimitNOFILE=65536"
check "no capability by default (AmbientCapabilities only commented)" \
  bash -c "! grep -q '^AmbientCapabilities=.' '$UNIT'"
for line in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
            "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"; do
  check "hardening: $line" has_line "$line"
done

# The unit's commands with the binary under test and a config of this repository.
sed "s|/usr/local/bin/patroxy|$binary|g" "$UNIT" > "$work/patroxy.service"
if command -v systemd-analyze >/dev/null; then
  if out=$(systemd-analyze verify "$work/patroxy.service" 2>&1) && [ -z "$out" ]; then
    pass "systemd-analyze verify"
  else
    echo "$out"
    fail "systemd-analyze verify"
  fi
  if out=$(systemd-analyze security --offline=true --threshold=20 "$work/patroxy.service" 2>&1); then
    pass "systemd-analyze security: $(echo "$out" | grep -o 'Overall exposure level.*' | sed 's/ *$//')"
  else
    echo "$out" | grep -E '^✗|Overall'
    fail "systemd-analyze security rates the hardening worse than 2.0"
  fi
else
  echo "note: systemd-analyze is not installed here: the unit was checked by its keys only"
fi

check_cmd=$(sed -n 's/^ExecStartPre=//p' "$work/patroxy.service" | sed "s|/etc/patroxy/patroxy.json|$REPO/config/examples/production.json|")
check "the unit's config check accepts config/examples/production.json" bash -c "$check_cmd >/dev/null"
echo '{ "cluster": { "members": [] }, "listeners": [ { "name": "x" } ] }' > "$work/broken.json"
broken_cmd=$(sed -n 's/^ExecStartPre=//p' "$work/patroxy.service" | sed "s|/etc/patroxy/patroxy.json|$work/broken.json|")
check "the unit's config check refuses a broken config with exit 2" \
  bash -c "$broken_cmd >/dev/null 2>&1; [ \$? -eq 2 ]"
check "ExecReload checks the config before the SIGHUP" \
  bash -c "grep '^ExecReload=' '$UNIT' | head -1 | grep -q -- '-c -f /etc/patroxy/patroxy.json'"
finish
