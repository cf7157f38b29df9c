#!/usr/bin/env bash
# Client-library compatibility tests in Python: the official `kubernetes` client against a
# real `skiff server` (tests/clients/python). The kube-rs counterpart runs with the rest
# of the workspace under `cargo nextest run` (crates/skiff-clientcompat).
#
# The Python packages go into a virtualenv (default target/clients-venv) so the machine's
# own Python packages are left alone. The server binary is $SKIFF_BIN, else
# ${CARGO_TARGET_DIR:-target}/debug/skiff, built here only when absent.
# Extra arguments go to pytest (e.g. -k watch, -x).
set -euo pipefail
cd "$(dirname "$0")/.."

# Tested versions; bump deliberately.
KUBERNETES_PY_VERSION=${KUBERNETES_PY_VERSION:-37.0.2}
PYTEST_VERSION=${PYTEST_VERSION:-9.2.0}
venv=${SKIFF_CLIENTS_VENV:-${CARGO_TARGET_DIR:-target}/clients-venv}

if [ ! -x "$venv/bin/python" ]; then
  if ! python3 -m venv "$venv" 2>/dev/null; then
    # Debian's python3 ships venv separately.
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || true
    apt-get install -y -qq --no-install-recommends python3-venv
    rm -rf "$venv"
    python3 -m venv "$venv"
  fi
fi
py="$venv/bin/python"
if ! "$py" - "$KUBERNETES_PY_VERSION" "$PYTEST_VERSION" <<'PYEOF' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if (version("kubernetes"), version("pytest")) == (sys.argv[1], sys.argv[2]) else 1)
PYEOF
then
  "$py" -m pip install --quiet --disable-pip-version-check \
    "kubernetes==$KUBERNETES_PY_VERSION" "pytest==$PYTEST_VERSION"
fi

if [ -z "${SKIFF_BIN:-}" ]; then
  SKIFF_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/skiff"
  if [ ! -x "$SKIFF_BIN" ]; then
    cargo build -p skiff --locked
  fi
fi
export SKIFF_BIN
# Keep the work tree clean: no __pycache__ next to the tests.
export PYTHONDONTWRITEBYTECODE=1

# Bounded: a hung request must fail the run, not stall CI (conftest turns SIGTERM into
# an interrupt so the server is still stopped).
exec timeout --signal=TERM --kill-after=30 "${SKIFF_CLIENTS_TIMEOUT:-900}" \
  "$py" -m pytest -p no:cacheprovider -q tests/clients/python "$@"
