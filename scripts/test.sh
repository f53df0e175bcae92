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

if [[ "${1:-}" == --unit ]]; then
  shift
  exec cargo nextest run --workspace --profile unit "$@"
fi

# The Lambda binaries are tested under cargo-lambda's runtime emulator.
stk_need_cargo_lambda
scripts/stack.sh up
eval "$(scripts/stack.sh env)"
# One build serves both: the workspace-hack crate (dev/workspace-hack) gives every package the
# same features, so the binaries the tests run and the tests themselves share every dependency.
cargo build --workspace --bins
cargo nextest run --workspace "$@"
