"""Export commands: ``export request``, ``export ediscovery``, ``verify``, ``keys create``.

Thin: each parses its options, calls one library function in ``archiver.exporters``, and
prints a summary (data to stdout, progress to stderr). ``--actor`` (default: the OS user)
is who the audit log records as having exported.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import List, Optional

import typer

from ..progress import on_terminal
from . import common

export_app = typer.Typer(help="Produce a public-records request bundle or an e-discovery volume.",
                         no_args_is_help=True)
keys_app = typer.Typer(help="Signing keys for exports (Ed25519).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
    app.add_typer(keys_app, name="keys")
    app.command("verify")(verify)


def _actor(value: Optional[str]) -> str:
    if value:
        return value
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"


def _open(ctx: typer.Context, date_from: str, date_to: str, account):
    """Settings, index and store, once the values typed are checked (nothing written before)."""
    from ..store import open_store

    settings = common.settings(ctx)
    common.check_range(date_from, date_to, settings.timezone)
    db = common.index(settings)
    common.check_names(settings, db, accounts=account)
    return settings, db, open_store(settings)


def _selection(settings, date_from, date_to, query, account):
    from ..exporters.select import Selection

    return Selection(date_from, date_to, query, tuple(account or ()), settings.timezone)


@export_app.command("request")
def export_request(
    ctx: typer.Context,
    request_id: str = typer.Option(..., "--request-id", help="The request's id (as logged with `archiver request log`)"),
    requester: str = typer.Option(..., "--requester", help="Who asked"),
    received: str = common.date_option(..., "--received", help="Date the request was received"),
    date_from: str = common.date_option(..., "--from", help="First day (agency time)"),
    date_to: str = common.date_option(..., "--to", help="Last day, inclusive (agency time)"),
    query: Optional[str] = typer.Option(None, "--query", help="Full-text filter, as in `archiver search`"),
    account: List[str] = typer.Option(None, "--account", help="Only this account (repeatable)"),
    redactions: Optional[Path] = typer.Option(None, "--redactions", help="Redactions file (TOML, see docs)"),
    deny_reasons: Optional[Path] = typer.Option(None, "--deny-reasons", help="Reasons for withholding (TOML)"),
    out: Path = typer.Option(..., "--out", help="New directory for the bag"),
    include_warc: bool = typer.Option(False, "--include-warc", help="Ship the original WARC/WACZ even when redacted"),
    paper: bool = typer.Option(False, "--paper", help="The requester wants printed copies (pages are charged)"),
    media: int = typer.Option(0, "--media", help="Physical media supplied (USB sticks, discs)"),
    location_hours: float = typer.Option(0.0, "--location-hours", help="Staff hours spent locating records"),
    redaction_hours: float = typer.Option(0.0, "--redaction-hours", help="Hours spent redacting (never charged)"),
    mail: bool = typer.Option(False, "--mail", help="Mailed or shipped"),
    waive_fees: Optional[str] = typer.Option(None, "--waive-fees", help="Reason fees are waived in the public interest"),
    reduce_fees_to: Optional[str] = typer.Option(None, "--reduce-fees-to",
                                                 help="Charge this reduced amount instead (reason: --waive-fees)"),
    sign: Optional[Path] = typer.Option(None, "--sign", help="Sign with this key (`archiver keys create`)"),
    actor: Optional[str] = typer.Option(None, "--actor", help="Who is exporting (default: the OS user)"),
):
    """Wisconsin 19.35 request bundle: a BagIt bag with rendered records, natives, WARC/WACZ, letter and fees."""
    from ..exporters.jobs import run_recorded
    from ..exporters.letter import FeeInputs
    from ..exporters.request import RequestSpec
    from ..timefmt import utcnow

    settings, db, store = _open(ctx, date_from, date_to, account)
    spec = RequestSpec(request_id, requester, received, _selection(settings, date_from, date_to, query, account),
                       out, redactions=redactions, deny_reasons=deny_reasons, include_warc=include_warc, paper=paper,
                       fees=FeeInputs(media=media, location_hours=location_hours, redaction_hours=redaction_hours,
                                      mailed=mail, waiver=waive_fees, reduced_to=reduce_fees_to),
                       sign_key=sign, actor=_actor(actor))
    typer.echo(f"exporting request {request_id} to {out} ...", err=True)
    with on_terminal():
        result = run_recorded("request", settings, db, store, spec,
                              {"request_id": request_id, "requester": requester, "received": received}, now=utcnow)
    for warning in result.warnings:
        typer.echo(f"Warning: {warning}", err=True)
    common.emit([{"bag": str(result.path), "threads": result.threads, "items": result.items,
                  "warc_records": result.records, "redactions": result.redactions,
                  "letter": "partial denial" if result.denied else "release", "signed": result.fingerprint or ""}],
                "table")


@export_app.command("ediscovery")
def export_ediscovery(
    ctx: typer.Context,
    matter: str = typer.Option(..., "--matter", help="Matter name (in the README and custody report)"),
    bates_prefix: str = typer.Option(..., "--bates-prefix", help="Bates prefix, no spaces (e.g. PD-SM-)"),
    start: Optional[int] = typer.Option(None, "--start", help="First Bates number (default: after the last one "
                                        "issued under this prefix; a number already issued is refused)"),
    date_from: str = common.date_option(..., "--from", help="First day (agency time)"),
    date_to: str = common.date_option(..., "--to", help="Last day, inclusive (agency time)"),
    query: Optional[str] = typer.Option(None, "--query", help="Full-text filter, as in `archiver search`"),
    account: List[str] = typer.Option(None, "--account", help="Only this account (repeatable)"),
    out: Path = typer.Option(..., "--out", help="New directory for the volume"),
    volume: str = typer.Option("VOL001", "--volume", help="Volume name (load-file names)"),
    redactions: Optional[Path] = typer.Option(None, "--redactions", help="Redactions file (TOML, docs/redaction.md)"),
    images: str = typer.Option("pdf", "--images", help="Page images: pdf, tiff (single-page Group 4, black and "
                               "white), tiff-color (single-page LZW) or jpg"),
    confidentiality: str = typer.Option("", "--confidentiality", help="Protective-order designation stamped on "
                                        "every page and put in the CONFIDENTIAL field (e.g. \"CONFIDENTIAL\")"),
    sign: Optional[Path] = typer.Option(None, "--sign", help="Sign with this key (`archiver keys create`)"),
    actor: Optional[str] = typer.Option(None, "--actor", help="Who is exporting (default: the OS user)"),
):
    """E-discovery production: DAT/OPT load files, Bates-stamped PDFs, NATIVES, TEXT, chain of custody."""
    from ..exporters.ediscovery import EdiscoverySpec
    from ..exporters.jobs import run_recorded
    from ..timefmt import utcnow

    settings, db, store = _open(ctx, date_from, date_to, account)
    spec = EdiscoverySpec(matter, bates_prefix, _selection(settings, date_from, date_to, query, account), out,
                          start=start, volume=volume, sign_key=sign, actor=_actor(actor), redactions=redactions,
                          images=images, confidentiality=confidentiality)
    typer.echo(f"producing {matter} to {out} ...", err=True)
    with on_terminal():
        result = run_recorded("ediscovery", settings, db, store, spec,
                              {"matter": matter, "bates_prefix": bates_prefix}, now=utcnow)
    common.emit([{"volume": str(result.path), "documents": result.documents, "families": result.families,
                  "pages": result.pages, "bates": f"{result.first_bates}–{result.last_bates}",
                  "next_start": result.next_start, "signed": result.fingerprint or ""}], "table")


def verify(
    path: Path = typer.Argument(..., help="A request bundle, an e-discovery volume or a .wacz"),
    key: Optional[Path] = typer.Option(None, "--key", help="Expected signer's public key (.pub)"),
):
    """Check a bundle or production: exit 0 when intact, 1 with the list of problems."""
    from ..exporters.verify import verify as run_verify

    report = run_verify(path, key=key)
    for line in report.checked:
        typer.echo(f"checked: {line}", err=True)
    if report.ok:
        signed = f", signed by {report.fingerprint}" if report.fingerprint else ""
        typer.echo(f"OK: {report.path} is an intact {report.kind}{signed}")
        return
    typer.echo(f"FAILED: {report.path} ({report.kind}) has {len(report.problems)} problem(s):")
    for problem in report.problems:
        typer.echo(f"  - {problem}")
    raise typer.Exit(1)


@keys_app.command("create")
def keys_create(
    directory: Path = typer.Option(Path("."), "--dir", help="Where to write NAME.key and NAME.pub"),
    name: str = typer.Option("archiver-export", "--name", help="File name stem"),
):
    """Make an Ed25519 signing key for exports (keep the .key private; publish the .pub fingerprint)."""
    from ..exporters.signing import create_key

    private, public, fingerprint = create_key(directory, name)
    typer.echo(f"private key: {private} (mode 600; keep it off shared drives)\npublic key:  {public}\n"
               f"fingerprint: {fingerprint}")
