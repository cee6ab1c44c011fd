"""BagIt packaging (RFC 8493; domain.md §D1) with the ``bagit`` library.

The payload is written into a directory first; ``make_bag`` then moves it under ``data/``
and writes sha256 and sha512 manifests (8493 §2.4: implementations MUST support both and
SHOULD default to SHA-512), tag manifests and ``bag-info.txt``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Mapping

import bagit

from ..errors import ExportError

CHECKSUMS = ["sha256", "sha512"]


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
    """Problems with a bag (missing, extra or changed files, bad manifests)."""
    try:
        bag = bagit.Bag(str(path))
    except bagit.BagError as exc:
        return [str(exc)]
    problems = []
    try:
        bag.validate(processes=1)
        return []
    except bagit.BagValidationError as exc:
        problems = [str(d) for d in exc.details] if exc.details else [str(exc)]
    except bagit.BagError as exc:
        return [str(exc)]
    if bag.info.pop("Payload-Oxum", None) is not None:
        # bagit stops at the Payload-Oxum count; check again without it so every missing,
        # extra or changed file is named.
        for only_manifest in bag.compare_manifests_with_fs()[0]:
            problems.append(f"{only_manifest} is listed in the manifest but missing")
        try:
            bag.validate(processes=1)
        except bagit.BagValidationError as exc:
            problems += [str(d) for d in exc.details or []]
    return list(dict.fromkeys(problems))
