"""Operations commands: fixity, reindex, report completeness, health.

Exit codes (stable; cron and monitors depend on them): 0 ok, 1 a problem was found or a
command failed, 2 usage error, 3 another archiver process holds the lock.
"""

from __future__ import annotations

import json
import logging
import sys
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Optional

import typer

from ..progress import on_terminal
from . import common

report_app = typer.Typer(help="Reports for records officers and auditors.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("fixity")(fixity)
    app.command("reindex")(reindex)
    app.command("health")(health)
    report_app.command("completeness")(completeness)
    app.add_typer(report_app, name="report")


@contextmanager
def _output(path: Path | None):
    """stdout, or the --out file (data only; the summary line stays on stderr)."""
    if path is None:
        yield
        return
    with open(path, "w", encoding="utf-8", newline="") as fh, redirect_stdout(fh):
        yield


def _setup(settings) -> None:
    from ..logs import setup

    setup(settings)


def fixity(ctx: typer.Context,
           sample: Optional[int] = typer.Option(None, "--sample", min=1,
                                                help="Re-hash only the N objects checked longest ago (nightly)"),
           fmt: str = typer.Option("table", "--format", callback=common.check_format)):
    """Re-hash stored WARC objects against the index; exit 1 on any missing, changed or unexpected object."""
    from ..fixity import run_fixity
    from ..store import open_store

    settings = common.settings(ctx)
    _setup(settings)
    with on_terminal():
        report = run_fixity(common.index(settings), open_store(settings), sample=sample)
    if report.problems or fmt != "table":  # a clean audit is its summary line, not an empty table
        common.emit([p.__dict__ for p in report.problems], fmt, ["kind", "key", "detail"])
    s = report.summary()
    cycle = f"; at this sample size the whole archive is covered every {s['cycle_nights']} night(s)" if sample else ""
    typer.echo(f"fixity: {s['checked']} of {s['objects']} objects re-hashed, {s['bytes']} bytes in "
               f"{s['seconds']:.1f} s ({report.mb_per_s:.1f} MB/s); {len(report.problems)} problem(s){cycle}",
               err=True)
    raise typer.Exit(0 if report.ok else 1)


def reindex(ctx: typer.Context,
            into: Optional[Path] = typer.Option(None, "--into", help="Write the rebuilt index here "
                                                "(default: the configured index, which must not exist)")):
    """Rebuild the SQLite index from the store alone (WARC files and the records-management journal); exit 1
    when any object failed a check (each is listed with why; everything else is rebuilt)."""
    from ..reindex import reindex as run_reindex
    from ..store import open_store

    settings = common.settings(ctx)
    _setup(settings)
    log = logging.getLogger("archiver.reindex")
    with on_terminal():
        report = run_reindex(open_store(settings), settings.index_path, into=into,
                             progress=lambda key, n: log.debug("%d %s", n, key))
    typer.echo(json.dumps({"index": str(report.path), "objects": report.objects, "bytes": report.bytes,
                           "records": report.records, "items": report.items, "versions": report.versions,
                           "runs": report.runs, "journal": report.journal, "seconds": round(report.seconds, 2),
                           "problems": len(report.problems)}))
    for bad in report.problems:
        typer.echo(f"not rebuilt: {bad.key}: {bad.reason}", err=True)
    raise typer.Exit(0 if report.ok else 1)


def health(ctx: typer.Context,
           max_age: float = typer.Option(26.0, "--max-age", help="Hours since an account's last run before it "
                                         "counts as stale"),
           fmt: str = typer.Option("table", "--format", callback=common.check_format)):
    """For monitoring: exit 1 when any account's last run failed or is older than --max-age hours, a damaged
    file is in quarantine, or the records-management journal has a problem."""
    import os

    from ..health import check_health, subscription_findings
    from ..spool import quarantine_dir

    from ..errors import ConfigError

    settings = common.settings(ctx)
    if not settings.accounts:
        # Nothing is being archived: the monitor must page someone, not report all is well.
        raise ConfigError(f"no accounts are configured in {settings.config_path}: add [[accounts]] "
                          "(see docs/admin.md) — nothing is being archived")
    report = check_health(common.index(settings), [a.name for a in settings.accounts], max_age_hours=max_age,
                          quarantine=quarantine_dir(settings.spool_dir),
                          streams_dir=settings.spool_dir / "listen")
    report.findings += subscription_findings(settings, os.environ)
    common.emit([a.__dict__ for a in report.accounts], fmt, ["account", "ok", "status", "started_at", "message"])
    for finding in report.findings:
        typer.echo(f"{finding.what}: {finding.message}", err=True)
    raise typer.Exit(0 if report.ok else 1)


def completeness(ctx: typer.Context,
                 date_from: str = common.date_option(..., "--from", help="First night (agency timezone)"),
                 date_to: str = common.date_option(..., "--to", help="Last night, inclusive"),
                 fmt: str = typer.Option("table", "--format", help="table, json, csv or pdf"),
                 out: Optional[Path] = typer.Option(None, "--out", help="Write to this file (required for pdf)")):
    """Per account per night: run status, expected vs captured, changes, errors; exit 1 when anything is flagged."""
    from ..completeness import completeness as build, render_pdf, table_rows, COLUMNS
    from ..timefmt import iso, utcnow

    if fmt not in ("table", "json", "csv", "pdf"):
        raise typer.BadParameter("--format must be one of table, json, csv, pdf")
    if fmt == "pdf" and out is None:
        raise typer.BadParameter("--format pdf needs --out FILE")
    settings = common.settings(ctx)
    common.check_range(date_from, date_to, settings.timezone)
    report = build(common.index(settings), date_from, date_to, settings.timezone,
                   accounts=[a.name for a in settings.accounts])
    if fmt == "pdf":
        out.write_bytes(render_pdf(report, agency=settings.agency, generated=iso(utcnow()),
                                   custodian=f"{settings['archive.custodian_name']}, {settings['archive.custodian_title']}"))
    else:
        with _output(out):
            if fmt == "json":
                json.dump({"from": date_from, "to": date_to, "timezone": settings.timezone,
                           "complete": report.complete, "rows": [r.as_dict() for r in report.rows]},
                          sys.stdout, ensure_ascii=False, indent=2, default=str)
                sys.stdout.write("\n")
            else:
                common.emit(table_rows(report), fmt, COLUMNS if fmt == "csv" else
                            ["night", "account", "status", "comments_expected", "comments_captured", "new",
                             "edited", "hidden", "deleted", "complete", "flags"])
    flagged = len(report.flagged())
    typer.echo(f"{len(report.rows)} account-nights, {flagged} flagged" + (f"; written to {out}" if out else ""),
               err=True)
    raise typer.Exit(1 if flagged else 0)
