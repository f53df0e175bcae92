#!/usr/bin/env bash
# Static checks of infra/terraform that work offline: formatting, checkov (every deliberate skip
# is written next to its resource with the reason), and, where the machine has a local mirror of
# the AWS provider, `terraform validate`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CHECKOV_VERSION="3.3.30"
# The image may point terraform at a CLI configuration it does not ship.
[[ -f "${TF_CLI_CONFIG_FILE:-}" ]] || unset TF_CLI_CONFIG_FILE

terraform fmt -check -recursive infra/terraform
echo "infra: terraform fmt ok"

if ! checkov --version 2>/dev/null | grep -qx "$CHECKOV_VERSION"; then
  echo "infra: installing checkov $CHECKOV_VERSION from PyPI"
  pip install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
fi
checkov -d infra/terraform --skip-download --quiet --compact

PLUGINS="${STK_TF_PLUGIN_DIR:-/opt/tf-plugins}"
if [[ -d "$PLUGINS" ]]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
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
