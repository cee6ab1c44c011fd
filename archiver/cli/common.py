"""What every command module shares: settings from the context, the index, output formats."""

from __future__ import annotations

import csv
import json
import os
import sys
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from ..config import Settings, load_settings

if TYPE_CHECKING:  # the plain nightly collect runs without typer (archiver.cli.nightly)
    import typer

# True while ``archiver.cli.main()`` runs as the process's entry point (``archiver ...``), not
# when a test or a library calls it: only then may a command tune process-wide state (the GC).
process_entry = False

FORMATS = ("table", "json", "csv")


def settings(ctx: typer.Context, *, require_file: bool = True, overrides: Mapping[str, Any] | None = None) -> Settings:
    root = ctx.find_root()
    config = (root.obj or {}).get("config")
    return load_settings(config, environ=os.environ, overrides=overrides, require_file=require_file)


def index(settings: Settings):
    from .. import journal
    from ..index import open_index
    from ..store import open_store

    db = open_index(settings.index_path)
    journal.attach(db, lambda: open_store(settings))  # opened only when an entry is to be pushed
    return db


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        import typer

        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
    return fmt


def emit(rows: Sequence[Mapping[str, Any]], fmt: str, columns: Sequence[str] | None = None) -> None:
    """Data to stdout as a table, one JSON array, or CSV with a header row."""
    columns = list(columns or (rows[0].keys() if rows else []))
    out = sys.stdout
    if fmt == "json":
        json.dump(list(rows), out, ensure_ascii=False, indent=2, default=str)
        out.write("\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _flat(row.get(c)) for c in columns})
    else:
        _table(rows, columns, out)


def _flat(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value


def _cell(value: Any, width: int = 60) -> str:
    text = "" if value is None else str(_flat(value))
    # Archived text is hostile: keep control characters and newlines out of the terminal.
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], out) -> None:
    rows = list(rows)
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip() + "\n")
    for row in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() + "\n")
