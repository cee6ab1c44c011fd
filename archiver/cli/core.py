"""Core commands: init, collect, runs, search, show, demo."""

from __future__ import annotations

import json
import logging
import os
import sys
from importlib import resources
from pathlib import Path
from typing import List, Optional

import typer

from . import common

log = logging.getLogger("archiver")


def setup_logging(settings=None, verbose: bool = False) -> None:
    """Progress and logs to stderr (data goes to stdout); JSON lines and a file per settings."""
    from ..logs import setup

    setup(settings, verbose=verbose)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("collect")(collect)
    app.command("runs")(runs)
    app.command("search")(search)
    app.command("show")(show)
    app.command("demo")(demo)


def init(ctx: typer.Context, path: str = typer.Option("archiver.toml", help="Where to write the config")):
    """Write a commented archiver.toml if none exists, create the index, check the store."""
    from ..index import open_index
    from ..store import open_store

    root_cfg = (ctx.find_root().obj or {}).get("config")
    target = Path(root_cfg or os.environ.get("ARCHIVER_CONFIG") or path)
    if target.exists():
        typer.echo(f"{target} exists; leaving it as it is", err=True)
    else:
        target.write_text(resources.files("archiver.templates").joinpath("archiver.toml").read_text("utf-8"),
                          encoding="utf-8")
        typer.echo(f"wrote {target}", err=True)
    settings = common.settings(ctx, overrides=None) if root_cfg else _load(target)
    open_index(settings.index_path)
    store = open_store(settings)
    lock = "with Object Lock" if store.object_lock else "without Object Lock"
    typer.echo(f"index: {settings.index_path}\nstore: {store.url} ({lock})\naccounts: {len(settings.accounts)}")


def _load(path: Path):
    from ..config import load_settings

    return load_settings(path, environ=os.environ)


def collect(ctx: typer.Context, account: List[str] = typer.Option(None, "--account", help="Only this account (repeatable)")):
    """The nightly job: capture every configured account. Exit 1 if any account failed, 3 if another run holds the lock."""
    from . import nightly

    config = (ctx.find_root().obj or {}).get("config")
    raise typer.Exit(nightly.run(config, account or [], process_entry=common.process_entry))


def runs(ctx: typer.Context,
         account: Optional[str] = typer.Option(None, "--account"),
         failed: bool = typer.Option(False, "--failed", help="Only runs that did not finish ok"),
         limit: int = typer.Option(50, "--limit"),
         fmt: str = typer.Option("table", "--format", callback=common.check_format)):
    """Capture history per account."""
    from ..index.queries import runs as query_runs

    settings = common.settings(ctx)
    db = common.index(settings)
    common.check_names(settings, db, accounts=[account] if account else [])
    rows = query_runs(db, account=account, failed=failed, limit=limit)
    common.emit(rows, fmt, None if fmt != "table" else
                ["id", "account", "status", "started_at", "finished_at", "items_seen", "items_new",
                 "items_edited", "items_hidden", "items_deleted", "message"])


