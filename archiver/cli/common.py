"""What every command module shares: settings from the context, the index, output formats."""

from __future__ import annotations

import csv
import json
import os
import sys
from typing import Any, Iterable, Mapping, Sequence

import typer

from ..config import Settings, load_settings

# True while ``archiver.cli.main()`` runs as the process's entry point (``archiver ...``), not
# when a test or a library calls it: only then may a command tune process-wide state (the GC).
process_entry = False

FORMATS = ("table", "json", "csv")


def settings(ctx: typer.Context, *, require_file: bool = True, overrides: Mapping[str, Any] | None = None) -> Settings:
    root = ctx.find_root()
    config = (root.obj or {}).get("config")
    return load_settings(config, environ=os.environ, overrides=overrides, require_file=require_file)


def index(settings: Settings):
    """The configured index; a missing one is refused (``archiver init`` creates it), never
    created empty to answer "nothing found"."""
    from .. import journal
    from ..index import open_index

    def store():  # imported and opened only when an entry is to be pushed (not for a search)
        from ..store import open_store

        return open_store(settings)

    db = open_index(settings.index_path, create=False)
    journal.attach(db, store)
    return db


# --- values users type: one check each, before anything is read or written -------------------

DATE_METAVAR = "YYYY-MM-DD"


def _check_date(ctx, param, value):
    from ..errors import UsageError
    from ..timefmt import parse_user_date

    if value is None:
        return value
    option = param.opts[0] if param is not None else "date"
    try:
        parse_user_date(value, "UTC")  # the agency's timezone only matters for a time of day
    except UsageError as exc:
        raise UsageError(f"{option}: {exc}") from None
    return value


def date_option(default: Any, *names: str, help: str) -> Any:
    """A day the user types (``--from``, ``--received``...): checked by ``timefmt.parse_user_date``,
    the one parser of user dates, when the option is read. An impossible date is an
    ``Error:`` and exit 2 (``UsageError``) before the command body runs."""
    return typer.Option(default, *names, help=help, metavar=DATE_METAVAR, callback=_check_date)


def check_range(date_from: str | None, date_to: str | None, tz: str = "UTC") -> None:
    """A reversed range (``--from`` after ``--to``) is a usage error."""
    from ..timefmt import day_range_utc

    day_range_utc(date_from, date_to, tz)


def day(value: str, tz: str = "UTC"):
    """A checked date option as a ``date`` (commands that need a whole day, not a time)."""
    from datetime import date, datetime

    from ..errors import UsageError
    from ..timefmt import parse_user_date

    parsed = parse_user_date(value, tz)
    if isinstance(parsed, datetime) or not isinstance(parsed, date):
        raise UsageError(f"{value!r} is not a day; use YYYY-MM-DD")
    return parsed


def check_names(settings: Settings, db=None, *, accounts: Iterable[str] = (), platforms: Iterable[str] = ()) -> None:
    """Unknown account or platform names are refused with the known ones listed: a typo must
    not answer "nothing found". Accounts are known from the config and, when ``db`` is given,
    from the archive (an account removed from the config keeps its records)."""
    from ..config import PLATFORMS
    from ..errors import UsageError

    wrong = [p for p in platforms or () if p not in PLATFORMS]
    if wrong:
        raise UsageError(f"unknown platform {wrong[0]!r} (known: {', '.join(PLATFORMS)})")
    accounts = list(accounts or ())
    if not accounts:
        return
    known = {a.name for a in settings.accounts}
    if db is not None and "items" in db.table_names():
        known |= {row[0] for row in db.conn.execute("SELECT DISTINCT account FROM items")}
    wrong = [a for a in accounts if a not in known]
    if wrong:
        listed = ", ".join(sorted(known)) or "none configured"
        raise UsageError(f"unknown account {wrong[0]!r} (known: {listed})")


def actor(by: str | None) -> str:
    """Who does a records-management act from the command line: ``--by``, else the login name."""
    return by or os.environ.get("USER") or os.environ.get("USERNAME") or "cli"


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
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
