"""Documents for export, read from the index and the original WARC records in the store.

A *thread* is the unit people read: the post, then its comments in time order, each
comment followed by its replies. Every entry carries all its versions, its status events
and its media; media bytes come from the original WARC response record, read from the store
by (object_key, offset, length) like a CDX line — the archive itself is never touched.

Threads are loaded one at a time (``iter_threads``) so a 10,000-item export holds one thread
in memory, not the whole selection.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Iterator

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeadersParserException

from ..errors import ExportError, WarcError
from ..index.queries import RECORD_COLUMNS, item_events, item_media, locate, version_rows
from ..sightings import VersionBodies, latest_sighting, status_at
from ..warc import read_record

# Media types rendered inline. SVG is excluded on purpose: it can carry script, and an
# archived file is hostile input (it is listed and shipped as a native, never rendered).
INLINE_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


@dataclass(frozen=True)
class WarcRecord:
    record_id: str
    object_key: str
    offset: int
    length: int
    type: str
    target_uri: str | None
    date: str | None
    payload_digest: str | None


@dataclass
class Media:
    url: str
    content_type: str | None
    status: str
    record: WarcRecord | None
    payload: bytes | None = None

    @property
    def sha256(self) -> str | None:
        return hashlib.sha256(self.payload).hexdigest() if self.payload is not None else None

    @property
    def inline(self) -> bool:
        return self.payload is not None and (self.content_type or "").split(";")[0].strip() in INLINE_IMAGE_TYPES

    def data_uri(self) -> str:
        ctype = (self.content_type or "application/octet-stream").split(";")[0].strip()
        return f"data:{ctype};base64," + base64.b64encode(self.payload or b"").decode("ascii")

    @property
    def extension(self) -> str:
        ctype = (self.content_type or "").split(";")[0].strip()
        return {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp",
                "image/svg+xml": "svg", "video/mp4": "mp4"}.get(ctype, "bin")


@dataclass
class Version:
    n: int
    text: str | None
    native: str | None  # platform JSON text of the item in this version, as stored
    first_seen: str
    last_seen: str
    record_id: str | None


@dataclass
class Entry:
    """One post, comment or reply with everything the exports show about it."""

    id: str
    platform: str
    account: str
    kind: str
    platform_id: str
    parent: str | None
    root: str
    author: str | None
    author_id: str | None
    text: str | None
    created_at: str | None
    url: str | None
    status: str
    status_at: str | None
    first_seen: str
    last_seen: str
    record_id: str | None
    depth: int = 0
    is_department: int | None = None  # written by one of the agency's own accounts
    versions: list[Version] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)  # (at, event)
    media: list[Media] = field(default_factory=list)

    @property
    def native(self) -> str:
        """The latest version's platform JSON (what NATIVES and natives/ hold)."""
        latest = self.versions[-1].native if self.versions else None
        return latest if latest is not None else json.dumps({"id": self.platform_id, "message": self.text})

    @property
    def edited_at(self) -> str | None:
        edits = [at for at, event in self.events if event == "edited"]
        return edits[-1] if edits else None

    def with_(self, **changes) -> "Entry":
        return replace(self, **changes)


@dataclass
class Thread:
    account: str
    root: str
    platform: str
    entries: list[Entry]

    @property
    def post(self) -> Entry:
        return self.entries[0]

    @property
    def key(self) -> str:
        return self.post.id


class RecordReader:
    """Reads original WARC records from the store by their index row."""

    def __init__(self, db, store):
        self.db = db
        self.store = store
        self.bodies = VersionBodies(db.conn, store)  # versions' native JSON, from their items/1 records

    def locate(self, record_id: str) -> WarcRecord | None:
        row = locate(self.db.conn, [record_id]).get(record_id)
        return WarcRecord(*(row[k] for k in RECORD_COLUMNS[:8])) if row else None

    def original(self, rec: WarcRecord) -> WarcRecord:
        """A revisit stands for an earlier response with the same payload: follow it."""
        if rec.type != "revisit":
            return rec
        row = self.db.conn.execute("SELECT refers_to FROM records WHERE record_id = ?", (rec.record_id,)).fetchone()
        target = self.locate(row[0]) if row and row[0] else None
        if target is None and rec.payload_digest:
            hit = self.db.conn.execute(
                "SELECT record_id FROM records WHERE type = 'response' AND payload_digest = ? LIMIT 1",
                (rec.payload_digest,)).fetchone()
            target = self.locate(hit[0]) if hit else None
        return target or rec

    def raw(self, rec: WarcRecord) -> bytes:
        """The record exactly as stored (one gzip member), checked: a damaged or forged record
        stops the export with its name rather than going out (``archiver.warc.read_record``)."""
        try:
            return read_record(self.store, self.db.conn, rec.object_key, rec.offset, rec.length)
        except WarcError as exc:
            raise ExportError(f"record {rec.record_id} is not exported: {exc}; run `archiver fixity`") from None

    def payload(self, rec: WarcRecord, *, decoded: bool = True) -> bytes:
        """The HTTP entity body (or resource block) of a record. ``decoded`` undoes chunked and
        gzip content encodings (for showing media); the WARC-Payload-Digest covers the body as
        transmitted, so digest checks read it with ``decoded=False``."""
        try:
            for record in ArchiveIterator(io.BytesIO(self.raw(rec))):
                return (record.content_stream() if decoded else record.raw_stream).read()
        except (ArchiveLoadFailed, StatusAndHeadersParserException, EOFError, OSError) as exc:
            raise ExportError(f"record {rec.record_id} in {rec.object_key} is unreadable ({exc}); "
                              "run `archiver fixity`") from None
        raise ExportError(f"record {rec.record_id} in {rec.object_key} could not be parsed as WARC")


