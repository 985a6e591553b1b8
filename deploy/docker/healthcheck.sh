#!/bin/bash
# Container health check: GET /health on patroxy's stats listener; exit 0 on HTTP 200, else 1.
# The runtime image has no curl: bash's /dev/tcp is enough for one HTTP/1.0 request.
#   PATROXY_HEALTH_ADDR     host:port of the stats listener (default 127.0.0.1:8404)
#   PATROXY_HEALTH_AUTH     user:password, sent as Basic auth when set
#   PATROXY_HEALTH_TIMEOUT  seconds to wait for the status line (default 2)
set -u
addr=${PATROXY_HEALTH_ADDR:-127.0.0.1:8404}
host=${addr%:*}
port=${addr##*:}
host=${host#[}
host=${host%]}
wait_s=${PATROXY_HEALTH_TIMEOUT:-2}

auth=""
if [ -n "${PATROXY_HEALTH_AUTH:-}" ]; then
  auth="Authorization: Basic $(printf '%s' "$PATROXY_HEALTH_AUTH" | base64 -w0)"$'\r\n'
fi

if ! { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
  echo "patroxy-healthcheck: cannot connect to $addr"
  exit 1
fi
printf 'GET /health HTTP/1.0\r\nHost: %s\r\n%sConnection: close\r\n\r\n' "$addr" "$auth" >&3
status_line=""
if ! IFS= read -r -t "$wait_s" status_line <&3; then
  echo "patroxy-healthcheck: no answer from $addr within ${wait_s}s"
  exit 1
fi
exec 3<&-
status_line=${status_line%$'\r'}
if [[ $status_line =~ ^HTTP/1\.[01]\ 200([[:space:]]|$) ]]; then
  exit 0
fi
echo "patroxy-healthcheck: GET /health on $addr answered: ${status_line:-nothing}"
exit 1
