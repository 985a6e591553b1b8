#!/usr/bin/env bash
# tests.secrets_not_logged: no secret the suite used appears in any log it produced. Runs last
# (the cleanup of the patroxy_evidence fixture every tier requires). The secrets come from
# EVIDENCE/secrets.txt: the passwords of every config the patroxy fixture started (inline, from
# password_file, from password_env) and every cancel key a test read from a BackendKeyData. The logs:
# EVIDENCE/logs/ (each fixture patroxy's log, the deploy tests' patroxy logs) and ctest's own
# capture of every test's output in this run (Testing/Temporary/LastTest.log.tmp).
# usage: secrets_not_logged.sh EVIDENCE_DIR BUILD_DIR        (or --clear EVIDENCE_DIR: the fixture setup)
set -uo pipefail
if [ "${1:-}" = "--clear" ]; then
  rm -rf "${2:?}"/logs "${2:?}"/secrets.txt
  mkdir -p "$2/logs"
  exit 0
fi
evidence=${1:?usage: secrets_not_logged.sh EVIDENCE_DIR BUILD_DIR}
build=${2:?usage: secrets_not_logged.sh EVIDENCE_DIR BUILD_DIR}
# Shorter values would match unrelated text (a 4-digit cancel key in a port number).
min_length=6

logs=()
while IFS= read -r -d '' f; do logs+=("$f"); done < <(find "$evidence/logs" -type f -print0 2>/dev/null)
# ctest's capture of this run only (LastTest.log.tmp while it runs): an older LastTest.log may hold
# a failed test's output from before, which is not this run's to answer for.
# ctest's own lines in it name the tests, and a test's name may hold a word that is also a test
# password ("never the secret key"): they are blanked (line numbers kept) in the copy checked.
capture="$build/Testing/Temporary/LastTest.log.tmp"
if [ -f "$capture" ]; then
  sed -E 's/^([0-9]+\/[0-9]+ Test(ing)?: |Command: |Filters: |"[^"]*" (start time|end time|time elapsed)).*$//' \
    "$capture" >"$evidence/ctest-output.log"
  logs+=("$evidence/ctest-output.log")
fi
if [ ! -s "$evidence/secrets.txt" ]; then
  echo "no secrets recorded in $evidence/secrets.txt: the tests that use them did not run; nothing to check"
  exit 0
fi

checked=0 short=0 failures=0
declare -A seen=()
while IFS=$'\t' read -r kind value; do
  [ -n "$value" ] || continue
  if [ ${#value} -lt $min_length ]; then short=$((short + 1)); continue; fi
  [ -n "${seen[$value]:-}" ] && continue
  seen[$value]=1
  checked=$((checked + 1))
  # -F: the secret is text, not a pattern; -a: a log may hold binary bytes; -w: the secret as a
  # whole word, so that the password "secret" does not match the test named deploy.secrets.
  if hits=$(grep -H -n -a -F -w -e "$value" -- "${logs[@]}" 2>/dev/null | head -5) && [ -n "$hits" ]; then
    echo "FAIL: a $kind appears in a log:"
    echo "$hits" | cut -d: -f1,2 # where, not the line: this output lands in ctest's log too
    failures=$((failures + 1))
  fi
done < "$evidence/secrets.txt"

echo "$checked distinct secrets checked against ${#logs[@]} logs ($short shorter than $min_length characters left out)"
if [ "$failures" -ne 0 ]; then
  echo "$failures of them found in logs"
  exit 1
fi
echo "no secret in any log"