def thread_item_rows(db, account: str, root: str) -> list[dict]:
    cur = db.conn.execute(
        "SELECT rowid, id, platform, account, kind, platform_id, parent, root, author, author_id, text, "
        f"created_at, url, status, {status_at()} AS status_at, first_seen,"
        f" {latest_sighting('last_seen')} AS last_seen, "
        f"{latest_sighting('record_id')} AS record_id, is_department "
        "FROM items i WHERE account = ? AND root = ? ORDER BY created_at, platform_id", (account, root))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur]


def _order(rows: list[dict]) -> list[tuple[dict, int]]:
    """Post first, then each comment followed by its replies (depth-first, time order)."""
    children: dict[str | None, list[dict]] = {}
    ids = {r["platform_id"] for r in rows}
    post = [r for r in rows if r["kind"] == "post"]
    for r in rows:
        if r["kind"] == "post":
            continue
        parent = r["parent"] if r["parent"] in ids else (post[0]["platform_id"] if post else None)
        children.setdefault(parent, []).append(r)
    out: list[tuple[dict, int]] = []

    def walk(row: dict, depth: int) -> None:
        out.append((row, depth))
        for child in children.get(row["platform_id"], []):
            walk(child, depth + 1)

    for p in post:
        walk(p, 0)
    seen = {id(r) for r, _ in out}
    out.extend((r, 1) for r in rows if id(r) not in seen)  # orphans, never dropped
    return out


def load_thread(db, reader: RecordReader, account: str, root: str, *, with_media: bool = True) -> Thread:
    rows = _order(thread_item_rows(db, account, root))
    if not rows:
        raise ExportError(f"thread {root} of {account} has no items in the index")
    entries = []
    for row, depth in rows:
        rowid = row.pop("rowid")
        entry = Entry(**row, depth=depth)
        try:
            versions = version_rows(db.conn, rowid, reader.bodies)
        except WarcError as exc:
            raise ExportError(f"item {row['id']}: a version's record is not exported: {exc}; "
                              "run `archiver fixity`") from None
        entry.versions = [Version(v["n"], v["text"], v["native"], v["first_seen"], v["last_seen"], v["record_id"])
                          for v in versions]
        entry.events = [(e["at"], e["event"]) for e in item_events(db.conn, rowid)]
        entry.media = list(_media(db, reader, rowid, with_media))
        entries.append(entry)
    return Thread(account=account, root=root, platform=entries[0].platform, entries=entries)


def _media(db, reader: RecordReader, rowid: int, with_payload: bool) -> Iterator[Media]:
    # The media of the latest version that has any (an edit may have removed an image;
    # earlier versions' media stay in the WARC copy and the natives).
    media = item_media(db.conn, rowid)
    latest = max((m["version_n"] for m in media), default=None)
    for m in (m for m in media if m["version_n"] == latest):
        url, ctype, status, record_id = m["url"], m["content_type"], m["status"], m["record_id"]
        rec = reader.locate(record_id) if record_id else None
        payload = None
        if rec is not None and status == "fetched" and with_payload:
            payload = reader.payload(reader.original(rec))
        yield Media(url=url, content_type=ctype, status=status, record=rec, payload=payload)


def iter_threads(db, store, keys: Iterable[tuple[str, str]], *, with_media: bool = True) -> Iterator[Thread]:
    reader = RecordReader(db, store)
    for account, root in keys:
        yield load_thread(db, reader, account, root, with_media=with_media)


def source_record_ids(db, thread: Thread) -> list[str]:
    """Every original WARC record behind a thread: item and version responses, metadata
    records, media (and, for revisits, the record they refer to), plus each source file's
    warcinfo record so the copy keeps its provenance."""
    ids: list[str] = []
    for e in thread.entries:
        ids.append(e.record_id)
        for v in e.versions:
            ids.append(v.record_id)
        ids.extend(m.record.record_id for m in e.media if m.record)
    ids.extend(r for (r,) in db.conn.execute(
        "SELECT m.record_id FROM versions v JOIN items i ON i.rowid = v.item_rowid JOIN records m ON m.id = v.meta_record"
        " WHERE i.account = ? AND i.root = ?", (thread.account, thread.root)))
    ids = [i for i in dict.fromkeys(ids) if i]
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    refers = [r for (r,) in db.conn.execute(
        f"SELECT refers_to FROM records WHERE record_id IN ({marks}) AND type = 'revisit' "
        "AND refers_to IS NOT NULL", ids)]
    infos = [r for (r,) in db.conn.execute(
        f"SELECT (SELECT w.record_id FROM records w WHERE w.object_key = r.object_key AND w.type = 'warcinfo' "
        f"ORDER BY w.offset LIMIT 1) FROM records r WHERE r.record_id IN ({marks}) AND r.object_key IS NOT NULL", ids)]
    return [i for i in dict.fromkeys(infos + ids + refers) if i]


def digest_matches(header: str | None, payload: bytes) -> bool | None:
    """Check a WARC-Payload-Digest (``alg:base32`` or ``alg:hex``) against bytes; None if absent."""
    if not header or ":" not in header:
        return None
    alg, _, value = header.partition(":")
    alg = alg.lower().replace("-", "")
    try:
        digest = hashlib.new(alg, payload).digest()
    except ValueError:
        return None
    if len(value) == len(digest) * 2:
        return digest.hex() == value.lower()
    return base64.b32encode(digest).decode("ascii").rstrip("=") == value.upper().rstrip("=")


def describe_status(entry: Entry) -> str:
    """Human wording of an item's status for letters, the CSV and the DAT."""
    return {"live": "live", "edited": f"edited ({len(entry.versions)} versions)",
            "hidden": "hidden by the page", "deleted": "deleted on the platform"}.get(entry.status, entry.status)


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
