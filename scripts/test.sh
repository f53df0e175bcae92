#!/usr/bin/env bash
# Every test: unit tests of the core with in-memory fakes, and integration tests against the
# real local stack (PostgreSQL + PostgREST, moto, the SmashRun sandbox, the real stk binary).
# `scripts/test.sh --unit` runs only the tests that need no stack (`make unit`).
# Other arguments go to `cargo nextest run` (a test name filter, `--no-capture`, ...).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
cd "$ROOT"

# cargo-nextest comes with the machine image; without it, cargo's own runner does the same work
# one test binary at a time.
have_nextest() { cargo nextest --version >/dev/null 2>&1; }

if [[ "${1:-}" == --unit ]]; then
  shift
  if have_nextest; then
    exec cargo nextest run --workspace --profile unit "$@"
  fi
  exec cargo test --workspace --exclude stk-local "$@"
fi

# The Lambda binaries are tested under cargo-lambda's runtime emulator.
stk_need_cargo_lambda
scripts/stack.sh up
eval "$(scripts/stack.sh env)"
# One build serves both: the workspace-hack crate (dev/workspace-hack) gives every package the
# same features, so the binaries the tests run and the tests themselves share every dependency.
cargo build --workspace --bins
if have_nextest; then
  cargo nextest run --workspace "$@"
else
  echo "cargo-nextest not found: running the tests with cargo test" >&2
  cargo test --workspace "$@"
fi
