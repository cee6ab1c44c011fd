"""Files the records officer writes for an export (redactions, deny reasons): TOML, read
with errors that name the file and say what to fix."""

from __future__ import annotations

import tomllib
from pathlib import Path

from ..errors import ExportError


def read_toml(path: str | Path, what: str) -> dict:
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ExportError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ExportError(f"{path}: not valid TOML ({exc}); see the exports documentation for the {what} format") from None
