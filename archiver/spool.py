"""The spool: WARC files written locally, then uploaded (verified) and indexed.

A closed spool file is uploaded with checksum verification, ingested into the index, and
only then removed. A file that failed to upload stays for the next run; a ``.open`` file left
by a killed process is cut back to its last intact record first (``warc.repair``), its
damaged tail kept in quarantine beside the spool.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .retention.assign import AfterIngest

from . import journal
from .errors import StoreError
from .index import merge_fulltext, transaction, tune_for_ingest
from .ingest import ingest_warc
from .store import Store, sha256_file
from .timefmt import iso
from .warc import OPEN_SUFFIX, iter_members, quarantine, repair

log = logging.getLogger("archiver.capture")


def commit_spool_file(db, store: Store, spool_root: Path, path: Path, *, now: datetime, retain_years: int,
                      after_ingest: AfterIngest | None = None) -> str:
    """Upload a closed spool WARC (verified), ingest it, then remove it from the spool.
    ``after_ingest`` (retention) gives the new items their series in the ingest's own
    transaction, then sets the object's lock. Raises StoreError if the upload fails."""
    keys, error = commit_spool_files(db, store, spool_root, [path], now=now, retain_years=retain_years,
                                     after_ingest=after_ingest)
    if error is not None:
        raise error
    return keys[0]


def commit_spool_files(db, store: Store, spool_root: Path, paths: list[Path], *, now: datetime,
                       retain_years: int, after_ingest: AfterIngest | None = None
                       ) -> tuple[list[str], StoreError | None]:
    """Upload closed spool WARCs in order (verified), ingest them all in one transaction, then
    remove them from the spool: the keys committed, and the upload error that stopped the
    files after it (those stay in the spool for the next run), if one did.

    One transaction for several files writes each index page they share once instead of once
    per file: in WAL mode a commit appends every page it changed to the log, and the pages of
    keys that are not in insertion order (item ids, author ids) and the full-text index are
    changed by every file (bench/index_size.py). A file is removed from the spool only after
    the transaction that indexed it commits, so a process killed at any point loses nothing:
    the next run finds the files in the spool (``recover_spool``)."""
    retain_until = now.replace(microsecond=0) + timedelta(days=round(365.25 * retain_years))
    indexed: list[tuple[Path, str]] = []  # uploaded and indexed before a crash removed it from the spool
    uploaded: list[tuple[Path, str, str, int, str | None]] = []
    error = None
    for path in paths:
        key = "warcs/" + path.relative_to(spool_root).as_posix()
        sha, size = sha256_file(path)
        row = db.conn.execute("SELECT sha256 FROM objects WHERE key = ?", (key,)).fetchone()
        if row and row[0] == sha:
            indexed.append((path, key))
            continue
        try:
            stored = store.put(key, path, sha, retain_until=retain_until)
        except StoreError as exc:
            error = exc
            break
        uploaded.append((path, key, sha, size, stored.version))
    if uploaded:
        tune_for_ingest(db.conn)
        with transaction(db):
            for path, key, sha, size, version in uploaded:
                with open(path, "rb") as fh:
                    stats = ingest_warc(db, key, fh, sha256=sha, size=size, stored_at=now,
                                        retain_until=retain_until if store.object_lock else None, version=version)
                if after_ingest and after_ingest.swept:
                    # File by file: the items a file created (about 540 B each in Python) are
                    # let go before the next, so a batch holds one file's, not sixteen files'.
                    after_ingest.indexed(db, key, stats.created)
            if after_ingest and not after_ingest.swept:
                # Once for the batch, after its last file: a first commit's archive-wide look for
                # unassigned items then covers every file of the batch in one pass.
                after_ingest.indexed(db, key)
        try:
            merge_fulltext(db.conn)
        except sqlite3.Error as exc:  # maintenance: the files are indexed and committed
            log.warning("full-text segments not merged after %s (%s); the next commit merges them", key, exc)
    for path, key, *_ in uploaded:
        if after_ingest:
            after_ingest.stored(db, key)
    committed = {path: key for path, key, *_ in [*indexed, *uploaded]}
    for path in committed:
        path.unlink()
    return [committed[p] for p in paths if p in committed], error


def quarantine_dir(spool_root: Path) -> Path:
    """Where damaged spool bytes are set aside as evidence: beside the spool, never inside it
    (nothing there is uploaded or deleted; ``archiver health`` lists it)."""
    return spool_root.parent / "quarantine"


def recover_spool(db, store: Store, spool_root: Path, *, now: datetime, retain_years: int,
                  after_ingest: AfterIngest | None = None) -> list[str]:
    """Finish what a killed or failed run left: repair torn files, upload, ingest.

    Recovery never stops the night's capture on a damaged file: a torn file keeps its intact
    records and its damaged tail goes to quarantine (``warc.repair``); a closed file that does
    not verify goes to quarantine whole, before upload. Both are logged and reported by
    ``archiver health``. A store that is down still raises ``StoreError`` (the files stay)."""
    recovered: list[str] = []
    # The caller holds the writer lock, so a run still marked 'running' was killed.
    db.conn.execute(
        "UPDATE runs SET status = 'interrupted', finished_at = COALESCE(finished_at, ?), message = 'the run was cut"
        " short (killed); what it had written is recovered from the spool' WHERE status = 'running'", (iso(now),)
    )
    # Records-management entries sealed where no store was at hand (the web UI) go out now.
    journal.attach(db, store)
    journal.after_commit(db)
    if not spool_root.exists():
        return recovered
    aside = quarantine_dir(spool_root)
    for path in sorted(spool_root.rglob("*" + OPEN_SUFFIX)):
        try:
            fixed = repair(path, aside, now=now)
        except OSError as exc:
            log.error("cannot repair %s (%s); it stays in the spool", path.name, exc.strerror or exc)
            continue
        if fixed.tail:
            log.error("repaired %s left by an interrupted run: kept %d intact records; the damaged rest (%s) is"
                      " in quarantine as %s", path.name, fixed.records, fixed.reason, fixed.tail.name)
        else:
            log.warning("repaired %s left open by an interrupted run", path.name)
    for path in sorted(spool_root.rglob("*.warc.gz")):
        problem = _damage(path)
        if problem:
            moved = quarantine(path, aside, problem, detail={"records_kept": 0}, now=now)
            log.error("spool file %s is damaged (%s): not uploaded; set aside in quarantine as %s",
                      path.name, problem, moved.name)
            continue
        key = commit_spool_file(db, store, spool_root, path, now=now, retain_years=retain_years,
                                after_ingest=after_ingest)
        recovered.append(key)
        log.info("recovered spool file %s", key)
    return recovered


def _damage(path: Path) -> str | None:
    """Why a closed spool file cannot be archived as it is (a damaged record), or None."""
    try:
        with open(path, "rb") as fh:
            for member in iter_members(fh):
                if member.problem:
                    return f"the record at byte {member.offset} is damaged: {member.problem}"
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    return None


class UnavailableStore(Store):
    """Stands in for a store that could not be reached when the run started: every upload
    fails with the original reason, so each account captures into the spool and says why."""

    def __init__(self, reason: str, url: str):
        self.reason, self.url = reason, url

    def put(self, key, path, sha256, *, retain_until=None, legal_hold=False):
        raise StoreError(self.reason)

    def exists(self, key):
        raise StoreError(self.reason)
