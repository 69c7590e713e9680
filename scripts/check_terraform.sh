#!/usr/bin/env bash
# Static checks of terraform/ that need no AWS account and no provider download:
#   1. terraform fmt -check (the terraform binary only),
#   2. checkov, pinned, in its own virtualenv (terraform/.venv-checkov, git-ignored): it must not
#      share the project's venv, whose boto3 it would downgrade. --skip-download keeps it offline.
# Exits non-zero if either fails. Skips are inline in the resources (#checkov:skip=...), never here.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION="3.3.30"
VENV="terraform/.venv-checkov"
PYTHON="${PYTHON:-python3}"

start=$(date +%s)

# fmt needs no CLI configuration; a TF_CLI_CONFIG_FILE naming a missing file only adds warnings.
if [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -f "$TF_CLI_CONFIG_FILE" ]; then
  unset TF_CLI_CONFIG_FILE
fi

command -v terraform >/dev/null || { echo "terraform (>= 1.11) is not on PATH" >&2; exit 2; }

echo "== terraform fmt -check -recursive terraform"
terraform fmt -check -recursive -diff terraform

if [ ! -x "$VENV/bin/checkov" ] || [ "$("$VENV/bin/checkov" --version 2>/dev/null)" != "$CHECKOV_VERSION" ]; then
  echo "== installing checkov $CHECKOV_VERSION into $VENV"
  "$PYTHON" -m venv --clear "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
fi

echo "== checkov $("$VENV/bin/checkov" --version)"
"$VENV/bin/checkov" -d terraform --framework terraform --compact --quiet --skip-download \
  --skip-path 'terraform/\.venv-checkov' --skip-path '\.terraform/'

echo "== terraform checks passed in $(( $(date +%s) - start )) s"
