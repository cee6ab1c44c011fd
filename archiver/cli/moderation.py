"""The moderation record: `moderation reason`, `moderation policy`, `moderation history`, `report moderation`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from . import common

moderation_app = typer.Typer(help="The moderation record: why comments were removed, under the posted policy.",
                             no_args_is_help=True)
REPORT_COLUMNS = ["detected_at", "account", "kind", "author", "text", "attribution", "category", "recorded_by",
                  "item_id"]


def register(app: typer.Typer) -> None:
    from .ops import report_app

    moderation_app.command("reason")(reason)
    moderation_app.command("policy")(policy)
    moderation_app.command("history")(history)
    app.add_typer(moderation_app, name="moderation")
    report_app.command("moderation")(report)



def _policy(settings):
    from ..moderation.policy import load_policy

    return load_policy(settings["moderation.policy"] or None)


def reason(ctx: typer.Context, item_id: str = typer.Argument(..., help="The archive id of the hidden or deleted comment"),
           category: str = typer.Option(..., "--category", help="The policy category it was removed under"),
           note: str = typer.Option("", "--note", help="Why, in a sentence"),
           decided_by: Optional[str] = typer.Option(None, "--decided-by", help="Who decided the removal "
                                                    "(default: whoever records it)"),
           by: Optional[str] = typer.Option(None, "--by", help="Who records this entry (default: the login name)")):
    """Record the posted-policy category under which a hidden or deleted comment was removed (append-only)."""
    from ..moderation.reasons import record_reason

    settings = common.settings(ctx)
    entry = record_reason(common.index(settings), settings, _policy(settings), item_id, category, note=note,
                          decided_by=decided_by, actor=common.actor(by))
    corrected = f" (corrects entry {entry['supersedes']})" if entry["supersedes"] else ""
    typer.echo(f"recorded: {item_id} {entry['removal']} — {entry['category_title']} ({entry['category']}, policy "
               f"{entry['policy']} version {entry['policy_version']}), decided by {entry['decided_by']}{corrected}")


def policy(ctx: typer.Context, fmt: str = typer.Option("table", "--format", callback=common.check_format)):
    """Print the loaded comment policy: every version with its categories."""
    settings = common.settings(ctx)
    loaded = _policy(settings)
    rows = [{"version": v.version, "effective": v.effective.isoformat(), "category": c.name, "title": c.title,
             "text": c.text, "published_at": v.published_at} for v in loaded.versions for c in v.categories]
    common.emit(rows, fmt, ["version", "effective", "category", "title", "text"] if fmt == "table" else None)
    note = " — an EXAMPLE, not the agency's posted policy: set moderation.policy" if loaded.placeholder else ""
    typer.echo(f"{loaded.name}: {len(loaded.versions)} version(s) from {loaded.source}{note}", err=True)


def history(ctx: typer.Context, item_id: str = typer.Argument(...),
            fmt: str = typer.Option("table", "--format", callback=common.check_format)):
    """Every reason entry recorded for one comment, corrections included."""
    from ..moderation.reasons import history as entries, latest_removal

    settings = common.settings(ctx)
    db = common.index(settings)
    latest_removal(db, item_id)  # refuses an unknown id
    common.emit(entries(db, item_id), fmt, ["id", "recorded_at", "category", "decided_by", "recorded_by", "note",
                                            "supersedes", "policy_version"])


def report(ctx: typer.Context,
           date_from: str = common.date_option(..., "--from", help="First day removals were found (agency timezone)"),
           date_to: str = common.date_option(..., "--to", help="Last day, inclusive"),
           account: Optional[List[str]] = typer.Option(None, "--account", help="Only this account (repeatable)"),
           fmt: str = typer.Option("table", "--format", callback=common.check_format),
           out: Optional[Path] = typer.Option(None, "--out", help="Write the verifiable bundle (BagIt: PDF, CSV, "
                                              "JSON, policy) to this new directory"),
           by: Optional[str] = typer.Option(None, "--by", help="Who makes the report (default: the login name)")):
    """Every removal of the period with attribution and recorded reason; those without a reason first."""
    from ..moderation.bundle import write_bundle
    from ..moderation.report import build_report, to_json
    from ..timefmt import utcnow

    settings = common.settings(ctx)
    common.check_range(date_from, date_to, settings.timezone)
    db = common.index(settings)
    rep = build_report(db, settings, _policy(settings), date_from=date_from, date_to=date_to, accounts=account or [])
    if out is not None:
        path = write_bundle(db, settings, rep, out, actor=common.actor(by), now=utcnow())
        typer.echo(f"{len(rep.rows)} removal(s), {rep.unrecorded} without a recorded reason; bundle written to {path}"
                   " (check it with `archiver verify`)", err=True)
        return
    if fmt == "json":
        sys.stdout.write(to_json(rep))
    else:
        common.emit(rep.rows, fmt, REPORT_COLUMNS if fmt == "table" else None)
    typer.echo(f"{len(rep.rows)} removal(s), {rep.unrecorded} without a recorded reason", err=True)
