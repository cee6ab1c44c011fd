"""Fixity audits: re-read stored WARC objects and compare them with the index.

Digital-preservation practice (NDSA Levels of Digital Preservation, "fixity": check fixity
on ingest and at regular intervals) and Wis. Admin. Code Adm 12 (electronic records must stay
accessible and reproducible for their whole retention period; ``research/domain.md`` §A) ask
the same thing: prove, regularly, that what was stored is still byte-for-byte what was
captured. For every object selected this re-reads the bytes from the store (local or S3,
streamed, in ranges for large objects so a dropped connection costs one range), hashes them
with sha256 and compares with ``objects.sha256`` written at ingest.

Kinds of problem, all reported, none repaired here (a changed record is evidence):
* ``missing``    – the index knows the object, the store does not have it;
* ``changed``    – the bytes (or the size) differ from what the index recorded;
* ``unexpected`` – the store has a WARC the index does not know (``reindex`` can adopt it);
* ``unreadable`` – the store failed while reading (reported, retried on the next audit);
* ``journal``    – the records-management journal in the store is broken or differs from
  the index's copy (``archiver.journal.verify``);
* ``replaced``   – (S3) someone put a new version or a delete marker over the version the
  archiver stored: a plain read would no longer return the record. Every read of the
  archiver (this audit included) uses the recorded version, which Object Lock keeps.

``sample`` checks only the N objects checked longest ago (``fixity_checks``), so a nightly
``--sample N`` covers the whole archive every ceil(objects / N) nights. Listing the store is
cheap, so missing and unexpected objects are always looked for across the whole archive.
"""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from math import ceil

from botocore.exceptions import BotoCoreError

from . import audit, journal, progress
from .errors import StoreError
from .index import transaction
from .store import Store
from .timefmt import iso, utcnow

CHUNK = 4 * 1024 * 1024
RANGE = 64 * 1024 * 1024  # objects larger than this are read in ranged requests
PREFIX = "warcs/"


@dataclass
class Problem:
    key: str
    kind: str  # missing|changed|unexpected|unreadable|replaced|journal
    detail: str


@dataclass
class FixityReport:
    objects: int = 0  # objects the index knows
    checked: int = 0  # objects re-read and hashed in this audit
    bytes: int = 0
    seconds: float = 0.0
    sample: int | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def cycle_nights(self) -> int | None:
        """Nights a ``--sample`` of this size needs to cover the whole archive once."""
        return ceil(self.objects / self.sample) if self.sample else None

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else 0.0

    def summary(self) -> dict:
        counts: dict[str, int] = {}
        for p in self.problems:
            counts[p.kind] = counts.get(p.kind, 0) + 1
        return {"objects": self.objects, "checked": self.checked, "bytes": self.bytes,
                "seconds": round(self.seconds, 3), "sample": self.sample, "cycle_nights": self.cycle_nights,
                "problems": counts}


def hash_object(store: Store, key: str, size: int, *, range_size: int = RANGE,
                version: str | None = None) -> tuple[str, int]:
    """sha256 and byte count of a stored object, streamed (ranged reads above ``range_size``).

    Ranged reads stop at the recorded size; a grown object is caught by the listed size."""
    h = hashlib.sha256()
    read = 0
    spans = [(0, None)] if size <= range_size else [(s, min(range_size, size - s)) for s in range(0, size, range_size)]
    for start, length in spans:
        with store.open(key, start, length, version=version) as fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
                read += len(chunk)
        if length is not None and read != start + length:
            break  # a short range: the object is smaller than the index says
    return h.hexdigest(), read


def select(db, sample: int | None) -> list[tuple[str, str, int, str | None]]:
    """(key, sha256, size, version) to re-read: all objects, or the ``sample`` least recently checked."""
    sql = ("SELECT o.key, o.sha256, o.size, o.version_id FROM objects o LEFT JOIN fixity_checks f ON f.key = o.key"
           " ORDER BY f.checked_at IS NOT NULL, f.checked_at, o.key")
    if sample is not None:
        return db.conn.execute(sql + " LIMIT ?", (sample,)).fetchall()
    return db.conn.execute(sql).fetchall()


