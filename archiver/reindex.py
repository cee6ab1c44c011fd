"""Rebuild the SQLite index from the WARC files alone (``archiver reindex``).

The WARC files are the source of truth and the index is derived (product.md): every item,
version, status change, media file, thread scan and run summary reached the index through
``archiver.ingest.ingest_warc`` reading a WARC's ``metadata`` records, so replaying every
stored WARC through that same function, in key order (keys sort by account, month and
capture time), rebuilds the same index.

What is *not* in any WARC is not rebuilt: the audit log, web users and sessions, legal holds,
records requests, retention overrides and disposition history, collector checkpoints, and
runs that captured nothing at all (e.g. an unset token variable: no WARC was written).
That is why a rebuild never overwrites an existing index: it writes a new file (``--into``),
or recreates the index only where it is gone.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Callable

from .errors import IndexError_
from .index import open_index
from .ingest import ingest_warc
from .lock import writer_lock
from .progress import report as report_progress
from .store import Store
from .timefmt import utcnow

PREFIX = "warcs/"


@dataclass
class ReindexReport:
    path: Path
    objects: int = 0
    bytes: int = 0
    records: int = 0
    items: int = 0
    versions: int = 0
    runs: int = 0
    seconds: float = 0.0


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


def reindex(store: Store, index_path: str | Path, *, into: str | Path | None = None, now: datetime | None = None,
            progress: Callable[[str, int], None] | None = None, clock=time.monotonic) -> ReindexReport:
    """Build a new index at ``into`` (default: ``index_path``, which must not exist) from the
    store's WARC objects. The file appears only when complete (built as ``*.partial``)."""
    target = Path(into) if into else Path(index_path)
    if target.exists():
        raise IndexError_(
            f"{target} exists; reindex never overwrites an index (its audit log, users and holds are not in "
            "the WARC files). Rebuild into a new file with --into PATH, or move the old index away first"
        )
    started = clock()
    report = ReindexReport(target)
    partial = target.with_name(target.name + ".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    with writer_lock(target, "reindex", now=now):
        db = open_index(partial)
        for key, size in sorted(store.list(PREFIX)):
            if not key.endswith((".warc.gz", ".warc")):
                continue
            until, hold = store.retention(key)  # what the store enforces (Object Lock) is the truth
            with store.open(key) as fh:
                reader = _HashingReader(fh)
                stats = ingest_warc(db, key, reader, sha256="", size=size, stored_at=now or utcnow(),
                                    retain_until=until)
                reader.drain()
            # The digest is known only after the last byte; record it before the next object.
            db.conn.execute("UPDATE objects SET sha256 = ?, size = ?, legal_hold = ? WHERE key = ?",
                            (reader.hash.hexdigest(), reader.size, int(hold), key))
            report.objects += 1
            report.bytes += reader.size
            report.records += stats.records
            if progress:
                progress(key, report.objects)
            report_progress("objects", advance=1, label=key) or report_progress("bytes", advance=reader.size, unit="bytes")
        for name, table in (("items", "items"), ("versions", "versions"), ("runs", "runs")):
            setattr(report, name, db.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.conn.close()
        os.replace(partial, target)
        for leftover in (Path(f"{partial}-wal"), Path(f"{partial}-shm")):
            leftover.unlink(missing_ok=True)
    report.seconds = clock() - started
    return report
