#!/usr/bin/env bash
# Benchmark: `stk auth login` end to end on the local stack, the human left out: the browser is
# curl, following SmashRun's (the sandbox's) consent redirect to the API's /auth/callback while
# `stk` polls for its key. Starts what it needs through scripts/demo.sh, then logs in N times
# (STK_BENCH_LOGINS, default 20), each into a fresh config folder, and prints the figures.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
cd "$ROOT"
runs="${STK_BENCH_LOGINS:-20}"
echo "bench: starting the demo's stack, sandbox and API"
scripts/demo.sh >/dev/null
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/${STK_DEMO_BUILD:-debug}"
export API_BASE_URL="http://127.0.0.1:${STK_API_PORT:-25433}"
export BROWSER="curl -sS -L --max-redirs 5 -o /dev/null"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
times=()
for ((i = 0; i < runs; i++)); do
  start="$(stk_now)"
  STK_CONFIG_DIR="$work/$i" "$BIN/stk" auth login </dev/null >"$work/out" 2>&1 \
    || { cat "$work/out" >&2; stk_die "login $i failed"; }
  times+=("$(awk -v a="$start" -v b="$(stk_now)" 'BEGIN { printf "%.1f", (b - a) * 1000 }')")
done
printf '%s\n' "${times[@]}" | sort -n | awk -v n="$runs" '
  { t[NR] = $1 }
  END {
    printf "bench: %d logins (open session, consent, callback with code exchange and userinfo, key pickup)\n", n
    printf "bench: min %.1f ms, median %.1f ms, p90 %.1f ms, max %.1f ms\n", t[1], t[int((n + 1) / 2)], t[int(n * 0.9 + 0.5)], t[n]
  }'
