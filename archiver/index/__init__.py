"""The SQLite index: derived from the WARC files, rebuildable by ``archiver reindex``.

``open_index`` applies pending migrations and turns on WAL so readers (the web UI, search)
never block the nightly writer. Queries that are part of the product are named functions in
``archiver.index.queries``; the capture side writes through ``archiver.ingest``.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import sqlite_utils

from ..errors import IndexError_
from .schema import migrations


def item_id(platform: str, account: str, platform_id: str) -> str:
    """The archive's stable id: the same item gets the same id after a reindex."""
    digest = hashlib.sha256(f"{platform}\x00{account}\x00{platform_id}".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]


def open_index(path: str | Path, *, create: bool = True) -> sqlite_utils.Database:
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
        db = sqlite_utils.Database(conn)
        migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        raise IndexError_(f"cannot open the index {path}: {exc}") from None
    except OSError as exc:
        raise IndexError_(f"cannot create the index at {path}: {exc.strerror}") from None
    return db


class transaction:
    """``with transaction(db):`` – one IMMEDIATE transaction (the connection is in autocommit
    mode so that sqlite-utils calls outside a transaction commit at once). Nested use joins
    the outer transaction."""

    def __init__(self, db: sqlite_utils.Database):
        self.conn = db.conn
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
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
        return False
