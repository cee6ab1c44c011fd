"""Retention commands: schedules (retention), legal holds (hold), records requests (request),
disposition (dispose) and the audit log (audit). Each body parses, calls one library
function, and renders; the rules live in ``archiver.retention``."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import List, Optional

import typer

from ..progress import on_terminal
from . import common

retention_app = typer.Typer(help="Retention schedules: show, report, assign, recompute.", no_args_is_help=True)
hold_app = typer.Typer(help="Legal holds: add, list, release.", no_args_is_help=True)
request_app = typer.Typer(help="Records requests (Wis. Stat. 19.35), which hold their records.", no_args_is_help=True,
                           short_help="Records requests under Wisconsin's public-records law, and their holds.")
dispose_app = typer.Typer(help="Disposition: plan, notice, reply, approve, apply (dry run by default).",
                          no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(retention_app, name="retention")
    app.add_typer(hold_app, name="hold")
    app.add_typer(request_app, name="request")
    app.add_typer(dispose_app, name="dispose")
    app.add_typer(audit_app, name="audit")


# The filters of `archiver search`, declared once and shared by every selecting command.
FROM = common.date_option(None, "--from", help="First day (agency timezone)")
TO = common.date_option(None, "--to", help="Last day, inclusive")
QUERY = typer.Option(None, "--query", help='Full text, as in `search`')
ACCOUNT = typer.Option(None, "--account", help="Account name (repeatable)")
PLATFORM = typer.Option(None, "--platform", help="Platform (repeatable)")
AUTHOR = typer.Option(None, "--author")
KIND = typer.Option(None, "--kind", help="post, comment or reply (repeatable)")
IDS = typer.Option(None, "--id", help="One item id (repeatable)")
BY = typer.Option(None, "--by", help="Who is doing this (default: the login name)")
FORMAT = typer.Option("table", "--format", callback=common.check_format)


def _filters(date_from, date_to, query, account, platform, author, kind, ids=None) -> dict:
    from ..retention.selection import make_query

    common.check_range(date_from, date_to)
    return make_query(date_from=date_from, date_to=date_to, text=query, accounts=account or [],
                      platforms=platform or [], author=author, kinds=kind or [], item_ids=ids or [])



def _day(value: str, option: str) -> date:
    from ..errors import UsageError

    try:
        return common.day(value)
    except UsageError as exc:
        raise UsageError(f"{option}: {exc}") from None


def _open(ctx: typer.Context, with_store: bool = True):
    from ..store import open_store

    settings = common.settings(ctx)
    return settings, common.index(settings), (open_store(settings) if with_store else None)


def _json(value) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


# --- retention ------------------------------------------------------------------------------

@retention_app.command("show")
def retention_show(ctx: typer.Context, fmt: str = FORMAT):
    """The schedule in force and its series."""
    from ..retention.report import schedule_rows

    schedule, rows = schedule_rows(common.settings(ctx))
    typer.echo(f"schedule: {schedule.title} ({schedule.name} {schedule.version}) from {schedule.source}", err=True)
    if schedule.placeholder:
        typer.echo(f"WARNING: placeholder schedule. {schedule.placeholder_note}", err=True)
    common.emit(rows, fmt, ["code", "title", "retention", "event", "disposition", "whs_notice", "citation"])


@retention_app.command("report")
def retention_report(ctx: typer.Context, fmt: str = FORMAT):
    """Items and bytes per series, items due, next disposition dates, active holds."""
    from ..retention.report import full_report

    settings, db, _ = _open(ctx, with_store=False)
    report = full_report(db, settings)
    if fmt == "json":
        return _json(report)
    common.emit(report["series"], fmt, ["series", "title", "retention", "items", "bytes", "due", "next_date", "held",
                                        "whs_notice"])
    if fmt == "table":
        for hold in report["holds"]:
            typer.echo(f"hold {hold['name']} ({hold['kind']}): {hold['items']} item(s); {hold['matter']}", err=True)


@retention_app.command("assign")
def retention_assign(ctx: typer.Context, series: Optional[str] = typer.Option(None, "--series"),
                     clear: bool = typer.Option(False, "--clear", help="Remove the override instead"),
                     reason: str = typer.Option(..., "--reason", help="Why (kept in the audit log)"),
                     ids: List[str] = IDS, date_from: Optional[str] = FROM, date_to: Optional[str] = TO,
                     query: Optional[str] = QUERY, account: List[str] = ACCOUNT, platform: List[str] = PLATFORM,
                     author: Optional[str] = AUTHOR, kind: List[str] = KIND, by: Optional[str] = BY):
    """Override the series of one item (--id) or of a search result set."""
    from ..retention.assign import override

    if bool(series) == clear:
        raise typer.BadParameter("give --series CODE, or --clear to remove overrides")
    filters = _filters(date_from, date_to, query, account, platform, author, kind, ids)
    if not filters:
        raise typer.BadParameter("select items with --id or search filters")
    settings, db, store = _open(ctx)
    common.check_names(settings, db, accounts=account, platforms=platform)
    result = override(db, settings, filters, None if clear else series, reason=reason, actor=common.actor(by), store=store)
    typer.echo(f"{result['items']} item(s) now {'follow the rules' if clear else 'in series ' + series}")


@retention_app.command("event")
def retention_event(ctx: typer.Context, name: str = typer.Option(..., "--name", help="The EVT event, e.g. 'case closed'"),
                    on: str = common.date_option(..., "--date", help="The day it happened"),
                    ids: List[str] = IDS, date_from: Optional[str] = FROM, date_to: Optional[str] = TO,
                    query: Optional[str] = QUERY, account: List[str] = ACCOUNT, by: Optional[str] = BY):
    """Record the day an EVT trigger happened for the selected items."""
    from ..retention.assign import record_event

    filters = _filters(date_from, date_to, query, account, None, None, None, ids)
    if not filters:
        raise typer.BadParameter("select items with --id or search filters")
    settings, db, store = _open(ctx)
    common.check_names(settings, db, accounts=account)
    result = record_event(db, settings, filters, name, _day(on, "--date"), actor=common.actor(by), store=store)
    typer.echo(f"event {name!r} on {result['date']} recorded for {result['items']} item(s)")


@retention_app.command("recompute")
def retention_recompute(ctx: typer.Context, by: Optional[str] = BY):
    """Reload the schedule, recompute every item's series and date, re-apply holds and locks."""
    from ..retention.assign import recompute

    settings, db, store = _open(ctx)
    result = recompute(db, settings, actor=common.actor(by), store=store)
    typer.echo(f"{result['items']} item(s) under {result['schedule']}"
               f"{' (schedule changed: recorded)' if result['schedule_changed'] else ''}; "
               f"{result['newly_held']} newly held")
    for problem in (result["object_lock"] or {}).get("errors", []):
        typer.echo(f"Error: object lock: {problem}", err=True)
    if (result["object_lock"] or {}).get("errors"):
        raise typer.Exit(1)


