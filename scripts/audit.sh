#!/usr/bin/env bash
# Checks Cargo.lock against the RustSec advisory database snapshot, offline.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DB="${STK_ADVISORY_DB:-$ROOT/../shared/advisory-db}"
cd "$ROOT"

if ! command -v cargo-audit >/dev/null 2>&1; then
  echo "audit: installing cargo-audit (once per machine, a few minutes)"
  cargo install cargo-audit --locked --quiet
fi
[[ -d "$DB" ]] || { echo "audit: no advisory database at $DB (set STK_ADVISORY_DB)" >&2; exit 1; }
cargo audit --db "$DB" --no-fetch --deny warnings
