#!/usr/bin/env bash
# CI: a plain install works. Builds the wheel, installs it WITHOUT the test extras into a fresh
# virtualenv outside the checkout, and runs what an administrator and a records officer run:
# the demo, an export of each kind, verify, reindex and fixity. Fails on any setuptools
# warning at build time too (a template folder left out of the wheel shows up there first).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/archiver-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$PY" -m pip wheel -q --no-deps -w "$work/dist" . >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
if grep -E "Warning|would be ignored|deprecated" "$work/build.log" >/dev/null; then
  echo "wheel build printed warnings:" >&2
  grep -E -B2 -A8 "Warning|would be ignored|deprecated" "$work/build.log" >&2
  exit 1
fi
"$PY" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "$work"/dist/*.whl 2>&1 | grep -v "^WARNING: Location" || true
"$work/venv/bin/python" -m pip show -q open-records-archiver >/dev/null
for extra in pytest moto selenium wacz; do  # the test extras must not have come along
  if "$work/venv/bin/python" -m pip show -q "$extra" >/dev/null 2>&1; then
    echo "$extra is installed by a plain install: it belongs in the test extras only" >&2; exit 1
  fi
done

A="$work/venv/bin/archiver"
cd "$work"  # nothing from the checkout is importable from here
set -x
"$A" demo --dir "$work/demo" >/dev/null
export ARCHIVER_CONFIG="$work/demo/archiver.toml"
"$A" search --query closure --format json >/dev/null
"$A" export request --request-id PRR-1 --requester "A. Requester" --received 2026-01-05 \
    --from 2000-01-01 --to 2099-12-31 --out "$work/bundle" >/dev/null
"$A" export ediscovery --matter "Smoke v. Test" --bates-prefix SMK- --from 2000-01-01 --to 2099-12-31 \
    --out "$work/volume" >/dev/null
"$A" verify "$work/bundle"
"$A" verify "$work/volume"
"$A" reindex --into "$work/rebuilt.db" >/dev/null
"$A" fixity >/dev/null
set +x
echo "plain wheel install: every command ran"
