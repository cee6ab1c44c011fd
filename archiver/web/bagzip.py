"""A finished export's bag as one zip file for the browser: made once beside the bag, then
streamed from disk with its size and sha256 (shown on the jobs page and sent as the
``Repr-Digest`` header, RFC 9530), so the requester's copy can be checked against it.

Entries are in sorted path order with the files' own timestamps, so the same bag always makes
the same zip. Files that are compressed already (PDF, gzip, WACZ, images, video) are stored,
the rest deflated. The zip is written under a temporary name and renamed into place: a
download never sees half a file, and two first requests at once both end with the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

STORED = (".gz", ".pdf", ".wacz", ".zip", ".jpg", ".jpeg", ".png", ".gif", ".webp", ".mp4", ".mov", ".webm")
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class BagZip:
    path: Path
    name: str      # the file name offered to the browser
    size: int
    sha256: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def bag_zip(bag: Path) -> BagZip:
    """The zip of the bag directory ``bag`` (made now if it is not there yet)."""
    target = bag.with_name(bag.name + ".zip")
    digest_file = bag.with_name(bag.name + ".zip.sha256")
    if target.exists() and digest_file.exists():
        return BagZip(target, target.name, target.stat().st_size, digest_file.read_text().split()[0])
    fd, tmp = tempfile.mkstemp(prefix=f".{bag.name}.", suffix=".zip", dir=bag.parent)
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", allowZip64=True) as zf:
            for path in sorted(p for p in bag.rglob("*") if p.is_file()):
                kind = zipfile.ZIP_STORED if path.suffix.lower() in STORED else zipfile.ZIP_DEFLATED
                zf.write(path, f"{bag.name}/{path.relative_to(bag).as_posix()}", compress_type=kind)
        sha = _sha256(Path(tmp))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    digest_file.write_text(f"{sha}  {target.name}\n")
    return BagZip(target, target.name, target.stat().st_size, sha)
