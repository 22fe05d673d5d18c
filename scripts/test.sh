#!/usr/bin/env bash
# Runs every check memvault has: installs what it needs into .venv, then ruff, mypy and the whole test suite.
# The dashboard's browser tests (tests/ui) drive the system's Chromium: installed here with apt-get when run as
# root on Debian/Ubuntu and `chromium` is not on PATH; elsewhere they skip, saying how (with CI=true they fail).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium for the browser tests (apt-get)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y -qq chromium >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; }; } \
    || echo "could not install chromium: the browser tests will skip (or fail with CI=true)" >&2
fi
export MEM0_TELEMETRY=False
.venv/bin/ruff check memvault tests bench
.venv/bin/mypy
.venv/bin/pytest "$@"
