#!/usr/bin/env bash
# Static checks of infra/terraform that work offline: formatting, checkov (every deliberate skip
# is written next to its resource with the reason), and, where the machine has a local mirror of
# the AWS provider, `terraform validate`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
cd "$ROOT"
CHECKOV_VERSION="3.3.30"
# The image may point terraform at a CLI configuration it does not ship.
[[ -f "${TF_CLI_CONFIG_FILE:-}" ]] || unset TF_CLI_CONFIG_FILE

terraform fmt -check -recursive infra/terraform
echo "infra: terraform fmt ok"

# checkov pins its own boto3, botocore and more: it runs from an environment of its own, never
# from (or into) the machine's Python.
CHECKOV="$(stk_py_tool checkov "checkov==$CHECKOV_VERSION")/checkov"
# Its HCL parser gives up after 10 s a file by default and then skips the file, on a loaded
# machine too; a file it cannot parse fails this check instead of passing unread.
report="$(mktemp -d)"
trap 'rm -rf "$report"' EXIT
HCL_PARSE_TIMEOUT_SEC="${STK_HCL_PARSE_TIMEOUT_SEC:-300}" "$CHECKOV" -d infra/terraform \
  --skip-download --quiet --compact -o cli -o json --output-file-path "console,$report/results.json"
python3 - "$report/results.json" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
reports = data if isinstance(data, list) else [data]
errors = [f for r in reports for f in r.get("results", {}).get("parsing_errors", [])]
counted = sum(r.get("summary", {}).get("parsing_errors", 0) for r in reports)
if errors or counted:
    print(f"infra: checkov could not parse {max(len(errors), counted)} file(s): {errors}", file=sys.stderr)
    sys.exit(1)
print("infra: checkov parsed every file")
PY

PLUGINS="${STK_TF_PLUGIN_DIR:-/opt/tf-plugins}"
if [[ -d "$PLUGINS" ]]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work" "$report"' EXIT
  cp -r infra "$work/"
  cp infra/names.json "$work/infra/names.json"
  (
    cd "$work/infra/terraform/envs/dev"
    terraform init -backend=false -input=false -plugin-dir="$PLUGINS" >/dev/null
    terraform validate
  )
else
  echo "infra: no provider mirror at $PLUGINS: terraform validate skipped"
fi
