# shellcheck shell=bash
# Small helpers shared by the scripts in this folder. Source it; it defines functions only
# (plus STK_ROOT, the repository root) and changes no shell options.

STK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export STK_ROOT

# Seconds since the epoch with microseconds (bash 5).
stk_now() { printf '%s' "${EPOCHREALTIME/,/.}"; }

# Elapsed seconds since $1 (a stk_now value), one decimal.
stk_since() {
  local start="$1" now
  now="$(stk_now)"
  awk -v a="$start" -v b="$now" 'BEGIN { printf "%.1f", b - a }'
}

stk_log() { printf '%s\n' "$*" >&2; }

stk_die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Print the end of a log file to stderr (more of it in CI).
stk_log_tail() {
  local file="$1" lines=40
  [[ "${CI:-}" == "true" ]] && lines=200
  if [[ -s "$file" ]]; then
    printf -- '--- last %s lines of %s ---\n' "$lines" "$file" >&2
    tail -n "$lines" "$file" >&2 || true
    printf -- '--- end of %s ---\n' "$file" >&2
  fi
}

# True if something accepts TCP connections on 127.0.0.1:$1.
stk_port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# HTTP status code of a GET (000 when nothing answers).
stk_http_code() {
  curl -s -o /dev/null -m 2 -w '%{http_code}' "$@" 2>/dev/null || true
}

# True if the pid on the first line of file $1 is alive and its command line contains $2.
stk_pid_alive() {
  local pidfile="$1" pattern="$2" pid
  [[ -s "$pidfile" ]] || return 1
  read -r pid <"$pidfile" || true
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern"
}

# True if process $1 exists and is not a zombie (an orphan may wait a while for its reaper).
stk_proc_live() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ -n "$stat" && "${stat:0:1}" != Z ]]
}

# Stop the process in pid file $1 (if its command line contains $2): TERM, wait up to
# 10 s, then KILL. Removes the pid file. Tolerates an already stopped process.
stk_stop_pid() {
  local pidfile="$1" pattern="$2" pid i
  if stk_pid_alive "$pidfile" "$pattern"; then
    read -r pid <"$pidfile" || true
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
      stk_proc_live "$pid" || break
      sleep 0.05
    done
    if stk_proc_live "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$pidfile"
}

# Close every file descriptor above 2 in the current (sub)shell, so that a started service
# keeps no pipe or lock of its caller open.
stk_close_fds() {
  local fd n
  for fd in /proc/"$BASHPID"/fd/*; do
    n="${fd##*/}"
    if ((n > 2)); then eval "exec $n>&-"; fi
  done
}

# Start "$@" detached in its own session, all fds redirected (stdin from /dev/null,
# stdout+stderr appended to $2, every other fd closed), so it outlives the caller and never
# holds a caller's pipe or the stack lock. The started process writes its own pid to $1.
stk_spawn() {
  local pidfile="$1" logfile="$2"
  shift 2
  rm -f "$pidfile"
  (
    stk_close_fds
    # shellcheck disable=SC2016 # $$ and "$@" are for the inner shell
    exec setsid bash -c 'echo "$$" >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$logfile" 2>&1
  ) &
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s "$pidfile" ]] && return 0
    sleep 0.02
  done
  stk_die "could not start $1 (no pid file $pidfile)"
}

# Install Debian packages (non-interactive), running `apt-get update` once per run.
STK_APT_UPDATED=""
stk_apt_install() {
  command -v apt-get >/dev/null || stk_die "apt-get not found; install $* by hand"
  if [[ -z "$STK_APT_UPDATED" ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || stk_die "apt-get update failed"
    STK_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2 \
    || stk_die "apt-get install $* failed"
}

# A Python tool pinned in a virtual environment of its own, .stack/tools/NAME, so that nothing in
# the machine's Python changes (a tool's pins, e.g. checkov's botocore, would otherwise downgrade
# what other programs there use). Prints the environment's bin folder. `stack.sh down --purge`
# keeps these.
stk_py_tool() {
  local name="$1"
  shift
  local venv="$STK_ROOT/.stack/tools/$name" want="$*"
  if [[ "$(cat "$venv/.installed" 2>/dev/null)" != "$want" ]]; then
    rm -rf "$venv"
    mkdir -p "$STK_ROOT/.stack/tools"
    if ! python3 -m venv "$venv" >&2; then
      stk_apt_install python3-venv
      rm -rf "$venv"
      python3 -m venv "$venv" >&2 || stk_die "python3 -m venv $venv failed"
    fi
    echo "installing $want into .stack/tools/$name" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >&2 \
      || stk_die "pip install $want into .stack/tools/$name failed"
    printf '%s' "$want" >"$venv/.installed"
  fi
  printf '%s/bin' "$venv"
}

# cargo-lambda, pinned (the Lambda runtime emulator for the tests, and the packager): the
# machine's own if it is that version, else one of the project's own from PyPI. Only its two
# programs (cargo-lambda and the zig it builds with) go on PATH, never its environment's python3.
STK_CARGO_LAMBDA_VERSION="1.9.2"
stk_need_cargo_lambda() {
  if ! cargo lambda --version 2>/dev/null | grep -q "$STK_CARGO_LAMBDA_VERSION"; then
    local bin links="$STK_ROOT/.stack/tools/bin" zig
    bin="$(stk_py_tool cargo-lambda "cargo-lambda==$STK_CARGO_LAMBDA_VERSION")" || exit 1
    mkdir -p "$links"
    ln -sf "$bin/cargo-lambda" "$links/cargo-lambda"
    zig="$(find "$bin/.." -path '*/ziglang/zig' -type f 2>/dev/null | head -n 1)"
    [[ -n "$zig" ]] && ln -sf "$(cd "$(dirname "$zig")" && pwd)/zig" "$links/zig"
    export PATH="$links:$PATH"
  fi
}
