"""The e-discovery production volume (issue 6 §2; domain.md §C).

    DATA/<volume>.dat        Concordance/Relativity DAT (0x14, þ, ®, UTF-8 BOM, header row)
    DATA/<volume>.opt        Opticon image load file (7 fields per page line)
    IMAGES/NNN/<BEGBATES>.pdf    page images, Bates number stamped bottom right on each page
                                 (or IMAGES/NNN/<page Bates>.tif|.jpg, one per page: ``--images``)
    NATIVES/NNN/<BEGBATES>.json|.png|...   the platform JSON (posts, comments, replies) or media
    TEXT/NNN/<BEGBATES>.txt  extracted text, document level
    custody.csv / custody.pdf    chain of custody; README.txt (delimiters and fields)
    privilege-log.csv / .pdf     documents withheld whole by the redactions file (``privilege``)
    manifest-sha256.txt      sha256 of every file above (``archiver verify``)

Documents are posts, comments, replies, their earlier versions (``versions``) and their
media files. A thread is a family: the post is the parent, its comments, replies, earlier
versions and media the attachments (BEGATTACH/ENDATTACH span the family; PARENTID is the
post's BEGBATES; INREPLYTO the direct parent's; VERSIONOF the current version's). Bates numbers
are page-level (the first page gives BEGBATES) and unique per prefix across volumes: a
production continues after the last range the index recorded for its prefix (``bates``).

Documents are laid out in jobs of JOB_DOCS (one WeasyPrint render, split per document) by
worker processes (``imaging``); pages are numbered and stamped in production order, and each
finished job is filed here: page images, natives, text, OPT lines, custody rows, and the DAT
rows of every family whose last document it completes. Memory holds a few jobs, whatever the
size of the production.

With ``--redactions`` (the request bundle's file, ``redact``): page images are rendered from
the redacted text, so withheld text never reaches a page; TEXT files and natives are the
redacted copies, REDACTED says Y for each document that was changed, withheld items are not
produced and go on the privilege log, and the finished volume is read back by the release
check (``releasecheck``) before its manifest is written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Iterator

from .. import audit
from ..timefmt import iso
from . import signing
from .. import journal
from ..moderation.entries import write_moderation_csv
from ..progress import report as report_progress
from . import bates as bates_ranges
from .bates import Bates
from .custody import CustodyLog, write_report
from .dat import DatWriter, opt_lines
from .imaging import Job, PagePool, Rendered
from .pageimages import image_format
from .stamp import check_legend
from .output import prepare_output, write_bytes
from .privilege import PrivilegeLog
from .readable import readable
from .redact import Redactor, load_redactions
from .releasecheck import refuse_if_leaking
from .records import Entry, Media, RecordReader, Thread, describe_status, iter_threads
from .render import printable, render, stylesheet
from .select import Selection, thread_keys
from .manifest import write_manifest
from .versions import earlier_versions

FIELDS = ["BEGBATES", "ENDBATES", "BEGATTACH", "ENDATTACH", "PARENTID", "INREPLYTO", "ATTACHCOUNT",
          "PAGECOUNT", "CUSTODIAN", "PLATFORM", "ITEMTYPE", "ITEMID", "PLATFORMID", "THREADID", "AUTHOR",
          "AUTHORID", "DATECREATED", "DATEEDITED", "CAPTUREDATE", "URL", "STATUS", "HISTORY", "VERSIONS", "FILEEXT",
          "MD5HASH", "SHA256HASH", "NATIVEPATH", "TEXTPATH", "WARCFILE", "WARCRECID", "PAYLOADDIGST",
          "REDACTED"]
# VERSION: this document's version of the item; VERSIONOF: BEGBATES of the current version
# (earlier versions only). CONFIDENTIAL: the protective-order designation stamped on the pages
# (the usual CONFIDENTIALITY is 15 characters, and Concordance cuts names to 12: to this one).
FIELDS += ["VERSION", "VERSIONOF", "CONFIDENTIAL"]
JOB_DOCS = 120  # documents per WeasyPrint render: amortises its set-up, bounds worker memory
PER_FOLDER = 1000  # files per IMAGES/NATIVES/TEXT subfolder (DOJ ATR: at most 5,000)


@dataclass
class EdiscoverySpec:
    matter: str
    bates_prefix: str
    selection: Selection
    out: Path
    start: int | None = None  # None: after the last Bates number issued under the prefix
    width: int = 7
    volume: str = "VOL001"
    sign_key: Path | None = None
    actor: str = "unknown"
    workers: int = 2  # page-layout processes (the issue 6 target machine has 2 cores); 0: in this one
    redactions: Path | None = None  # the redactions file (TOML, as for request bundles)
    images: str = "pdf"  # page image format: pdf, tiff, tiff-color, jpg (``pageimages``)
    confidentiality: str = ""  # protective-order designation: CONFIDENTIAL field and page stamp


@dataclass
class Doc:
    anchor: str
    itemtype: str
    custodian: str
    entry: Entry | None = None  # None for a media document
    media: Media | None = None
    owner: Entry | None = None  # the item a media file belongs to
    parent_doc: "Doc | None" = None
    version_of: "Doc | None" = None  # an earlier version's document: the item's current one
    version: int | None = None  # the version this document shows
    versions: int | None = None  # how many the item has
    family: list["Doc"] = field(default_factory=list, repr=False, compare=False)  # the thread's, post first
    begbates: str = ""
    endbates: str = ""
    pages: int = 0
    row: dict = field(default_factory=dict)
    redacted: bool = False  # the released copy differs from the archived item


@dataclass
class EdiscoveryResult:
    path: Path
    documents: int = 0
    families: int = 0
    pages: int = 0
    first_bates: str = ""
    last_bates: str = ""
    next_start: int = 1
    fingerprint: str | None = None
    withheld: int = 0  # documents on the privilege log


def _family(thread: Thread, db, reader: RecordReader, redactor: Redactor | None = None,
            privilege: PrivilegeLog | None = None) -> list[Doc]:
    docs, by_pid = [], {}
    released = redactor.thread(thread) if redactor else thread
    for e, source in zip(released.entries, thread.entries):
        if redactor and (withheld := redactor.withheld(source)):
            privilege.add(source, thread, withheld)
            continue
        total = len(e.versions) or None
        doc = Doc(anchor="", itemtype=e.kind, custodian=e.account, entry=e, redacted=e is not source,
                  version=e.versions[-1].n if e.versions else None, versions=total)
        doc.parent_doc = by_pid.get(source.parent)
        by_pid[source.platform_id] = doc
        docs.append(doc)
        for m in e.media:
            docs.append(Doc(anchor="", itemtype="media", custodian=e.account, media=m, owner=e, parent_doc=doc))
        for as_was, media in earlier_versions(db, reader, source):
            was_redacted = False
            if redactor:  # an earlier version is released redacted like the current one
                released_was = redactor.entry(as_was)
                was_redacted, as_was = released_was is not as_was, released_was
            old = Doc(anchor="", itemtype=e.kind, custodian=e.account, entry=as_was, version_of=doc,
                      parent_doc=doc.parent_doc, version=as_was.versions[0].n, versions=total,
                      redacted=was_redacted)
            docs.append(old)
            for m in media:
                docs.append(Doc(anchor="", itemtype="media", custodian=e.account, media=m, owner=as_was,
                                parent_doc=old, version_of=doc, version=old.version, versions=total))
    for doc in docs:
        doc.family = docs
    return docs


def export_ediscovery(settings, db, store, spec: EdiscoverySpec, *, now: datetime) -> EdiscoveryResult:
    legend = check_legend(spec.confidentiality) if spec.confidentiality else ""
    images = image_format(spec.images)
    bates = bates_ranges.plan(db, spec.bates_prefix, spec.width, spec.start, legend=legend)
    first_number = bates.next
    out = prepare_output(spec.out)
    for folder in ("DATA", "IMAGES", "NATIVES", "TEXT"):
        (out / folder).mkdir()
    result = EdiscoveryResult(path=out)
    key = signing.load_private(spec.sign_key) if spec.sign_key else None
    reader = RecordReader(db, store)
    ctx = {"matter": spec.matter, "tz": settings.timezone, "css": stylesheet()}
    redactor = Redactor(load_redactions(spec.redactions))
    if redactor:
        redactor.prepare(iter_threads(db, store, thread_keys(db, spec.selection), with_media=False))
    privilege = PrivilegeLog(spec.volume, redactor)
    with PagePool(spec.workers) as pool:
        with open(out / "DATA" / f"{spec.volume}.dat", "wb") as dat_fh, \
                open(out / "DATA" / f"{spec.volume}.opt", "w", encoding="utf-8", newline="\r\n") as opt_fh, \
                open(out / "custody.csv", "w", newline="", encoding="utf-8") as custody_fh:
            volume = _Volume(out, spec, bates, DatWriter(dat_fh, FIELDS), opt_fh,
                             CustodyLog(custody_fh, db, reader, spec.actor, iso(now)), reader, result, images.extension)
            for rendered in pool.run(_jobs(db, store, spec, ctx, redactor, privilege), bates.stamp, bates.reserve,
                                     images):
                volume.file(rendered)
        result.next_start = bates.next
        bates_ranges.record(db, bates, first_number, volume=spec.volume, matter=spec.matter, out=str(out.resolve()),
                            produced_at=iso(now), produced_by=spec.actor)
        write_report(pool, out / "custody.csv", out / "custody.pdf", files=volume.custody.files, spec=spec,
                     agency=settings.agency, generated=iso(now), **ctx)
    write_bytes(out / "README.txt", render("export-readme-volume.txt", spec=spec, result=result, fields=FIELDS,
                                           images_described=images.description,
                                           agency=settings.agency, generated=iso(now),
                                           fingerprint=signing.fingerprint(key.public_key()) if key else None,
                                           tz=settings.timezone).encode("utf-8"))
    privilege.write(out, dict(ctx, spec=spec, agency=settings.agency, generated=iso(now)))
    result.withheld = len(privilege.rows)
    # The moderation record of the produced comments (hidden or deleted, and why).
    produced = [i for (i,) in db.conn.execute(
        f"SELECT id FROM items WHERE (account, root) IN (VALUES {', '.join(['(?, ?)'] * len(keys))})",
        [v for k in keys for v in k])] if (keys := list(thread_keys(db, spec.selection))) else []
    write_moderation_csv(db, [i for i in produced if i not in privilege.withheld_ids],
                         out / "DATA" / "moderation.csv")
    if redactor:
        refuse_if_leaking(out, redactor.withheld_values, redactor.label)
    write_manifest(out)
    if key is not None:
        signing.sign(out, "manifest-sha256.txt", key, now=now)
        result.fingerprint = signing.fingerprint(key.public_key())
    audit.append(db, spec.actor, "export.ediscovery", {
        "matter": spec.matter, "out": str(out), "selection": spec.selection.as_dict(),
        "bates": [result.first_bates, result.last_bates], "documents": result.documents,
        "families": result.families, "signed": result.fingerprint,
    }, now=now)
    if redactor:  # the redaction and privilege decisions of the production, in the store's journal
        journal.append(db, "export.redactions", {"matter": spec.matter, "volume": spec.volume, "out": str(out),
                                                 "redactions": redactor.log, "privilege_log": privilege.rows},
                       actor=spec.actor, now=now)
    return result


def _jobs(db, store, spec: EdiscoverySpec, ctx: dict, redactor: Redactor | None = None,
          privilege: PrivilegeLog | None = None) -> Iterator[Job]:
    """Threads read one at a time, their documents cut into jobs of JOB_DOCS; a family may
    span jobs (a huge thread is laid out in several)."""
    batch: list[Doc] = []
    reader = RecordReader(db, store)
    for thread in iter_threads(db, store, thread_keys(db, spec.selection)):
        batch.extend(_family(thread, db, reader, redactor, privilege))
        while len(batch) >= JOB_DOCS:
            yield _job(batch[:JOB_DOCS], ctx)
            batch = batch[JOB_DOCS:]
    if batch:
        yield _job(batch, ctx)


def _job(docs: list[Doc], ctx: dict) -> Job:
    for n, doc in enumerate(docs):
        doc.anchor = f"doc-{n}"
    return Job(render("exports/family.html", docs=docs, **ctx), [d.anchor for d in docs], payload=docs)


@dataclass
class _Volume:
    """The open load files of a volume; files each rendered job in production order."""

    out: Path
    spec: EdiscoverySpec
    bates: Bates
    dat: DatWriter
    opt_fh: IO[str]
    custody: CustodyLog
    reader: RecordReader
    result: EdiscoveryResult
    image_ext: str = "pdf"

    def file(self, rendered: Rendered) -> None:
        number, result = rendered.first, self.result
        for doc, (pdf, pages), page_images in zip(rendered.job.payload, rendered.pieces, rendered.images):
            keys = [self.bates.format(number + i) for i in range(pages)]
            number += pages
            doc.begbates, doc.endbates, doc.pages = keys[0], keys[-1], pages
            sub = f"{(result.documents // PER_FOLDER) + 1:03d}"
            if page_images:  # one file per page, named by its Bates number (Opticon: a line each)
                image = [_write(self.out, "IMAGES", sub, f"{key}.{self.image_ext}", data)
                         for key, data in zip(keys, page_images)]
            else:
                image = _write(self.out, "IMAGES", sub, f"{doc.begbates}.pdf", pdf)
            native_bytes, ext = _native(doc)
            native = _write(self.out, "NATIVES", sub, f"{doc.begbates}.{ext}", native_bytes)
            text = _write(self.out, "TEXT", sub, f"{doc.begbates}.txt", _text(doc).encode("utf-8"))
            self.opt_fh.write("\n".join(opt_lines(keys, self.spec.volume, image)) + "\n")
            rec = _source_record(self.reader, doc)
            sha = hashlib.sha256(native_bytes).hexdigest()
            self.custody.add(doc.begbates, (doc.entry or doc.owner).id, doc.itemtype, rec, sha)
            doc.row = _row(doc, rec, native, text, ext, native_bytes, sha)
            doc.row["REDACTED"] = "Y" if doc.redacted else "N"
            doc.row.update(VERSION=doc.version or "", VERSIONS=doc.versions or "", CONFIDENTIAL=self.bates.legend)
            result.documents += 1
            result.pages += pages
            report_progress("documents", advance=1) or report_progress("pages", advance=pages)
            result.first_bates = result.first_bates or doc.begbates
            result.last_bates = doc.endbates
            if doc is doc.family[-1]:  # the family's attach range is known once its last document is
                _write_family(self.dat, doc.family)
                result.families += 1


def _write_family(dat: DatWriter, docs: list[Doc]) -> None:
    for doc in docs:
        doc.row.update(BEGATTACH=docs[0].begbates, ENDATTACH=docs[-1].endbates,
                       PARENTID=docs[0].begbates if doc is not docs[0] else "",
                       INREPLYTO=doc.parent_doc.begbates if doc.parent_doc else "",
                       VERSIONOF=doc.version_of.begbates if doc.version_of else "",
                       ATTACHCOUNT=len(docs) - 1 if doc is docs[0] else "")
        dat.write(doc.row)


def _write(out: Path, top: str, sub: str, name: str, data: bytes) -> str:
    folder = out / top / sub
    folder.mkdir(exist_ok=True)
    write_bytes(folder / name, data)
    return f"{top}\\{sub}\\{name}"  # load-file paths use backslashes, relative to the volume


def _native(doc: Doc) -> tuple[bytes, str]:
    if doc.entry is not None:
        return printable(doc.entry.native).encode("utf-8"), "json"
    return (doc.media.payload or b""), doc.media.extension


def _text(doc: Doc) -> str:
    if doc.entry is None:
        m = doc.media
        return f"Media file of item {doc.owner.id}\nURL: {printable(m.url)}\nType: {m.content_type}\nStatus: {m.status}\n"
    e = doc.entry
    lines = [f"{e.kind} by {printable(e.author)} at {e.created_at} (UTC); status: {describe_status(e)}", "",
             readable(e.text, e.platform)]
    if doc.version_of is not None:
        v = e.versions[0]
        lines[1:1] = [f"Version {v.n} of {doc.versions} (an earlier version of {doc.version_of.begbates}), "
                      f"seen {v.first_seen} to {v.last_seen} (UTC)"]
    if len(e.versions) > 1:
        for v in e.versions:
            lines += ["", f"--- version {v.n}, seen {v.first_seen} to {v.last_seen} ---", readable(v.text, e.platform)]
    return "\n".join(lines) + "\n"


def _source_record(reader: RecordReader, doc: Doc):
    if doc.entry is not None:
        return reader.locate(doc.entry.record_id) if doc.entry.record_id else None
    return doc.media.record


def _row(doc: Doc, rec, native: str, text: str, ext: str, native_bytes: bytes, sha: str) -> dict:
    e = doc.entry or doc.owner
    return {
        "BEGBATES": doc.begbates, "ENDBATES": doc.endbates, "PAGECOUNT": doc.pages, "CUSTODIAN": doc.custodian,
        "PLATFORM": e.platform, "ITEMTYPE": doc.itemtype, "ITEMID": e.id, "PLATFORMID": printable(e.platform_id),
        "THREADID": printable(e.root), "AUTHOR": printable(e.author) if doc.entry else "",
        "AUTHORID": printable(e.author_id) if doc.entry else "", "DATECREATED": e.created_at or "",
        "DATEEDITED": (e.edited_at or "") if doc.entry else "", "CAPTUREDATE": (rec.date if rec else "") or "",
        "URL": printable(e.url if doc.entry else doc.media.url), "STATUS": e.status if doc.entry else doc.media.status,
        # One line per status event (new, edited, hidden, deleted...): in-field newlines become ®.
        "HISTORY": "\n".join(f"{at} {event}" for at, event in e.events) if doc.entry else "",
        "VERSIONS": len(e.versions) if doc.entry else "", "FILEEXT": ext,
        "MD5HASH": hashlib.md5(native_bytes, usedforsecurity=False).hexdigest(), "SHA256HASH": sha,
        "NATIVEPATH": native, "TEXTPATH": text, "WARCFILE": rec.object_key if rec else "",
        "WARCRECID": rec.record_id if rec else "", "PAYLOADDIGST": (rec.payload_digest or "") if rec else "",
    }
