#!/usr/bin/env bash
# The whole pipeline on the local stack: stack up, a seeded streaker in the SmashRun sandbox,
# `stk auth login` through the real flow, `stk sync --wait`, the streak, then what the database
# holds next to what the sandbox reports.
# Re-runnable: a second run reuses the running sandbox, the login and the synced runs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
cd "$ROOT"

STATE="$ROOT/.stack"
LOGS="$STATE/logs"
SANDBOX_PORT="${STK_SANDBOX_PORT:-25432}"
API_PORT="${STK_API_PORT:-25433}"
PROFILE="${STK_DEMO_PROFILE:-streaker}"
PROFILE_FILE="$ROOT/.stack/sandbox.profile"
# Each profile is its own SmashRun runner, so their runs never mix in one user.
case "$PROFILE" in
  streaker) RUNNER_ID=101 ;;
  lifetime) RUNNER_ID=102 ;;
  small) RUNNER_ID=103 ;;
  *) echo "demo: unknown STK_DEMO_PROFILE '$PROFILE' (streaker, lifetime or small)" >&2; exit 2 ;;
esac
PROFILE_BUILD="${STK_DEMO_BUILD:-debug}"
# The CLI's config for the demo lives with the stack, never in the runner's ~/.config/stk.
export STK_CONFIG_DIR="$STATE/stk-config"
export API_BASE_URL="http://127.0.0.1:$API_PORT"
export STK_SANDBOX_URL="http://127.0.0.1:$SANDBOX_PORT"
export STK_API_ADDR="127.0.0.1:$API_PORT"

T_START="$(stk_now)"
scripts/stack.sh up
eval "$(scripts/stack.sh env)"

echo "demo: building the binaries"
if [[ "$PROFILE_BUILD" == release ]]; then
  cargo build --quiet --release --bins -p stk -p stk-local -p smashrun-sandbox
else
  cargo build --quiet --bins -p stk -p stk-local -p smashrun-sandbox
fi
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE_BUILD"

wait_http() { # url what log
  local i
  for ((i = 0; i < 150; i++)); do
    [[ "$(stk_http_code "$1")" == 200 ]] && return 0
    sleep 0.1
  done
  stk_log_tail "$3"
  stk_die "$2 did not come up: see $3"
}

if stk_pid_alive "$STATE/sandbox.pid" smashrun-sandbox && [[ "$(cat "$PROFILE_FILE" 2>/dev/null)" == "$PROFILE" ]]; then
  echo "demo: sandbox already running on $STK_SANDBOX_URL (its data is kept)"
else
  stk_stop_pid "$STATE/sandbox.pid" smashrun-sandbox
  # A new sandbox has issued no tokens yet: the runner must log in to it again.
  SANDBOX_NEW=1
  stk_spawn "$STATE/sandbox.pid" "$LOGS/sandbox.log" \
    "$BIN/smashrun-sandbox" --addr "127.0.0.1:$SANDBOX_PORT" --profile "$PROFILE" --seed 42 --user-id "$RUNNER_ID"
  echo "$PROFILE" >"$PROFILE_FILE"
  wait_http "$STK_SANDBOX_URL/admin/summary" "the SmashRun sandbox" "$LOGS/sandbox.log"
  echo "demo: sandbox up on $STK_SANDBOX_URL ($PROFILE profile)"
fi

# The backend is restarted each time so it runs the code just built.
stk_stop_pid "$STATE/api.pid" stk-local
stk_spawn "$STATE/api.pid" "$LOGS/api.log" "$BIN/stk-local" serve
wait_http "$API_BASE_URL/health" "the API" "$LOGS/api.log"
echo "demo: API and worker up on $API_BASE_URL"

# The runner logs in as a person would: `stk auth login --no-browser` prints SmashRun's consent
# address, and a headless "browser" (curl) opens it and follows the sandbox's redirects back to
# the API's /auth/callback. `stk` meanwhile polls for its key.
status_json="$("$BIN/stk" auth status --json 2>/dev/null || true)"
if [[ -z "${SANDBOX_NEW:-}" && -n "$status_json" && "$status_json" != *'"needs_relink": true'* ]]; then
  echo "demo: already logged in ($STK_CONFIG_DIR)"
else
  echo
  echo "\$ stk auth login --no-browser"
  login_out="$STATE/login.out"
  : >"$login_out"
  "$BIN/stk" auth login --no-browser </dev/null >"$login_out" 2>&1 &
  login_pid=$!
  consent=""
  for ((i = 0; i < 100; i++)); do
    consent="$(grep -o 'http[^ ]*/oauth2/authenticate[^ ]*' "$login_out" | head -n 1 || true)"
    [[ -n "$consent" ]] && break
    sleep 0.1
  done
  [[ -n "$consent" ]] || { cat "$login_out" >&2; stk_die "stk auth login printed no sign-in address"; }
  page="$(curl -sS -L --max-redirs 5 -o "$STATE/login.html" -w '%{http_code}' "$consent")" || true
  login_status=0
  wait "$login_pid" || login_status=$?
  cat "$login_out"
  [[ "$page" == 200 && "$login_status" == 0 ]] \
    || { stk_log_tail "$LOGS/api.log"; stk_die "the login did not complete (callback page HTTP $page, stk exit $login_status)"; }
  echo "demo: the browser was shown: $(sed -n 's:.*<p>\(.*\)</p>.*:\1:p' "$STATE/login.html" | head -n 1)"
fi

echo
echo "\$ stk sync --wait"
"$BIN/stk" sync --wait ${STK_DEMO_SYNC_ARGS:-}
echo
echo "\$ stk"
"$BIN/stk"
echo
"$BIN/stk-local" check
echo
echo "demo done in $(stk_since "$T_START") s; stop everything with: scripts/stack.sh down"
echo
echo "To use stk from your own shell against this demo's API:"
echo "  export API_BASE_URL=$API_BASE_URL STK_CONFIG_DIR=$STK_CONFIG_DIR"
echo "  $BIN/stk sync --wait && $BIN/stk"