# --- hold -----------------------------------------------------------------------------------

@hold_app.command("add")
def hold_add(ctx: typer.Context, name: str = typer.Option(..., "--name"), matter: str = typer.Option(..., "--matter"),
             date_from: Optional[str] = FROM, date_to: Optional[str] = TO, query: Optional[str] = QUERY,
             account: List[str] = ACCOUNT, platform: List[str] = PLATFORM, author: Optional[str] = AUTHOR,
             kind: List[str] = KIND, ids: List[str] = IDS, by: Optional[str] = BY):
    """Place a legal hold on everything a search with these filters finds (now and later)."""
    from ..retention.holds import add_hold

    settings, db, store = _open(ctx)
    common.check_names(settings, db, accounts=account, platforms=platform)
    filters = _filters(date_from, date_to, query, account, platform, author, kind, ids)
    result = add_hold(db, settings, name, matter, filters, actor=common.actor(by), store=store)
    typer.echo(f"hold {name!r} placed on {result['items']} item(s) ({result['filters']})")


@hold_app.command("list")
def hold_list(ctx: typer.Context, fmt: str = FORMAT):
    """Every hold, active or ended."""
    from ..retention.holds import list_holds

    settings, db, _ = _open(ctx, with_store=False)
    common.emit(list_holds(db, settings), fmt, ["name", "kind", "active", "items", "matter", "filters", "placed_by",
                                                "placed_at", "ends_on", "released_at"])


@hold_app.command("release")
def hold_release(ctx: typer.Context, name: str = typer.Argument(...), by: Optional[str] = BY):
    """Release a legal hold; objects keep their S3 legal hold while another hold needs it."""
    from ..retention.holds import release_hold

    settings, db, store = _open(ctx)
    result = release_hold(db, settings, name, actor=common.actor(by), store=store)
    typer.echo(f"hold {name!r} released at {result['released_at']}")


# --- request --------------------------------------------------------------------------------

