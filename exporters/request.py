"""The Wisconsin public-records request bundle (Wis. Stat. 19.35; issue 6 §1).

A BagIt bag whose ``data/`` holds, for the responsive threads:

    README.txt                 for the requester: contents and how to verify them
    letter.html / letter.pdf   release, or partial denial with reasons and the 19.35(4)(b) notice
    fee-worksheet.html/.pdf    19.35(3) fees
    index.csv                  one row per item (id, platform, account, kind, author, created,
                               status, URL, sha256 of the native as shipped)
    records/NNNNN-<id>.html/.pdf   one document per thread (post, comments, replies, versions, media)
    natives/<item id>/v<n>.json    the platform JSON of every version; media/<sha256>.<ext>
    redaction-log.csv          item, kind of information, where, reason, basis (when redacted)
    warc/records.warc.gz       the original WARC records, byte for byte (unredacted releases,
                               or when the officer includes them: then declared unredacted on
                               stderr, in bag-info.txt and in README.txt)
    replay/records.wacz        WACZ 1.1.1 of the same records, for ReplayWeb.page

Threads are processed one at a time, so memory does not grow with the request. A redacted
release reads the threads twice: once to gather every withheld value (``Redactor.prepare``),
once to write; and before the bag is marked done, ``releasecheck`` reads every file back.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from .. import audit
from ..timefmt import agency_time, iso
from . import bagit_bundle, signing
from .. import journal
from ..moderation.entries import write_moderation_csv
from ..progress import report as report_progress
from .letter import FeeInputs, denial_reasons, fee_worksheet, letter_context, load_deny_reasons, REVIEW_NOTICE
from .records import RecordReader, Thread, iter_threads, source_record_ids
from .redact import Redactor, load_redactions
from .releasecheck import refuse_if_leaking
from .render import pdf_pages, printable, render, render_pdf, stylesheet
from .select import Selection, thread_keys
from .warccopy import copy_records
from .wacz import write_wacz
from .output import prepare_output, write_bytes

REDACTION_LOG_COLUMNS = ["item", "platform", "kind", "what", "where", "reason", "basis"]
UNREDACTED_WARNING = ("UNREDACTED ORIGINALS INCLUDED: data/warc/records.warc.gz and data/replay/records.wacz "
                      "are the original captures, NOT redacted: they contain everything the redaction log lists "
                      "as withheld")
INDEX_COLUMNS = ["id", "platform", "account", "kind", "author", "created", "status", "url", "native_sha256",
                 "platform_id", "parent", "versions", "document"]


@dataclass
class RequestSpec:
    request_id: str
    requester: str
    received: str
    selection: Selection
    out: Path
    redactions: str | Path | None = None
    deny_reasons: str | Path | None = None
    include_warc: bool = False  # ship the unredacted WARC/WACZ in a redacted release anyway
    pdf: bool = True
    paper: bool = False  # the requester asked for printed copies (pages are then a 19.35(3)(a) cost)
    fees: FeeInputs = field(default_factory=FeeInputs)
    sign_key: Path | None = None
    actor: str = "unknown"


@dataclass
class RequestResult:
    path: Path
    threads: int = 0
    items: int = 0
    records: int = 0
    redactions: int = 0
    pages: int = 0
    denied: bool = False
    fingerprint: str | None = None
    warnings: list[str] = field(default_factory=list)


def export_request(settings, db, store, spec: RequestSpec, *, now: datetime) -> RequestResult:
    out = prepare_output(spec.out)
    tz = settings.timezone
    redactor = Redactor(load_redactions(spec.redactions))
    reasons = load_deny_reasons(spec.deny_reasons)
    ship_warc = spec.include_warc or not redactor
    if redactor:
        redactor.prepare(iter_threads(db, store, thread_keys(db, spec.selection), with_media=False))
    result = RequestResult(path=out)
    key = signing.load_private(spec.sign_key) if spec.sign_key else None
    result.fingerprint = signing.fingerprint(key.public_key()) if key else None
    record_ids: list[str] = []
    pages: list[dict] = []
    reader = RecordReader(db, store)
    common = {"agency": settings.agency, "tz": tz, "request_id": spec.request_id, "generated": iso(now),
              "redacted": bool(redactor), "css": stylesheet()}

    (out / "records").mkdir()
    exported: list[str] = []
    with open(out / "index.csv", "w", newline="", encoding="utf-8") as fh:
        index = csv.DictWriter(fh, fieldnames=INDEX_COLUMNS)
        index.writeheader()
        for n, original in enumerate(iter_threads(db, store, thread_keys(db, spec.selection)), 1):
            thread = redactor.thread(original)
            doc = f"records/{n:05d}-{original.key}"
            html = render("exports/thread.html", thread=thread, **common)
            write_bytes(out / f"{doc}.html", html.encode("utf-8"))
            if spec.pdf:
                pdf, count = pdf_pages(html)
                write_bytes(out / f"{doc}.pdf", pdf)
                result.pages += count
            for entry, source in zip(thread.entries, original.entries):
                native_sha = _write_natives(out, entry, redacted=entry is not source)
                index.writerow(_index_row(entry, native_sha, doc, tz))
                exported.append(source.id)
                result.items += 1
            report_progress("documents", advance=1) or report_progress("pages", advance=count if spec.pdf else 0)
            if ship_warc:
                record_ids.extend(source_record_ids(db, original))
                pages.extend(_pages(reader, original))
            result.threads += 1

    # The moderation record of the exported comments (hidden or deleted, and why): moderation.csv.
    write_moderation_csv(db, exported, out / "moderation.csv")

    if ship_warc and record_ids:
        (out / "warc").mkdir()
        warc = out / "warc" / "records.warc.gz"
        result.records = copy_records(db, store, record_ids, warc)
        (out / "replay").mkdir()
        write_wacz(out / "replay" / "records.wacz", warc, pages, now=now,
                   title=f"{settings.agency}: records for request {spec.request_id}",
                   description=f"Original captures selected by: {spec.selection.describe()}")

    if redactor:
        _write_redaction_log(out / "redaction-log.csv", redactor.log)
        result.redactions = len(redactor.log)
        result.warnings += [f"redaction for item {r.item} ({r.what}) matched nothing" for r in redactor.unused()]
        if ship_warc:
            result.warnings.append(UNREDACTED_WARNING)
    all_reasons = denial_reasons(reasons, redactor.log)
    result.denied = bool(all_reasons)
    fees = fee_worksheet(settings, replace(spec.fees, printed_pages=result.pages if spec.paper else 0))
    result.warnings += fees.warnings
    letter_ctx = dict(common, **letter_context(settings, spec, result, all_reasons, fees, generated=iso(now)),
                      settings=settings, spec=spec, result=result, reasons=all_reasons, fees=fees,
                      notice=REVIEW_NOTICE, custodian=settings["archive.custodian_name"],
                      custodian_title=settings["archive.custodian_title"], contact=settings["archive.contact_email"],
                      ship_warc=ship_warc, selection=spec.selection.describe(), received=spec.received,
                      unredacted_originals=bool(redactor) and ship_warc)
    for name in ("letter", "fee-worksheet"):
        html = render(f"exports/{name}.html", **letter_ctx)
        write_bytes(out / f"{name}.html", html.encode("utf-8"))
        write_bytes(out / f"{name}.pdf", render_pdf(html))
    write_bytes(out / "README.txt", render("export-readme-request.txt", **letter_ctx).encode("utf-8"))

    logged = _logged_request(db, spec.request_id)
    if logged is None:
        result.warnings.append(f"request {spec.request_id} is not in the request log; log it with "
                               "`archiver request log` so its records are held (19.35(5))")
    bagit_bundle.make_bag(out, {
        "Source-Organization": settings.agency,
        "Contact-Name": f"{settings['archive.custodian_name']}, {settings['archive.custodian_title']}",
        **({"Contact-Email": settings["archive.contact_email"]} if settings["archive.contact_email"] else {}),
        "External-Description": f"Records responsive to public-records request {spec.request_id} (Wis. Stat. 19.35)",
        "External-Identifier": spec.request_id,
        "WI-Request-ID": spec.request_id,
        "WI-Request-Received": spec.received,
        "Legal-Custodian": f"{settings['archive.custodian_name']}, {settings['archive.custodian_title']}",
        "Requester": spec.requester,
        "Selection-Filter": spec.selection.describe(),
        "Redacted": "yes" if redactor else "no",
        **({"Unredacted-Originals": UNREDACTED_WARNING} if redactor and ship_warc else {}),
        **({"WI-Request-Log-Status": logged["status"]} if logged else {}),
    }, now=now)
    if redactor:
        refuse_if_leaking(out, redactor.withheld_values, redactor.label,
                          skip=lambda rel: rel.startswith(("data/warc/", "data/replay/")))
    if key is not None:
        signing.sign(out, "tagmanifest-sha256.txt", key, now=now)
    audit.append(db, spec.actor, "export.request", {
        "request_id": spec.request_id, "requester": spec.requester, "out": str(out),
        "selection": spec.selection.as_dict(), "threads": result.threads, "items": result.items,
        "redactions": result.redactions, "warc_records": result.records, "signed": result.fingerprint,
        "request_log": logged,
    }, now=now)
    if redactor:
        # The custodian's redaction decisions of a released bundle are records-management
        # events: kept in the store's journal, so they outlive the index and the bundle.
        journal.append(db, "export.redactions", {"request_id": spec.request_id, "out": str(out),
                                                 "redactions": redactor.log}, actor=spec.actor, now=now)
    return result


def _write_natives(out: Path, entry, *, redacted: bool) -> str:
    """Write the item's versions (and media) as natives; returns the sha256 of the latest."""
    folder = out / "natives" / entry.id
    if entry.versions or entry.media:  # a withheld item ships no natives
        folder.mkdir(parents=True, exist_ok=True)
    suffix = "-redacted" if redacted else ""
    digest = ""
    for v in entry.versions or []:
        data = printable(v.native or "").encode("utf-8")
        write_bytes(folder / f"v{v.n}{suffix}.json", data)
        digest = hashlib.sha256(data).hexdigest()
    for m in entry.media:
        if m.payload is not None:
            (folder / "media").mkdir(exist_ok=True)
            write_bytes(folder / "media" / f"{m.sha256}.{m.extension}", m.payload)
    return digest


