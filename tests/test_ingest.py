"""Ingest of items/1 metadata into the index (archiver.ingest): the full-text index it files."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from archiver.index import open_index
from archiver.ingest import ingest_warc
from archiver.reindex import reindex
from archiver.spool import commit_spool_file
from archiver.store import LocalStore
from archiver.warc import WarcFile

WHEN = datetime(2026, 11, 21, 3, 0, tzinfo=timezone.utc)


def _change(pid: str, text: str, event: str, created: str) -> dict:
    return {"events": [event], "item": {
        "platform_id": pid, "kind": "comment", "root": "p1", "parent": "p1", "author": "Resident",
        "author_id": "9", "is_department": False, "search_text": None, "created_at": created, "url": None,
        "hidden": False, "counts": {}},
        "version": {"hash": hashlib.sha256(text.encode()).hexdigest(), "text": text,
                    "content_json": f'{{"message":"{text}"}}', "native_json": None}}


def _warc(path: Path, pages: list[list[dict]]):
    """A closed WARC of one items/1 record per page of changes."""
    warc = WarcFile(path, {"software": "test"})
    for n, changes in enumerate(pages):
        warc.write_metadata("items/1", f"https://graph.example/page{n}", {
            "run": "r1", "account": "ocpd", "platform": "facebook", "source": None, "uri": "u",
            "seen": [], "seen_at": [], "changes": changes, "threads": []}, WHEN)
    return warc.close()


def _ingest(db, tmp_path, name: str, pages: list[list[dict]]) -> None:
    closed = _warc(tmp_path / name, pages)
    with open(closed.path, "rb") as fh:
        ingest_warc(db, name, fh, sha256=closed.sha256, size=closed.size, stored_at=WHEN)


def _matches(db, word: str) -> list[str]:
    return [r[0] for r in db.conn.execute(
        "SELECT i.platform_id FROM items_fts f JOIN items i ON i.date_key = f.rowid WHERE items_fts MATCH ?"
        " ORDER BY i.platform_id", (word,))]


def test_items_created_edited_and_reedited_in_one_file_are_searchable_by_their_latest_text(tmp_path):
    db = open_index(tmp_path / "index.db")
    _ingest(db, tmp_path, "one.warc.gz", [[_change("c1", "apple", "new", "2026-11-20T10:00:00Z"),
                                           _change("c2", "banana", "new", "2026-11-20T11:00:00Z")]])
    # In one file: a new item dated before the others (its key goes down), then edits of it
    # and of an item an earlier file created.
    _ingest(db, tmp_path, "two.warc.gz", [[_change("c3", "cherry", "new", "2026-11-19T09:00:00Z")],
                                          [_change("c3", "damson", "edited", "2026-11-19T09:00:00Z"),
                                           _change("c1", "elder", "edited", "2026-11-20T10:00:00Z")]])
    # rank 1: the full-text index agrees with the items table, entry for entry.
    db.conn.execute("INSERT INTO items_fts(items_fts, rank) VALUES ('integrity-check', 1)")
    assert [_matches(db, w) for w in ("apple", "banana", "cherry", "damson", "elder")] == \
        [[], ["c2"], [], ["c3"], ["c1"]]
    assert db.conn.execute("SELECT count(*) FROM fts_deferred").fetchone()[0] == 0
    # Rows written by anything else than ingest are filed by the triggers, as before.
    db.conn.execute("UPDATE items SET text = 'fig' WHERE platform_id = 'c2'")
    db.conn.execute("INSERT INTO items_fts(items_fts, rank) VALUES ('integrity-check', 1)")
    assert _matches(db, "fig") == ["c2"] and _matches(db, "banana") == []


def test_the_index_syncs_every_commit(tmp_path):
    # A committed file's spool copy is deleted at once: the commit itself must be on disk, not
    # wait for a checkpoint (which comes only every 64 MB of log).
    db = open_index(tmp_path / "index.db")
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 16384


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="lists open files through /proc")
def test_ingest_of_a_thousand_item_file_opens_no_temporary_file(tmp_path):
    # SQLite journals the pages a multi-row INSERT changes, in case it fails half-way; past
    # 64 KB that journal goes to a temporary file (unlinked, open until the transaction ends)
    # unless the connection keeps temporary data in memory (archiver.index.tune_for_ingest).
    db = open_index(tmp_path / "index.db")
    spool = tmp_path / "spool"
    spool.mkdir()
    closed = _warc(spool / "big.warc.gz", [
        [_change(f"c{page}_{n}", f"comment {page} {n} " + "words " * 20, "new",
                 f"2026-11-{10 + n % 10:02d}T10:{n % 60:02d}:00Z") for n in range(100)]
        for page in range(10)])
    seen: list[list[str]] = []

    class Look:  # runs inside the ingest's transaction, where a spilled journal is still open
        swept = True  # as AfterIngest after its first commit: called per file, with its items

        def indexed(self, db, key, created):
            seen.append([os.readlink(f) for f in Path("/proc/self/fd").iterdir() if f.is_symlink()])

        def stored(self, db, key):
            pass

    commit_spool_file(db, LocalStore(tmp_path / "store"), spool, closed.path, now=WHEN, retain_years=7,
                      after_ingest=Look())
    assert db.conn.execute("SELECT count(*) FROM items").fetchone()[0] == 1000
    assert seen and not [f for f in seen[0] if "etilqs" in f], seen[0]
    assert db.conn.execute("PRAGMA cache_size").fetchone()[0] == -16384  # a file's pages fit


def _segments(conn) -> int:
    return conn.execute("SELECT count(DISTINCT segid) FROM items_fts_idx").fetchone()[0]


def test_pages_of_every_size_insert_their_items_with_a_few_statements_compiled_once(tmp_path):
    # A multi-row INSERT is compiled for its number of rows (500 items rows: 1.2 MB in SQLite)
    # and sqlite3 keeps the last 128 distinct statements: one per page size made the commit
    # worker hold a statement per size its pages came in, and compile nearly every page anew.
    db = open_index(tmp_path / "index.db")
    sizes = [*range(1, 41), 127, 255, 300, 511]  # a thread's last page of comments can be any size
    pages = [[_change(f"c{size}_{n}", f"comment {size} {n}", "new", "2026-11-20T10:00:00Z") for n in range(size)]
             for size in sizes]
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    _ingest(db, tmp_path, "sizes.warc.gz", pages)
    db.conn.set_trace_callback(None)
    # (the trace shows each statement with its values: rows are "(...), (...)")
    inserts = {s.count("), (") + 1 for s in statements if s.startswith("INSERT INTO items (")}
    assert inserts == {1, 2, 4, 8, 16, 32, 64, 128, 256}  # rows per statement: nine statements
    # The look for a page's items already indexed: one statement, the ids in a JSON array.
    lookups = [s for s in statements if "FROM items WHERE account = " in s and "platform_id IN" in s]
    assert len(lookups) == len(sizes) and all("platform_id IN (SELECT value FROM json_each('[" in s for s in lookups)
    assert db.conn.execute("SELECT count(*), count(DISTINCT platform_id) FROM items").fetchone() == \
        (sum(sizes), sum(sizes))
    assert [r[0] for r in db.conn.execute(
        "SELECT text FROM items WHERE platform_id IN ('c1_0', 'c511_0', 'c511_510') ORDER BY rowid")] == \
        ["comment 1 0", "comment 511 0", "comment 511 510"]


def test_full_text_segments_are_merged_after_each_commit_and_by_reindex(tmp_path):
    # A merge inside ingest's transaction ran within the filing statement, whose statement
    # journal holds a copy of every page it rewrites; merges run after the commit instead
    # (archiver.index.merge_fulltext), where a level holds eight segments.
    db = open_index(tmp_path / "index.db")
    assert dict(db.conn.execute("SELECT k, v FROM items_fts_config WHERE k IN ('automerge', 'usermerge')")) == \
        {"automerge": 0, "usermerge": 8}
    spool, store = tmp_path / "spool", LocalStore(tmp_path / "store")
    spool.mkdir()
    counts = []
    for night in range(12):
        closed = _warc(spool / f"n{night:02d}.warc.gz", [
            [_change(f"c{night}_{n}", f"night{night} report {n}", "new", f"2026-11-{10 + n:02d}T10:00:00Z")
             for n in range(10)]])
        commit_spool_file(db, store, spool, closed.path, now=WHEN, retain_years=7)
        counts.append(_segments(db.conn))
    # Each commit files one segment; the eighth on level 0 merges them into one on level 1.
    assert counts == [1, 2, 3, 4, 5, 6, 7, 1, 2, 3, 4, 5], counts
    db.conn.execute("INSERT INTO items_fts(items_fts, rank) VALUES ('integrity-check', 1)")
    assert len(_matches(db, "report")) == 120 and _matches(db, "night3") == [f"c3_{n}" for n in range(10)]

    rebuilt = reindex(store, tmp_path / "rebuilt.db")
    assert rebuilt.items == 120
    again = open_index(tmp_path / "rebuilt.db")
    assert _segments(again.conn) == 5
    again.conn.execute("INSERT INTO items_fts(items_fts, rank) VALUES ('integrity-check', 1)")
    assert len(_matches(again, "report")) == 120


def test_a_merge_that_fails_after_the_commit_loses_nothing_and_is_done_by_the_next(tmp_path, caplog):
    db = open_index(tmp_path / "index.db")
    spool, store = tmp_path / "spool", LocalStore(tmp_path / "store")
    spool.mkdir()

    def no_merge(action, table, *_):  # FTS5 commands outside ingest's transaction: the merges
        if action == sqlite3.SQLITE_INSERT and table == "items_fts" and not db.conn.in_transaction:
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    for night in range(9):
        if night == 7:
            db.conn.set_authorizer(no_merge)
        if night == 8:
            db.conn.set_authorizer(None)
        closed = _warc(spool / f"n{night}.warc.gz", [[_change(f"c{night}", f"night{night} report", "new",
                                                              "2026-11-10T10:00:00Z")]])
        assert commit_spool_file(db, store, spool, closed.path, now=WHEN, retain_years=7)
        if night == 7:  # committed, filed and out of the spool; eight segments wait for a merge
            assert _segments(db.conn) == 8 and not list(spool.iterdir())
            assert "full-text segments not merged after warcs/n7.warc.gz" in caplog.text
    assert _segments(db.conn) == 1  # the next commit filed its own, then merged all nine
    assert len(_matches(db, "report")) == 9
