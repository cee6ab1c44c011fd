"""A plain sha256 manifest of every file in a production volume (``manifest-sha256.txt``,
the BagIt line format ``<hex>  <path>``, so ``sha256sum -c`` reads it too)."""

from __future__ import annotations

import hashlib
from pathlib import Path

MANIFEST = "manifest-sha256.txt"
NOT_LISTED = {MANIFEST, "signature-ed25519.json"}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and p.relative_to(root).as_posix() not in NOT_LISTED)


def write_manifest(root: Path) -> Path:
    lines = [f"{file_sha256(root / rel)}  {rel}" for rel in _files(root)]
    path = root / MANIFEST
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def check_manifest(root: Path) -> list[str]:
    """Missing, changed and unlisted files, as problems."""
    path = root / MANIFEST
    if not path.exists():
        return [f"{MANIFEST} is missing: the volume's files cannot be checked"]
    problems, listed = [], set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        digest, _, rel = line.partition("  ")
        if not rel or len(digest) != 64:
            problems.append(f"{MANIFEST} line {n} is malformed")
            continue
        listed.add(rel)
        target = root / rel
        if ".." in Path(rel).parts:
            problems.append(f"{MANIFEST} line {n} points outside the volume")
        elif not target.is_file():
            problems.append(f"{rel} is listed in {MANIFEST} but missing")
        elif file_sha256(target) != digest:
            problems.append(f"{rel} was changed (sha256 differs from {MANIFEST})")
    problems += [f"{rel} is not listed in {MANIFEST} (added after export)" for rel in _files(root) if rel not in listed]
    return problems
