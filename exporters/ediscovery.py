"""The e-discovery production volume (issue 6 §2; domain.md §C).

    DATA/<volume>.dat        Concordance/Relativity DAT (0x14, þ, ®, UTF-8 BOM, header row)
    DATA/<volume>.opt        Opticon image load file (7 fields per page line)
    IMAGES/NNN/<BEGBATES>.pdf    page images, Bates number stamped bottom right on each page
    NATIVES/NNN/<BEGBATES>.json|.png|...   the platform JSON (posts, comments, replies) or media
    TEXT/NNN/<BEGBATES>.txt  extracted text, document level
    custody.csv / custody.pdf    chain of custody; README.txt (delimiters and fields)
    manifest-sha256.txt      sha256 of every file above (``archiver verify``)

Documents are posts, comments, replies and their media files. A thread is a family: the post
is the parent, its comments, replies and media the attachments (BEGATTACH/ENDATTACH span the
family; PARENTID is the post's BEGBATES; INREPLYTO the direct parent's). Bates numbers are
page-level (the first page gives BEGBATES), continuing from ``--start`` for a later volume.
Families are laid out in batches (one WeasyPrint render, split per document), so a 10,000-item
production holds one batch in memory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .. import audit
from ..timefmt import iso
from . import signing
from .bates import Bates
from .custody import CustodyLog, read_rows
from .dat import DatWriter, opt_lines
from .output import prepare_output, write_bytes
from .records import Entry, Media, RecordReader, Thread, describe_status, iter_threads
from .render import layout, printable, render, render_pdf, split_pdf, stylesheet
from .select import Selection, thread_keys
from .manifest import write_manifest

FIELDS = ["BEGBATES", "ENDBATES", "BEGATTACH", "ENDATTACH", "PARENTID", "INREPLYTO", "ATTACHCOUNT",
          "PAGECOUNT", "CUSTODIAN", "PLATFORM", "ITEMTYPE", "ITEMID", "PLATFORMID", "THREADID", "AUTHOR",
          "AUTHORID", "DATECREATED", "DATEEDITED", "CAPTUREDATE", "URL", "STATUS", "HISTORY", "VERSIONS", "FILEEXT",
          "MD5HASH", "SHA256HASH", "NATIVEPATH", "TEXTPATH", "WARCFILE", "WARCRECID", "PAYLOADDIGST"]
BATCH_DOCS = 150  # documents per WeasyPrint layout: bounds memory, amortises start-up cost
PER_FOLDER = 1000  # files per IMAGES/NATIVES/TEXT subfolder (DOJ ATR: at most 5,000)


@dataclass
class EdiscoverySpec:
    matter: str
    bates_prefix: str
    selection: Selection
    out: Path
    start: int = 1
    width: int = 7
    volume: str = "VOL001"
    sign_key: Path | None = None
    actor: str = "unknown"


@dataclass
class Doc:
    anchor: str
    itemtype: str
    custodian: str
    entry: Entry | None = None  # None for a media document
    media: Media | None = None
    owner: Entry | None = None  # the item a media file belongs to
    parent_doc: "Doc | None" = None
    begbates: str = ""
    endbates: str = ""
    pages: int = 0
    row: dict = field(default_factory=dict)


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


def _family(thread: Thread) -> list[Doc]:
    docs, by_pid = [], {}
    for e in thread.entries:
        doc = Doc(anchor="", itemtype=e.kind, custodian=e.account, entry=e)
        doc.parent_doc = by_pid.get(e.parent)
        by_pid[e.platform_id] = doc
        docs.append(doc)
        for m in e.media:
            docs.append(Doc(anchor="", itemtype="media", custodian=e.account, media=m, owner=e, parent_doc=doc))
    return docs


def export_ediscovery(settings, db, store, spec: EdiscoverySpec, *, now: datetime) -> EdiscoveryResult:
    out = prepare_output(spec.out)
    for folder in ("DATA", "IMAGES", "NATIVES", "TEXT"):
        (out / folder).mkdir()
    bates = Bates(spec.bates_prefix, spec.width, spec.start)
    result = EdiscoveryResult(path=out)
    key = signing.load_private(spec.sign_key) if spec.sign_key else None
    reader = RecordReader(db, store)
    ctx = {"matter": spec.matter, "tz": settings.timezone, "css": stylesheet()}
    with open(out / "DATA" / f"{spec.volume}.dat", "wb") as dat_fh, \
            open(out / "DATA" / f"{spec.volume}.opt", "w", encoding="utf-8", newline="\r\n") as opt_fh, \
            open(out / "custody.csv", "w", newline="", encoding="utf-8") as custody_fh:
        dat = DatWriter(dat_fh, FIELDS)
        custody = CustodyLog(custody_fh, db, reader, spec.actor, iso(now))
        batch: list[Doc] = []
        families: list[list[Doc]] = []

        def produce(docs: list[Doc]) -> None:
            _produce(docs, bates, ctx, out, spec, opt_fh, custody, reader, result)
            while families and families[0][-1].begbates:  # complete families get their DAT rows
                _write_family(dat, families.pop(0))

        for thread in iter_threads(db, store, thread_keys(db, spec.selection)):
            docs = _family(thread)
            families.append(docs)
            batch.extend(docs)
            result.families += 1
            while len(batch) >= BATCH_DOCS:  # a huge thread is laid out in several batches
                produce(batch[:BATCH_DOCS])
                batch = batch[BATCH_DOCS:]
        if batch:
            produce(batch)
    result.next_start = bates.next
    custody_html = render("exports/custody.html", rows=read_rows(out / "custody.csv"), spec=spec,
                          agency=settings.agency, generated=iso(now), **ctx)
    write_bytes(out / "custody.pdf", render_pdf(custody_html))
    write_bytes(out / "README.txt", render("export-readme-volume.txt", spec=spec, result=result, fields=FIELDS,
                                           agency=settings.agency, generated=iso(now),
                                           fingerprint=signing.fingerprint(key.public_key()) if key else None,
                                           tz=settings.timezone).encode("utf-8"))
    write_manifest(out)
    if key is not None:
        signing.sign(out, "manifest-sha256.txt", key, now=now)
        result.fingerprint = signing.fingerprint(key.public_key())
    audit.append(db, spec.actor, "export.ediscovery", {
        "matter": spec.matter, "out": str(out), "selection": spec.selection.as_dict(),
        "bates": [result.first_bates, result.last_bates], "documents": result.documents,
        "families": result.families, "signed": result.fingerprint,
    }, now=now)
    return result


def _produce(batch, bates, ctx, out, spec, opt_fh, custody, reader, result) -> None:
    """Lay out one batch of documents (one render, split per document), number and write them."""
    for n, doc in enumerate(batch):
        doc.anchor = f"doc-{n}"
    css = bates.stamp_css(bates.next) + "\nsection.doc { break-before: page; }"
    html = render("exports/family.html", docs=batch, **ctx)
    pieces = split_pdf(layout(html, css), [d.anchor for d in batch])
    for doc, (pdf, pages) in zip(batch, pieces):
        first = bates.next
        doc.begbates, doc.endbates = bates.take(pages)
        doc.pages = pages
        sub = f"{(result.documents // PER_FOLDER) + 1:03d}"
        image = _write(out, "IMAGES", sub, f"{doc.begbates}.pdf", pdf)
        native_bytes, ext = _native(doc)
        native = _write(out, "NATIVES", sub, f"{doc.begbates}.{ext}", native_bytes)
        text = _write(out, "TEXT", sub, f"{doc.begbates}.txt", _text(doc).encode("utf-8"))
        keys = [bates.format(first + i) for i in range(pages)]
        opt_fh.write("\n".join(opt_lines(keys, spec.volume, image)) + "\n")
        rec = _source_record(reader, doc)
        sha = hashlib.sha256(native_bytes).hexdigest()
        custody.add(doc.begbates, (doc.entry or doc.owner).id, doc.itemtype, rec, sha)
        doc.row = _row(doc, rec, native, text, ext, native_bytes, sha)
        result.documents += 1
        result.pages += pages
        result.first_bates = result.first_bates or doc.begbates
        result.last_bates = doc.endbates


def _write_family(dat: DatWriter, docs: list[Doc]) -> None:
    """DAT rows of a family; its attach range is known once all its documents are numbered."""
    for doc in docs:
        doc.row.update(BEGATTACH=docs[0].begbates, ENDATTACH=docs[-1].endbates,
                       PARENTID=docs[0].begbates if doc is not docs[0] else "",
                       INREPLYTO=doc.parent_doc.begbates if doc.parent_doc else "",
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
             printable(e.text)]
    if len(e.versions) > 1:
        for v in e.versions:
            lines += ["", f"--- version {v.n}, seen {v.first_seen} to {v.last_seen} ---", printable(v.text)]
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
