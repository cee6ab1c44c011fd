"""Ingest of items/1 metadata into the index (archiver.ingest): the full-text index it files."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from archiver.index import open_index
from archiver.ingest import ingest_warc
from archiver.warc import WarcFile

WHEN = datetime(2026, 11, 21, 3, 0, tzinfo=timezone.utc)


def _change(pid: str, text: str, event: str, created: str) -> dict:
    return {"events": [event], "item": {
        "platform_id": pid, "kind": "comment", "root": "p1", "parent": "p1", "author": "Resident",
        "author_id": "9", "is_department": False, "search_text": None, "created_at": created, "url": None,
        "hidden": False, "counts": {}},
        "version": {"hash": hashlib.sha256(text.encode()).hexdigest(), "text": text,
                    "content_json": f'{{"message":"{text}"}}', "native_json": None}}


def _ingest(db, tmp_path, name: str, pages: list[list[dict]]) -> None:
    warc = WarcFile(tmp_path / name, {"software": "test"})
    for n, changes in enumerate(pages):
        warc.write_metadata("items/1", f"https://graph.example/page{n}", {
            "run": "r1", "account": "ocpd", "platform": "facebook", "source": None, "uri": "u",
            "seen": [], "seen_at": [], "changes": changes, "threads": []}, WHEN)
    closed = warc.close()
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