def _index_row(entry, native_sha: str, doc: str, tz: str) -> dict:
    return {"id": entry.id, "platform": entry.platform, "account": entry.account, "kind": entry.kind,
            "author": printable(entry.author), "created": agency_time(entry.created_at, tz),
            "status": entry.status, "url": printable(entry.url), "native_sha256": native_sha,
            "platform_id": printable(entry.platform_id), "parent": printable(entry.parent),
            "versions": len(entry.versions), "document": doc + ".pdf"}


def _pages(reader: RecordReader, thread: Thread) -> list[dict]:
    pages = []
    for e in thread.entries:
        rec = reader.locate(e.record_id) if e.record_id else None
        if rec is not None and rec.target_uri and rec.date:
            pages.append({"url": rec.target_uri, "ts": rec.date, "title": f"{e.kind} {e.platform_id} ({e.account})"})
    return pages


def _write_redaction_log(path: Path, log: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=REDACTION_LOG_COLUMNS)
        writer.writeheader()
        writer.writerows(log)


def _logged_request(db, request_id: str) -> dict | None:
    """The request's row in the retention request log (``records_requests``), when that
    table exists; exports do not depend on the retention area being installed."""
    if "records_requests" not in db.table_names():
        return None
    row = db.conn.execute("SELECT name, status, received, hold_id FROM records_requests WHERE name = ?",
                          (request_id,)).fetchone()
    return dict(zip(("name", "status", "received", "hold_id"), row)) if row else None