@request_app.command("log")
def request_log(ctx: typer.Context, name: str = typer.Option(..., "--name", help="Your request number"),
                requester: str = typer.Option(..., "--requester"),
                received: str = common.date_option(..., "--received", help="Day received"),
                description: str = typer.Option(..., "--description"),
                committed: bool = typer.Option(False, "--committed", help="Requester is committed or incarcerated"),
                date_from: Optional[str] = FROM, date_to: Optional[str] = TO, query: Optional[str] = QUERY,
                account: List[str] = ACCOUNT, platform: List[str] = PLATFORM, author: Optional[str] = AUTHOR,
                kind: List[str] = KIND, by: Optional[str] = BY):
    """Log a request; the records in its scope are held (19.35(5))."""
    from ..retention.holds import log_request

    settings, db, store = _open(ctx)
    common.check_names(settings, db, accounts=account, platforms=platform)
    filters = _filters(date_from, date_to, query, account, platform, author, kind)
    result = log_request(db, settings, name, requester=requester, received=_day(received, "--received"),
                         description=description, filters=filters, committed=committed, actor=common.actor(by), store=store)
    typer.echo(f"request {name!r} logged; {result['items_held']} item(s) held")


@request_app.command("close")
def request_close(ctx: typer.Context, name: str = typer.Argument(...),
                  granted: Optional[str] = common.date_option(None, "--granted", help="Day the request was granted"),
                  denied: Optional[str] = common.date_option(None, "--denied", help="Day the request was denied"),
                  partly_denied: Optional[str] = common.date_option(
                      None, "--partly-denied", help="Day it was granted in part and denied in part"),
                  withheld: List[str] = typer.Option(
                      None, "--withheld", help="Archive id of an item withheld or redacted (repeatable; with "
                                               "--partly-denied; without it the whole scope stays held)"),
                  by: Optional[str] = BY):
    """Close a request: granted ends its hold; denied (or partly denied: the withheld part)
    keeps its records 60 business days (90: requester committed or incarcerated), 19.35(5)."""
    from ..retention.holds import close_request

    given = [(o, d) for o, d in (("granted", granted), ("denied", denied), ("partly-denied", partly_denied)) if d]
    if len(given) != 1:
        raise typer.BadParameter("give exactly one of --granted DATE, --denied DATE or --partly-denied DATE")
    outcome, on = given[0]
    settings, db, store = _open(ctx)
    result = close_request(db, settings, name, outcome, _day(on, f"--{outcome}"), actor=common.actor(by), store=store,
                           withheld=withheld or [])
    if not result["held_through"]:
        held = "; hold ended"
    elif result["withheld"]:
        held = f"; the {result['withheld']} withheld item(s) are held through {result['held_through']}, the rest released"
    else:
        held = f"; records held through {result['held_through']}"
    typer.echo(f"request {name!r} {outcome}{held}")


@request_app.command("list")
def request_list(ctx: typer.Context, fmt: str = FORMAT):
    """Every logged request and how long its records are held."""
    from ..retention.holds import list_requests

    _, db, _ = _open(ctx, with_store=False)
    common.emit(list_requests(db), fmt)


# --- dispose --------------------------------------------------------------------------------

@dispose_app.command("plan")
def dispose_plan(ctx: typer.Context, as_of: str = common.date_option(..., "--as-of", help="Day to plan for"),
                 fmt: str = FORMAT, by: Optional[str] = BY):
    """List what is eligible on a day and why, grouped by stored object; records the plan."""
    from ..retention.disposition import make_plan

    settings, db, _ = _open(ctx, with_store=False)
    plan = make_plan(db, settings, _day(as_of, "--as-of"), actor=common.actor(by))
    if fmt == "json":
        return _json(plan)
    rows = [{"object": o["key"], "items": len({i["id"] for i in o["items"]}), "bytes": o["size"],
             "series": ",".join(sorted({i["series"] for i in o["items"]})), "plan": "eligible"} for o in plan["objects"]]
    rows += [{"object": b["key"], "items": "", "bytes": "", "series": "", "plan": "held back: " + "; ".join(b["reasons"])}
             for b in plan["blocked"]]
    common.emit(rows, fmt, ["object", "items", "bytes", "series", "plan"])
    t = plan["totals"]
    typer.echo(f"plan {plan['plan']}: {t['objects']} object(s) holding {t['items']} distinct item(s), {t['bytes']} "
               f"bytes eligible on {plan['as_of']}; {t['held_back']} object(s) with due items held back", err=True)
    for b in plan["blocked"]:  # in full: a table cell is cut at 60 characters
        typer.echo(f"held back {b['key']}: {'; '.join(b['reasons'])}", err=True)
    for s in plan["series"]:
        typer.echo(f"Historical Society notice for {s['series']}: {s['notice'].replace('plan N', 'plan ' + str(plan['plan']))}",
                   err=True)
    if plan["schedule"]["placeholder"]:
        typer.echo("WARNING: the schedule is the shipped placeholder, not an adopted schedule: "
                   "`dispose apply` will refuse to destroy anything under it", err=True)