def _check_one(store: Store, key: str, sha: str, size: int, version: str | None, listed: dict[str, int],
               range_size: int) -> tuple[str, str | None, int, Problem | None]:
    """(result, sha256 read, bytes read, problem) for one object."""
    if key not in listed:
        return "missing", None, 0, Problem(key, "missing", "the index lists it; the store does not have it")
    if listed[key] != size:
        return "changed", None, 0, Problem(key, "changed", f"size is {listed[key]} bytes; the index recorded {size}")
    try:
        got, nbytes = hash_object(store, key, size, range_size=range_size, version=version)
    except (StoreError, OSError, BotoCoreError) as exc:  # the connection dropped mid-read
        return "unreadable", None, 0, Problem(key, "unreadable", str(exc))
    if nbytes != size:
        return "changed", got, nbytes, Problem(key, "changed", f"read {nbytes} bytes; the index recorded {size}")
    if got != sha:
        return "changed", got, nbytes, Problem(key, "changed", f"sha256 is {got}; the index recorded {sha}")
    return "ok", got, nbytes, None


def _counted(tick: progress.Progress, total: int, checked: tuple) -> tuple:
    tick("objects", advance=1, total=total) or tick("bytes", advance=checked[2], unit="bytes")
    return checked


def run_fixity(db, store: Store, *, sample: int | None = None, actor: str = "fixity", workers: int = 4,
               range_size: int = RANGE, now: datetime | None = None, clock=time.monotonic) -> FixityReport:
    """Audit the store against the index; record results and timing in the audit log."""
    if sample is not None and sample < 1:
        raise ValueError("sample must be at least 1")
    started = clock()
    report = FixityReport(sample=sample)
    report.objects = db.conn.execute("SELECT count(*) FROM objects").fetchone()[0]
    archived = {a.key: a for a in store.archived(PREFIX)}
    listed = {key: a.size for key, a in archived.items()}
    known = {k for (k,) in db.conn.execute("SELECT key FROM objects")}
    chosen = select(db, sample)
    tick = progress.current()  # the worker threads do not see this context
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(lambda row: _counted(tick, len(chosen), _check_one(store, *row, listed, range_size)),
                                chosen))
    at = iso(now or utcnow())
    missing_elsewhere = sorted(known - listed.keys() - {row[0] for row in chosen})
    for key in missing_elsewhere:
        report.problems.append(Problem(key, "missing", "the index lists it; the store does not have it"))
    for (key, *_), (result, got, nbytes, problem) in zip(chosen, results):
        report.checked += result != "missing"
        report.bytes += nbytes
        if problem:
            report.problems.append(problem)
    for key in sorted(listed.keys() - known):
        report.problems.append(Problem(key, "unexpected", "in the store but not in the index"))
    for key in sorted(k for k, a in archived.items() if a.replaced and k in known):
        report.problems.append(Problem(key, "replaced", "a later version or a delete marker was put over the archived"
                                       " version; the archiver reads the version it stored"))
    for finding in journal.verify(db, store):  # the records-management journal is in the store too
        key, _, why = finding.partition(": ")
        report.problems.append(Problem(key, "journal", why))
    report.problems.sort(key=lambda p: (p.kind, p.key))
    report.seconds = clock() - started
    with transaction(db):
        db.conn.executemany(
            "INSERT OR REPLACE INTO fixity_checks (key, checked_at, result, sha256) VALUES (?,?,?,?)",
            [(key, at, result, got) for (key, *_), (result, got, _, _) in zip(chosen, results)]
            + [(key, at, "missing", None) for key in missing_elsewhere],
        )
        detail = report.summary()
        detail["findings"] = [asdict(p) for p in report.problems[:200]]  # the full list is in the command output
        audit.append(db, actor, "fixity", detail, now=now)
    return report
