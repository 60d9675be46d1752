#!/usr/bin/env bash
# test.sh: the one command that runs every DigitLab test on a fresh Debian machine with the .NET 10 SDK.
# Installs what the tests need (Debian's chromium for browser tests, redis-server for the cluster test, dataset-fashion-mnist), builds Release, runs all test
# projects, and ends with a plain line "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(npm)
# The cluster test starts its own Redis (loopback, no persistence) as the Orleans membership table.
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing Debian packages: ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "Missing Debian packages: ${need[*]} (run: sudo apt-get install ${need[*]})" >&2
  fi
fi

results="$PWD/.ci/results"
rm -rf "$results"; mkdir -p "$results"
dotnet build DigitLab.slnx -c Release -nologo -v q || { echo "0 passed, 1 failed"; exit 1; }
dotnet test DigitLab.slnx -c Release --no-build -nologo \
  --logger "trx" --results-directory "$results" "$@"
status=$?

passed=0; failed=0
for f in "$results"/*.trx; do
  [ -f "$f" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$f" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); f2=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  e=$(sed -n 's/.* error="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f2:-0} + ${e:-0}))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
