"""The SQLite index: derived from the WARC files, rebuildable by ``archiver reindex``.

``open_index`` applies pending migrations and turns on WAL so readers (the web UI, search)
never block the nightly writer. Queries that are part of the product are named functions in
``archiver.index.queries``; the capture side writes through ``archiver.ingest``.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from .. import journal
from ..errors import IndexError_
from ..ftsquery import register_functions
from .schema import migrations


def item_id(platform: str, account: str, platform_id: str) -> str:
    """The archive's stable id: the same item gets the same id after a reindex."""
    digest = hashlib.sha256(f"{platform}\x00{account}\x00{platform_id}".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]


class Index:
    """An open index: its sqlite3 connection ``conn``, which the archiver's own SQL uses, and
    sqlite-utils' ``Database`` API on the same connection (``db["table"].insert_all``,
    ``db.execute``...) for anything else, made on first use. A search needs none of it, and
    importing sqlite-utils would be a third of a cold ``archiver search`` (archiver.index.migrate)."""

    journal_store = None  # set by journal.attach

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self._utils = None

    @property
    def utils(self):
        """The ``sqlite_utils.Database`` on ``conn``, without sqlite-utils plugins: the index is the
        archiver's own, and finding plugins scans every installed package's entry points."""
        if self._utils is None:
            import sqlite_utils

            self._utils = sqlite_utils.Database(self.conn, execute_plugins=False)
        return self._utils

    def __getattr__(self, name: str):  # only names the handle itself does not have
        if name.startswith("_"):  # dunders, and _utils before __init__ set it (a copy, a pickle)
            raise AttributeError(name)
        return getattr(self.utils, name)

    def __getitem__(self, table: str):
        return self.utils[table]


def open_index(path: str | Path, *, create: bool = True) -> Index:
    path = Path(path)
    if not create and not path.exists():
        raise IndexError_(f"no index at {path}: run `archiver init` (or `archiver reindex` to rebuild one)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: each commit is on disk before it returns. Ingest deletes a file's spool copy
        # right after committing it, so its rows must not depend on a later checkpoint (NORMAL
        # syncs only at checkpoints, and a power cut before one would lose them). In WAL mode
        # that is one fsync of the log per commit: no measurable cost in bench_collect.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        # Checkpoint every 64 MB of WAL rather than SQLite's 4 MB: each checkpoint copies every
        # page changed since the last one, and a night's ingest changes the same index and FTS
        # pages file after file (bench_collect: 0.2 s less CPU). The WAL file is cut back to
        # that size after a checkpoint, so it never stays larger.
        conn.execute("PRAGMA wal_autocheckpoint=16384")
        conn.execute("PRAGMA journal_size_limit=67108864")
        register_functions(conn)
        db = Index(conn)
        if migrations.pending(conn):
            migrations.apply(db.utils)
        journal.watch(conn)  # records-management changes are journaled (archiver.journal)
    except sqlite3.DatabaseError as exc:
        raise IndexError_(f"cannot open the index {path}: {exc}") from None
    except OSError as exc:
        raise IndexError_(f"cannot create the index at {path}: {exc.strerror}") from None
    return db


def tune_for_ingest(conn: sqlite3.Connection) -> None:
    """Settings for a connection that ingests WARC files (``archiver.ingest.ingest_warc``),
    made before its transaction begins, when SQLite reads them (inside one: nothing to do).

    temp_store=MEMORY: ingest inserts a page's new items in multi-row statements (up to 256
    rows), and SQLite journals every page such a statement changes (it could fail half-way on
    a UNIQUE or NOT NULL constraint, or in the strftime of ``date_key``) -- about 9 MB per
    1,000-item file. Past 64 KB that statement journal spills into a temporary file: half of
    the commit worker's 150,000 writes in bench_collect, and a third of its system time. In
    memory it is bounded by one statement over one file's items (the full-text index's segment
    merges, which rewrite segments that grow with the index, run after the commit:
    ``merge_fulltext``). Other connections keep the default, where a long migration's statement
    journal must not have to fit in memory.

    cache_size 16 MB: the default 2 MB is less than one file's changed pages, so SQLite spilled
    pages into the WAL in mid-transaction, wrote them again at commit, and read the index pages
    back from disk for the next file (with both: worker CPU -0.2 s of 1.6 s in bench_collect)."""
    if conn.in_transaction:
        return
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA cache_size=-16384")
    journal.watch(conn)  # changing temp_store drops the temporary triggers: put them back


def merge_fulltext(conn: sqlite3.Connection) -> None:
    """Merge the full-text index's segments where one level holds eight (``usermerge``), in
    transactions of their own. Called after each ingest commits
    (``spool.commit_spool_files``, ``reindex``).

    FTS5 would merge as it files (``automerge``), but inside ingest's transaction each merge
    then ran within the filing statement, and SQLite keeps a copy of every page a statement
    changes for as long as it runs (its statement journal; in memory, ``tune_for_ingest``): a
    merge rewrites whole segments, and the largest grow with the index -- the commit worker's
    peak memory grew with it (bench_collect). Run alone, a merge is its own transaction and
    needs no statement journal. Migration m_fts_merge_after_commit turns automerge off; FTS5
    still merges by itself once a level holds 16 segments (``crisismerge``), so writers that
    do not call this (the web UI's edits) stay bounded too."""
    if conn.in_transaction:
        raise RuntimeError("merge_fulltext runs after a commit, outside any transaction")
    while True:
        before = conn.total_changes
        conn.execute("INSERT INTO items_fts(items_fts, rank) VALUES ('merge', 500)")
        # FTS5's documented signal: a 'merge' that did work changes the total by 2 or more.
        if conn.total_changes - before < 2:
            return


# The commit worker's checkpoint interval, in pages (1 GB of WAL at 4 KB pages).
WORKER_CHECKPOINT_PAGES = 262144


def defer_checkpoints(conn: sqlite3.Connection) -> None:
    """For the commit worker (``archiver.committer``): checkpoint every 1 GB of WAL instead of
    every 64 MB. A checkpoint copies each page changed since the last one into the database
    file once, however many commits changed it; the item-id and retention indexes, whose keys
    are not in insertion order, have a page changed by nearly every commit, so fewer checkpoints
    write them fewer times (bench/index_size.py, 300,000 items committed file by file: 61.8x
    the WARC bytes on disk with a checkpoint every 64 MB, 53.8x every 1 GB). The WAL grows to
    1 GB during a large capture; the next commit of another connection past the usual 64 MB
    (the capture process commits the run's last file) or the last connection to close
    checkpoints it, and the WAL file is cut back to 64 MB (``journal_size_limit``)."""
    conn.execute(f"PRAGMA wal_autocheckpoint={WORKER_CHECKPOINT_PAGES}")


class transaction:
    """``with transaction(db):`` – one IMMEDIATE transaction (the connection is in autocommit
    mode so that sqlite-utils calls outside a transaction commit at once). Nested use joins
    the outer transaction."""

    def __init__(self, db: Index):
        self.db, self.conn = db, db.conn
        self.outer = False

    def __enter__(self):
        self.outer = self.conn.in_transaction
        if not self.outer:
            self.conn.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.outer:
            return False
        if exc_type is None:
            try:
                journal.seal(self.conn)  # the journal entry commits with the change it records
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
            journal.after_commit(self.db)
        else:
            self.conn.execute("ROLLBACK")
        return False
