"""Rebuild the SQLite index from the store alone (``archiver reindex``).

The WARC files are the source of truth and the index is derived (product.md): every item,
version, status change, media file, thread scan and run summary reached the index through
``archiver.ingest.ingest_warc`` reading a WARC's ``metadata`` records, so replaying every
stored WARC through that same function rebuilds the same index. The records-management
state -- legal holds, records requests and their 19.35(5) holds, disposition plans,
notices, approvals and certificates, redaction decisions, and the audit log -- is replayed
from the store's journal (``archiver.journal``).

What reindex trusts, it verifies:
* each WARC is read at the version the archiver stored (the first version of its key: a
  later ``PutObject`` or delete marker does not replace it), and its bytes are compared with
  the sha256 the store kept with it at upload (S3);
* each record is checked before anything is indexed from it (complete gzip member, block
  and payload digests: ``warc.iter_members``);
* the journal's hash chain is walked link by link.

An object that fails any check is not indexed; it is listed with why in
``ReindexReport.problems``, everything else is rebuilt, and the command exits 1.

Objects are replayed in capture order -- the WARC-Date of each file's ``warcinfo`` record
(microseconds), then the file's serial in its run, then its key -- never by the random
suffix of a file name, so two runs that started in the same second rebuild alike.

What is in neither the WARCs nor the journal is not rebuilt: web users and sessions,
retention overrides and schedule history, collector checkpoints. That is why a rebuild never
overwrites an existing index: it writes a new file (``--into``), or recreates the index only
where it is gone.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Callable

from botocore.exceptions import BotoCoreError

from . import journal
from .errors import IndexError_, StoreError, WarcError
from .index import merge_fulltext, open_index, transaction, tune_for_ingest
from .ingest import ingest_warc
from .lock import writer_lock
from .progress import report as report_progress
from .store import Archived, Store
from .timefmt import utcnow
from .warc import iter_members

PREFIX = "warcs/"
# The warcinfo record opens every file; its gzip member is well under this.
HEAD_BYTES = 64 * 1024
# ``warc_name``: account-YYYYmmddHHMMSS-SERIAL-random-host.warc.gz
_SERIAL = re.compile(r"-\d{14}-(\d{5})-")


@dataclass
class BadObject:
    key: str
    reason: str


@dataclass
class ReindexReport:
    path: Path
    objects: int = 0
    bytes: int = 0
    records: int = 0
    items: int = 0
    versions: int = 0
    runs: int = 0
    journal: int = 0  # journal entries replayed
    seconds: float = 0.0
    problems: list[BadObject] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class _HashingReader:
    """Pass-through reader that hashes what is read, so each object is read exactly once."""

    def __init__(self, fh: IO[bytes]):
        self.fh, self.hash, self.size = fh, hashlib.sha256(), 0

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.hash.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(1024 * 1024):
            pass


_READ_ERRORS = (StoreError, OSError, BotoCoreError)


def capture_order(store: Store, objects: list[Archived]) -> tuple[list[Archived], list[BadObject]]:
    """``objects`` sorted by (warcinfo WARC-Date, serial, key); the ones whose first record
    cannot be read are returned apart, with why."""
    keyed, bad = [], []
    for obj in objects:
        try:
            head = store.read(obj.key, 0, min(HEAD_BYTES, obj.size) or None, version=obj.version)
        except _READ_ERRORS as exc:
            bad.append(BadObject(obj.key, f"unreadable: {exc}"))
            continue
        first = next(iter_members(io.BytesIO(head)), None)
        date = _warc_date(first.raw) if first is not None and not first.problem else ""
        serial = _SERIAL.search(obj.key.rsplit("/", 1)[-1])
        # A file whose warcinfo is damaged sorts by its name; ingest reports the damage.
        keyed.append(((date or "~", serial.group(1) if serial else "", obj.key), obj))
    keyed.sort(key=lambda pair: pair[0])
    return [obj for _, obj in keyed], bad


def _warc_date(raw: bytes) -> str:
    for line in raw.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"warc-date":
            return value.strip().decode("latin-1")
    return ""


def reindex(store: Store, index_path: str | Path, *, into: str | Path | None = None, now: datetime | None = None,
            progress: Callable[[str, int], None] | None = None, clock=time.monotonic) -> ReindexReport:
    """Build a new index at ``into`` (default: ``index_path``, which must not exist) from the
    store alone. The file appears only when complete (built as ``*.partial``), also when some
    objects were bad: those are listed in ``problems`` and left out."""
    target = Path(into) if into else Path(index_path)
    if target.exists():
        raise IndexError_(
            f"{target} exists; reindex never overwrites an index (its users and settings are not in "
            "the store). Rebuild into a new file with --into PATH, or move the old index away first"
        )
    started = clock()
    report = ReindexReport(target)
    partial = target.with_name(target.name + ".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    with writer_lock(target, "reindex", now=now):
        db = open_index(partial)
        _build_unjournaled(db.conn)
        try:
            objects = [a for a in store.archived(PREFIX) if a.key.endswith((".warc.gz", ".warc"))]
            ordered, report.problems = capture_order(store, objects)
            for obj in ordered:
                problem = _ingest_object(db, store, obj, now or utcnow(), report)
                if problem:
                    report.problems.append(BadObject(obj.key, problem))
                elif progress:
                    progress(obj.key, report.objects)
            _interrupted_runs(db)
            replayed = journal.replay(db, store)
            report.journal = replayed.entries
            report.problems += [BadObject(key, why) for key, why in replayed.problems]
            for name, table in (("items", "items"), ("versions", "versions"), ("runs", "runs")):
                setattr(report, name, db.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            db.conn.execute("PRAGMA journal_mode=WAL")  # as every index is opened: see _build_unjournaled
        finally:
            db.conn.close()
        _fsync(partial)  # written without syncs: on disk before it takes the index's name
        os.replace(partial, target)
        _fsync(target.parent)
        for leftover in (Path(f"{partial}-wal"), Path(f"{partial}-shm")):
            leftover.unlink(missing_ok=True)
    report.seconds = clock() - started
    return report


def _build_unjournaled(conn) -> None:
    """The partial file is written with no rollback journal on disk and no syncs.

    Safe here only: until it is complete and renamed, nothing else reads the partial file, and
    a reindex that fails or is killed leaves the old index (or no index) where it was and a
    ``.partial`` that the next reindex deletes first. A rollback of one object's transaction
    (a WARC that fails its checks) still works: the journal is in memory. What it saves: each
    object's commit wrote its pages to the WAL, synced it (``synchronous=FULL``), and wrote
    them again into the database at each checkpoint."""
    conn.execute("PRAGMA journal_mode=MEMORY")
    conn.execute("PRAGMA synchronous=OFF")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ingest_object(db, store: Store, obj: Archived, now: datetime, report: ReindexReport) -> str | None:
    """Index one object at its archived version, in one transaction; if it fails a check,
    nothing of it stays in the index and the reason is returned."""
    tune_for_ingest(db.conn)
    try:
        with transaction(db):
            until, hold = store.retention(obj.key, version=obj.version)  # what the store enforces is the truth
            recorded = store.recorded_sha256(obj.key, obj.version)
            with store.open(obj.key, version=obj.version) as fh:
                reader = _HashingReader(fh)
                stats = ingest_warc(db, obj.key, reader, sha256="", size=obj.size, stored_at=now,
                                    retain_until=until, version=obj.version)
                reader.drain()
            digest = reader.hash.hexdigest()
            if recorded and recorded != digest:
                raise WarcError(f"its bytes (sha256 {digest}) are not what was stored (sha256 {recorded})")
            # The digest is known only after the last byte; record it before the next object.
            db.conn.execute("UPDATE objects SET sha256 = ?, size = ?, legal_hold = ? WHERE key = ?",
                            (digest, reader.size, int(hold), obj.key))
    except WarcError as exc:
        return str(exc).removeprefix(obj.key + ": ")
    except _READ_ERRORS as exc:
        return f"unreadable: {exc}"
    merge_fulltext(db.conn)
    report.objects += 1
    report.bytes += reader.size
    report.records += stats.records
    report_progress("objects", advance=1, label=obj.key) or report_progress("bytes", advance=reader.size, unit="bytes")
    return None


def _interrupted_runs(db) -> None:
    """A run killed before it wrote its summary (``run/1``) left items but no run row: give
    it the row recovery gave it, so the runs table is rebuilt too."""
    db.conn.execute(
        "INSERT OR IGNORE INTO runs (id, account, platform, started_at, finished_at, status, message)"
        " SELECT o.run_id, o.account, (SELECT platform FROM items WHERE account = o.account LIMIT 1),"
        " min(o.first_date), max(o.last_date), 'interrupted', 'the run was cut short (killed); what it had"
        " written is recovered from the spool' FROM objects o"
        " WHERE o.run_id IS NOT NULL AND o.account IS NOT NULL AND o.run_id NOT IN (SELECT id FROM runs)"
        " GROUP BY o.run_id")
