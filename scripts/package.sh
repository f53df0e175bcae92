#!/usr/bin/env bash
# Builds the three Lambdas as zips where Terraform expects them:
# target/lambda/{stk-api,stk-auth,stk-worker,stk-scheduler}/bootstrap.zip (x86_64 by default; set
# STK_LAMBDA_ARCH=arm64 for Graviton, which needs the aarch64 Rust target installed).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
cd "$ROOT"
stk_need_cargo_lambda

case "${STK_LAMBDA_ARCH:-x86_64}" in
  x86_64) arch_flag=--x86-64 ;;
  arm64) arch_flag=--arm64 ;;
  *) echo "package: STK_LAMBDA_ARCH must be x86_64 or arm64" >&2; exit 2 ;;
esac

started=$SECONDS
cargo lambda build --release "$arch_flag" --output-format zip \
  --bin stk-api --bin stk-auth --bin stk-worker --bin stk-scheduler
for bin in stk-api stk-auth stk-worker stk-scheduler; do
  zip="target/lambda/$bin/bootstrap.zip"
  [[ -s "$zip" ]] || { echo "package: $zip was not produced" >&2; exit 1; }
  printf 'package: %-40s %6s KiB\n' "$zip" "$(( $(stat -c %s "$zip") / 1024 ))"
done
echo "package: done in $((SECONDS - started)) s"
