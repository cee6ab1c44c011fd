#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh Debian machine (Python 3.11+ assumed):
# Debian packages for headless Chromium and WeasyPrint, a virtualenv with the project and its
# test extras. Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
# poppler-utils: tests read produced PDFs back with pdftotext, a reader that is not our renderer.
# fonts-noto-color-emoji: the exports' PDFs draw emoji with it (as images) instead of empty boxes.
PKGS="chromium chromium-driver poppler-utils libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core
      fonts-noto-color-emoji"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "missing Debian packages:$missing (install them as root: apt-get install$missing)" >&2
    exit 1
  fi
fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