def search(ctx: typer.Context,
           date_from: Optional[str] = common.date_option(None, "--from", help="First day (agency timezone)"),
           date_to: Optional[str] = common.date_option(None, "--to", help="Last day, inclusive"),
           query: Optional[str] = typer.Option(None, "--query", help='Full text: words, "phrases", AND/OR/NOT, prefix*'),
           platform: List[str] = typer.Option(None, "--platform"),
           account: List[str] = typer.Option(None, "--account"),
           author: Optional[str] = typer.Option(None, "--author"),
           kind: List[str] = typer.Option(None, "--kind", help="post, comment or reply"),
           status: List[str] = typer.Option(None, "--status", help="live, edited, hidden or deleted"),
           has_media: Optional[bool] = typer.Option(None, "--has-media/--no-media"),
           sort: str = typer.Option("date", "--sort", help="date, -date or relevance"),
           fmt: str = typer.Option("table", "--format", callback=common.check_format),
           limit: int = typer.Option(100, "--limit", help="0 for no limit"),
           offset: int = typer.Option(0, "--offset")):
    """Search the archive (deleted and hidden items are included unless --status says otherwise)."""
    from ..search import RESULT_FIELDS, SearchQuery, search as run_search

    settings = common.settings(ctx)
    common.check_range(date_from, date_to, settings.timezone)
    db = common.index(settings)
    common.check_names(settings, db, accounts=account, platforms=platform)
    q = SearchQuery(date_from=date_from, date_to=date_to, text=query, platform=platform or [],
                    account=account or [], author=author, kind=kind or [], status=status or [],
                    has_media=has_media, sort=sort, limit=limit or None, offset=offset)
    result = run_search(db, q, settings.timezone)
    columns = list(RESULT_FIELDS) if fmt != "table" else ["id", "created_at", "account", "kind", "status",
                                                           "author", "text"]
    common.emit(result.rows, fmt, columns)
    if len(result.rows) < result.total or result.has_next:
        total = f"{result.total}" if result.exact else f"more than {result.total}"
        typer.echo(f"{len(result.rows)} of {total} matches shown (use --limit/--offset)", err=True)


def show(ctx: typer.Context, item_id: str = typer.Argument(..., metavar="ID"),
         fmt: str = typer.Option("text", "--format", help="text or json")):
    """One item with its versions, status history and thread."""
    from ..index.queries import item_detail
    from ..errors import UsageError
    from ..timefmt import agency_time

    if fmt not in ("text", "json"):
        raise UsageError(f"--format must be text or json, not {fmt!r}")
    from ..sightings import VersionBodies
    from ..store import open_store

    settings = common.settings(ctx)
    db = common.index(settings)
    # Each version's content is read back from its WARC record (the index keeps none).
    detail = item_detail(db, item_id, VersionBodies(db.conn, open_store(settings)))
    for extra in _show_extras():
        detail.update(extra(db, settings, detail))
    if fmt == "json":
        json.dump(detail, sys.stdout, ensure_ascii=False, indent=2, default=str)
        sys.stdout.write("\n")
        return
    item, tz = detail["item"], settings.timezone
    out = sys.stdout
    out.write(f"{item['id']}  {item['platform']} {item['kind']} {item['platform_id']}  [{item['status']}]\n")
    out.write(f"account: {item['account']}   author: {item['author']}\n")
    out.write(f"created: {agency_time(item['created_at'], tz)}  ({item['created_at']} UTC)\n")
    out.write(f"url: {item['url']}\nfirst seen: {item['first_seen']}   last seen: {item['last_seen']}\n")
    out.write(f"\n{item['text'] or ''}\n")
    out.write(f"\nversions ({len(detail['versions'])}):\n")
    for v in detail["versions"]:
        out.write(f"  v{v['n']} first seen {v['first_seen']} last seen {v['last_seen']}: {v['text']!r}\n")
    out.write("events:\n")
    for e in detail["events"]:
        out.write(f"  {e['at']} {e['event']}\n")
    for key, value in detail.items():
        if key not in ("item", "versions", "events", "media", "thread", "source"):
            out.write(f"{key}: {json.dumps(value, default=str)}\n")
    out.write(f"thread ({len(detail['thread'])} items):\n")
    for t in detail["thread"]:
        mark = "*" if t["id"] == item["id"] else " "
        out.write(f" {mark}{t['id']} {t['kind']:7} {t['status']:7} {t['author']}: {(t['text'] or '')[:70]!r}\n")


def _show_extras():
    """Sections other areas add to `show` (e.g. retention: series, disposition date, holds)."""
    from ..retention.assign import show_section

    return [show_section]


def demo(workdir: str = typer.Option("archiver-demo", "--dir", help="Where the demo archive is written")):
    """Archive a bundled sample department from a local replay of its platforms, then show it."""
    from ..demo import run_demo

    setup_logging()
    logging.getLogger("archiver").setLevel(logging.WARNING)
    run_demo(Path(workdir), out=sys.stdout)
