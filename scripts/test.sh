#!/usr/bin/env bash
# Every test: unit tests of the core with in-memory fakes, and integration tests against the
# real local stack (PostgreSQL + PostgREST, moto, the SmashRun sandbox, the real stk binary).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
cd "$ROOT"

# The Lambda binaries are tested under cargo-lambda's runtime emulator.
stk_need_cargo_lambda
scripts/stack.sh up
eval "$(scripts/stack.sh env)"
# The integration tests run the real `stk` binary.
cargo build --bins --workspace
cargo test --workspace "$@"