@dispose_app.command("notice")
def dispose_notice(ctx: typer.Context, plan: int = typer.Option(..., "--plan"),
                   letter_date: str = common.date_option(..., "--date", help="The letter's date"),
                   contact: str = typer.Option(..., "--contact", help="Name, phone, e-mail of a knowledgeable contact"),
                   out: Path = typer.Option(Path("."), "--out", help="Directory for the letter (HTML + PDF)"),
                   by: Optional[str] = BY):
    """Write the Historical Society notice letter (19.21(4)(a)) for a plan's notify series."""
    from ..retention.certificate import write_notice
    from ..retention.disposition import send_notice

    settings, db, _ = _open(ctx, with_store=False)
    letter = send_notice(db, settings, plan, _day(letter_date, "--date"), contact=contact, actor=common.actor(by))
    paths = write_notice(letter, out)
    typer.echo("\n".join(str(p) for p in paths))
    typer.echo(f"mail it; destruction of these series is refused before {letter['not_before']} "
               "unless a reply is recorded (`archiver dispose reply`)", err=True)


@dispose_app.command("reply")
def dispose_reply(ctx: typer.Context, series: str = typer.Option(..., "--series"),
                  reply: str = typer.Option(..., "--reply", help="declined, waived or accepted"),
                  on: str = common.date_option(..., "--date", help="Date of the Society's reply"), by: Optional[str] = BY):
    """Record the Historical Society's reply to a notice."""
    from ..retention.disposition import record_reply

    _, db, _ = _open(ctx, with_store=False)
    count = record_reply(db, series, reply, _day(on, "--date"), actor=common.actor(by))
    typer.echo(f"reply {reply!r} recorded on {count} notice(s) for {series}")


@dispose_app.command("approve")
def dispose_approve(ctx: typer.Context, plan: int = typer.Option(..., "--plan"),
                    by: str = typer.Option(..., "--by", help="The approver's name and title")):
    """Record the approval of a plan."""
    from ..retention.disposition import approve_plan

    _, db, _ = _open(ctx, with_store=False)
    result = approve_plan(db, plan, approver=by)
    typer.echo(f"plan {plan} approved by {result['approved_by']} at {result['approved_at']}")


@dispose_app.command("apply")
def dispose_apply(ctx: typer.Context, plan: int = typer.Option(..., "--plan"),
                  yes: bool = typer.Option(False, "--yes", help="Really destroy (without it: a dry run)"),
                  out: Optional[Path] = typer.Option(None, "--out", help="Directory for the certificate"),
                  by: Optional[str] = BY):
    """Destroy what an approved plan still allows today and write the certificate of destruction."""
    from ..retention.disposition import apply_plan

    settings, db, store = _open(ctx)
    out = out or settings.index_path.parent / "certificates"
    with on_terminal():
        result = apply_plan(db, store, settings, plan, actor=common.actor(by), confirm=yes, out_dir=out)
    keys = [o["key"] for o in result["would_destroy"]] if result["dry_run"] else result["destroyed"]
    common.emit([{"object": k, "action": "would destroy" if result["dry_run"] else "destroyed"} for k in keys]
                + [{"object": r["key"], "action": "kept: " + "; ".join(r["reasons"])} for r in result["refused"]],
                "table", ["object", "action"])
    if result["dry_run"]:
        typer.echo("dry run: nothing was destroyed (add --yes to destroy)", err=True)
        return
    if result["files"]:
        typer.echo("certificate: " + ", ".join(result["files"]), err=True)
    if result["store_refused"]:
        typer.echo(f"Error: the store refused {len(result['store_refused'])} object(s); the index still has them",
                   err=True)
        raise typer.Exit(1)


# --- audit ----------------------------------------------------------------------------------

@audit_app.command("verify")
def audit_verify(ctx: typer.Context):
    """Walk the hash chain; exit 1 if any row was changed, inserted or deleted."""
    from ..audit import verify

    _, db, _ = _open(ctx, with_store=False)
    problems = verify(db)
    count = db.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    for problem in problems:
        typer.echo(f"Error: {problem}", err=True)
    if problems:
        raise typer.Exit(1)
    last = db.conn.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    # Keep the last hash somewhere else: removing the newest rows breaks no link after them.
    typer.echo(f"audit log intact: {count} row(s); last hash {last[0] if last else '-'}")
