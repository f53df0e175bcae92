#!/usr/bin/env bash
# Benchmark: a full sync of the sandbox's 20,000+ run "lifetime" history through the whole
# pipeline (release build), then an incremental sync with nothing new. Prints the figures.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export STK_DEMO_PROFILE=lifetime STK_DEMO_BUILD=release
export STK_DEMO_SYNC_ARGS="--full"
echo "bench: full sync of the lifetime history"
scripts/demo.sh
export STK_DEMO_SYNC_ARGS=""
echo "bench: incremental sync with nothing new"
scripts/demo.sh | grep -E "sync succeeded|nothing new"
echo "bench: last job, as the API reports it"
"${CARGO_TARGET_DIR:-$ROOT/target}/release/stk" sync list | head -4
