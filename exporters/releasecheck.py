"""The release check: before a redacted export is marked done, search every file it produced,
decoded as a reader or a program would read it, for every withheld value in every spelling.

A release cannot be recalled, so the exporter does not trust its own redaction: PDFs are read
back as text (pypdf, page by page), JSON is parsed and every string checked (so a ``\\u``
escape is decoded), HTML, CSV, DAT and text files are read as text (``Spellings`` decodes
entities, markup and percent-escapes), and file names are checked too. Any hit refuses the
export: the produced files are removed, so nothing is left that looks finished, and the
error names each file and the place in it (page, line, JSON path).

Files that cannot carry text the way a reader sees it (images, video) are not searched; the
original WARC/WACZ a redacted release includes on purpose (``--include-warc``) is excluded
by the caller and declared unredacted in the release itself.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Callable, Iterator

from ..errors import ExportError
from .spellings import MARK, Spellings

BINARY = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".mp4", ".bin", ".svg_", ".tif", ".tiff",
                    ".gz", ".wacz", ".zip", ".mov", ".webm"})
SHOWN = 8  # problems listed in the error; the rest are counted


def find_leaks(root: Path, spellings: Spellings, label: Callable[[str], str],
               skip: Callable[[str], bool] = lambda rel: False) -> list[str]:
    """Every place in the files under ``root`` where a withheld value is found."""
    problems: list[str] = []
    if not spellings:
        return problems
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if skip(rel):
            continue
        chunks = [("file name", rel)]
        if path.suffix.lower() not in BINARY:
            chunks = [*chunks, *_decoded(path)]
        for place, text in chunks:
            for form in dict.fromkeys(f for _, _, f in spellings.find(text.replace(MARK, " "))):
                problems.append(f"{rel}, {place}: {label(form)}")
    return problems


def refuse_if_leaking(root: Path, spellings: Spellings, label: Callable[[str], str],
                      skip: Callable[[str], bool] = lambda rel: False) -> int:
    """Run the check; on any hit remove the export's files and raise ``ExportError``.
    Returns the number of files checked."""
    problems = find_leaks(root, spellings, label, skip)
    if problems:
        _remove_contents(root)
        more = f"\n  … and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        raise ExportError(
            "release check failed: withheld information is still in the export, so nothing was released "
            f"and {root} was emptied:\n  " + "\n  ".join(problems[:SHOWN]) + more
            + "\nAdd a redaction for the spelling or field named, or report this as a bug.")
    return sum(1 for p in root.rglob("*") if p.is_file())


def _remove_contents(root: Path) -> None:
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _decoded(path: Path) -> Iterator[tuple[str, str]]:
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        yield from _pdf(path)
        return
    data = path.read_bytes()
    text = data.decode("utf-8-sig", errors="replace")
    if suffix == ".json":
        try:
            yield from _json(json.loads(text), "$")
            return
        except ValueError:
            pass
    for n, line in enumerate(text.splitlines(), 1):
        yield f"line {n}", line


def _pdf(path: Path) -> Iterator[tuple[str, str]]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(path.read_bytes()))
        for n, page in enumerate(reader.pages, 1):
            yield f"page {n}", page.extract_text() or ""
    except (PyPdfError, ValueError, KeyError) as exc:
        raise ExportError(f"release check cannot read {path.name} back as text ({exc}); nothing was released") \
            from None


def _json(value, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield where, str(value)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _json(v, f"{where}[{i}]")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield f"{where} (key)", k
            yield from _json(v, f"{where}.{k}")
