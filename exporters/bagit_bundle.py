"""BagIt packaging (RFC 8493; domain.md §D1) with the ``bagit`` library.

The payload is written into a directory first; ``make_bag`` then moves it under ``data/``
and writes sha256 and sha512 manifests (8493 §2.4: implementations MUST support both and
SHOULD default to SHA-512), tag manifests and ``bag-info.txt``.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from pathlib import Path
from typing import Mapping
from urllib.parse import unquote

import bagit

from ..errors import ExportError

CHECKSUMS = ["sha256", "sha512"]
# bagit logs each problem it meets as a warning; ``validate`` reports them itself, once.
logging.getLogger("bagit").addHandler(logging.NullHandler())


def make_bag(directory: Path, info: Mapping[str, str], *, now: datetime, processes: int = 1) -> bagit.Bag:
    """Turn ``directory`` (holding the payload) into a bag in place."""
    bag_info = {"Bagging-Date": now.strftime("%Y-%m-%d"), **{k: _one_line(v) for k, v in info.items()}}
    try:
        return bagit.make_bag(str(directory), bag_info=bag_info, checksums=CHECKSUMS, processes=processes)
    except (bagit.BagError, OSError) as exc:
        raise ExportError(f"cannot make the bag in {directory}: {exc}") from None


def _one_line(value: str) -> str:
    # bag-info values continue on indented lines; a newline in a value would break the file.
    return " ".join(str(value).split())


def validate(path: Path) -> list[str]:
    """Every problem with a bag, not only the first: files changed, missing from the payload or
    added to it, manifest lines that are malformed or point outside the bag, a payload file one
    manifest leaves out, and a Payload-Oxum that does not match. bagit's own ``validate`` stops
    at the first stage that fails (a missing file hides every changed one), so bagit reads the
    bag and this checks it, hashing each file once for all its algorithms."""
    root = Path(path).resolve()
    problems: list[str] = []
    try:
        oxum = bagit.Bag(str(path)).info.get("Payload-Oxum")
    except bagit.BagError as exc:  # e.g. a manifest listing a file twice: named, and checked on below
        problems.append(str(exc).replace(str(path) + ": ", ""))
        oxum = _tag(root / "bag-info.txt", "Payload-Oxum")
    listed: dict[str, dict[str, tuple[str, str]]] = {}  # path -> alg -> (digest, manifest name)
    payload_algs = []
    for manifest in sorted(root.glob("manifest-*.txt")) + sorted(root.glob("tagmanifest-*.txt")):
        alg = manifest.name.split("-", 1)[1][:-len(".txt")]
        if not manifest.name.startswith("tag"):
            payload_algs.append(alg)
        problems += _read_manifest(root, manifest, alg, listed)
    for rel in sorted(listed):
        target = root / rel
        if not target.is_file():
            problems.append(f"{rel} is listed in {_names(listed[rel])} but missing")
            continue
        actual = _digests(target, listed[rel])
        differ = {alg: entry for alg, entry in listed[rel].items() if actual[alg] != entry[0].lower()}
        if differ:
            problems.append(f"{rel} was changed ({' and '.join(sorted(differ))} differ from {_names(differ)})")
    on_disk = sorted(p.relative_to(root).as_posix() for p in (root / "data").rglob("*") if p.is_file())
    for rel in on_disk:
        missing_from = [f"manifest-{alg}.txt" for alg in payload_algs if alg not in listed.get(rel, {})]
        if len(missing_from) == len(payload_algs):
            problems.append(f"{rel} is not in any payload manifest (added after the bag was made)")
        elif missing_from:
            problems.append(f"{rel} is missing from {', '.join(missing_from)}")
    if oxum:
        size = sum((root / rel).stat().st_size for rel in on_disk)
        if oxum != f"{size}.{len(on_disk)}":
            octets, _, count = oxum.partition(".")
            problems.append(f"Payload-Oxum in bag-info.txt says {count} files and {octets} bytes; the payload has "
                            f"{len(on_disk)} files and {size} bytes")
    return problems


def _read_manifest(root: Path, manifest: Path, alg: str, listed: dict) -> list[str]:
    """RFC 8493 §2.1.3: ``<checksum> <path>`` per line, CR, LF and % percent-encoded in the path."""
    problems = []
    size = hashlib.new(alg).digest_size * 2 if alg in hashlib.algorithms_available else None
    try:
        text = manifest.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [f"{manifest.name} cannot be read ({exc})"]
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        digest, _, rel = line.partition(" ")
        rel = unquote(rel.lstrip(" *")) if "%" in rel else rel.lstrip(" *")
        if not rel or size is None or len(digest) != size or not all(c in "0123456789abcdefABCDEF" for c in digest):
            problems.append(f"{manifest.name} line {n} is malformed")
            continue
        if ".." in Path(rel).parts or Path(rel).is_absolute() or not (root / rel).resolve().is_relative_to(root):
            problems.append(f"{manifest.name} line {n} points outside the bag ({rel})")
            continue
        if listed.get(rel, {}).get(alg, (digest,))[0].lower() != digest.lower():
            problems.append(f"{manifest.name} line {n} lists {rel} again with another digest")
            continue
        listed.setdefault(rel, {})[alg] = (digest, manifest.name)
    return problems


def _tag(path: Path, name: str) -> str | None:
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            label, _, value = line.partition(":")
            if label.strip() == name:
                return value.strip()
    except (OSError, UnicodeDecodeError):
        pass
    return None


def _digests(path: Path, algs) -> dict[str, str]:
    hashes = {alg: hashlib.new(alg) for alg in algs}
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            for h in hashes.values():
                h.update(chunk)
    return {alg: h.hexdigest() for alg, h in hashes.items()}


def _names(entries: dict) -> str:
    return " and ".join(sorted({manifest for _, manifest in entries.values()}))
