"""The export's output directory: created fresh, never written over.

An export is evidence handed to someone outside; mixing it with the files of an earlier run
would make its manifests lie, so an existing non-empty directory is refused.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ExportError


def prepare_output(path: str | Path) -> Path:
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ExportError(f"{path} already exists and is not empty; choose a new --out directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create {path}: {exc.strerror}") from None
    return path


def write_bytes(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror} (is the disk full?)") from None
