#!/usr/bin/env bash
# Runs every check memvault has: installs what it needs into .venv, then ruff, mypy and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
export MEM0_TELEMETRY=False
.venv/bin/ruff check memvault tests bench
.venv/bin/mypy
.venv/bin/pytest "$@"
