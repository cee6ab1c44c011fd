"""The lean index (issue 24): the WARC is the one full copy of a version's body.

The index keeps no copy of a version's content or native JSON; they are read back from the
version's items/1 record (archiver.sightings.VersionBodies). These tests hold that the body
read back is the one captured, that an index written before (with the bodies in it)
migrates and still shows and exports the same, and that a rebuilt index is lean too.
"""

from __future__ import annotations

import json
from pathlib import Path
from datetime import timedelta

import pytest

from archiver.errors import ExportError
from archiver.index import open_index
from archiver.index.queries import item_detail, version_rows
from archiver.reindex import reindex
from archiver.retention.disposition import keep_version_bodies
from archiver.sightings import VersionBodies
from archiver.store import open_store
from archiver.exporters.records import iter_threads
from archiver.exporters.render import printable
from tests.ops.support import NOW, finish, index_of, start_cli
from tests.ops.test_record_keys import make_old

OLD_VERSIONS = """
    CREATE TABLE versions (
        item_rowid INTEGER NOT NULL REFERENCES items(rowid),
        n INTEGER NOT NULL,
        hash TEXT NOT NULL,
        text TEXT,
        content TEXT,
        native TEXT,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        record_id TEXT,
        meta_record_id TEXT,
        PRIMARY KEY (item_rowid, n)
    )"""


def _edited_post(db) -> tuple[int, str]:
    return db.conn.execute("SELECT rowid, id FROM items WHERE kind = 'post' AND versions = 2").fetchone()


def _full_versions(db, store) -> dict[tuple[int, int], dict]:
    """Every version as the index showed it before it was lean: text, content, native, dates."""
    bodies = VersionBodies(db.conn, store)
    return {(rowid, v["n"]): v for (rowid,) in db.conn.execute("SELECT rowid FROM items")
            for v in version_rows(db.conn, rowid, bodies)}


def test_a_versions_native_is_read_back_from_the_warc_as_captured(two_nights):
    settings, _ = two_nights
    db, store = index_of(settings), open_store(settings)
    # Nothing of a version's body is copied into the index.
    assert db.conn.execute("SELECT count(*) FROM versions WHERE content IS NOT NULL OR native IS NOT NULL"
                           ).fetchone()[0] == 0
    rowid, item_id = _edited_post(db)
    first, second = version_rows(db.conn, rowid, VersionBodies(db.conn, store))
    # facebook_next_night appended to the post's message: each version's native is the
    # platform's JSON of that night, exactly as sent (the response record holds the same).
    before, after = json.loads(first["native"]), json.loads(second["native"])
    assert after["message"] == before["message"] + " UPDATE: reopened at 4am."
    assert (first["text"], second["text"]) == (before["message"], after["message"])
    assert json.loads(second["content"])["message"] == after["message"]
    assert second["last_seen"] == db.conn.execute("SELECT last_seen FROM items WHERE rowid = ?",
                                                  (rowid,)).fetchone()[0]
    assert first["last_seen"] < second["first_seen"] <= second["last_seen"]
    response = store.read(*db.conn.execute(
        "SELECT object_key, offset, length FROM records WHERE record_id = ?", (second["record_id"],)).fetchone())
    assert response  # the version's own response record is where the native came from
    # Exports read the same bodies through the store.
    thread, = iter_threads(db, store, [tuple(db.conn.execute(
        "SELECT account, root FROM items WHERE rowid = ?", (rowid,)).fetchone())], with_media=False)
    assert [v.native for v in thread.post.versions] == [first["native"], second["native"]]


def test_a_damaged_items_record_stops_the_export_with_its_name(two_nights):
    settings, _ = two_nights
    db, store = index_of(settings), open_store(settings)
    rowid, _ = _edited_post(db)
    key, offset, length = db.conn.execute(
        "SELECT r.object_key, r.offset, r.length FROM versions v JOIN records r ON r.id = v.meta_record"
        " WHERE v.item_rowid = ? AND v.n = 2", (rowid,)).fetchone()
    target = next(p for p in Path(settings.storage_url.removeprefix("file://")).rglob("*")
                  if p.name == key.rsplit("/", 1)[-1])
    data = bytearray(target.read_bytes())
    data[offset + length // 2] ^= 0xFF
    target.chmod(0o644)
    target.write_bytes(bytes(data))
    with pytest.raises(ExportError, match="fixity"):
        list(iter_threads(db, store, [tuple(db.conn.execute(
            "SELECT account, root FROM items WHERE rowid = ?", (rowid,)).fetchone())], with_media=False))


def test_an_index_with_the_bodies_in_it_migrates_and_still_shows_and_exports(two_nights, tmp_path):
    settings, cfg = two_nights
    db, store = index_of(settings), open_store(settings)
    full = _full_versions(db, store)
    migrated_rowid, edited_id = _edited_post(db)
    shown = item_detail(db, edited_id, VersionBodies(db.conn, store))
    # The index as it was before the lean migration: every version whole, items_created (and the
    # text record ids of the migrations after it).
    conn = db.conn
    make_old(conn)
    view = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'item_objects'").fetchone()[0]
    conn.execute("DROP VIEW item_objects")
    conn.execute("DROP TABLE versions")
    conn.execute(OLD_VERSIONS)
    conn.executemany("INSERT INTO versions VALUES (?,?,?,?,?,?,?,?,?,?)", [
        (rowid, n, v["hash"], v["text"], v["content"], v["native"], v["first_seen"], v["last_seen"],
         v["record_id"], v["meta_record_id"]) for (rowid, n), v in full.items()])
    conn.execute("CREATE INDEX versions_record ON versions(record_id)")
    conn.execute("CREATE INDEX versions_meta_record ON versions(meta_record_id)")
    conn.execute("CREATE INDEX items_created ON items(created_at)")
    conn.execute(view)
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm_lean_versions'")
    assert conn.execute("SELECT count(*) FROM versions WHERE native IS NULL").fetchone()[0] == 0
    db.conn.close()

    migrated = open_index(settings.index_path)
    assert migrated.conn.execute("SELECT count(*) FROM versions WHERE native IS NOT NULL OR content IS NOT NULL"
                                 " OR last_seen IS NULL AND text IS NOT NULL").fetchone()[0] == 0
    assert migrated.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'items_created'").fetchone() is None
    assert _full_versions(migrated, store) == full
    assert item_detail(migrated, shown["item"]["id"], VersionBodies(migrated.conn, store)) == shown
    migrated.conn.close()
    # `show` and a records-request bundle (natives of every version) work on the migrated index.
    code, out, err = finish(start_cli(cfg, "show", shown["item"]["id"], "--format", "json"))
    assert code == 0, err
    assert [v["content"] for v in json.loads(out)["versions"]] == [v["content"] for v in shown["versions"]]
    code, out, err = finish(start_cli(cfg, "export", "request", "--request-id", "R-1", "--requester", "r",
                                      "--received", "2026-11-20", "--from", "2000-01-01", "--to", "2099-12-31",
                                      "--out", str(tmp_path / "bag")), timeout=120)
    assert code == 0, err
    rowid = migrated_rowid
    for n in (1, 2):
        native = next((tmp_path / "bag").rglob(f"natives/{shown['item']['id']}/v{n}.json")).read_text("utf-8")
        assert native == printable(full[(rowid, n)]["native"])


def test_reindex_builds_the_lean_index(two_nights, tmp_path):
    settings, _ = two_nights
    original = index_of(settings)
    store = open_store(settings)
    reindex(store, settings.index_path, into=tmp_path / "rebuilt.db", now=NOW + timedelta(hours=1))
    rebuilt = open_index(tmp_path / "rebuilt.db")
    schema = "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
    assert rebuilt.conn.execute(schema).fetchall() == original.conn.execute(schema).fetchall()
    assert rebuilt.conn.execute("SELECT count(*) FROM versions WHERE content IS NOT NULL OR native IS NOT NULL"
                                ).fetchone()[0] == 0
    assert _full_versions(rebuilt, store) == _full_versions(original, store)


def test_disposition_keeps_the_body_of_a_version_whose_items_record_goes(two_nights):
    settings, _ = two_nights
    db, store = index_of(settings), open_store(settings)
    rowid, _ = _edited_post(db)
    full = _full_versions(db, store)[(rowid, 2)]
    # The version's items/1 record is in one object and its response in another (a listing
    # page's entries closed after the file rotated): the object with the record goes.
    key = db.conn.execute("SELECT object_key FROM records WHERE record_id = ?", (full["meta_record_id"],)).fetchone()[0]
    db.conn.execute("INSERT INTO objects (key, sha256, size, stored_at) VALUES ('elsewhere', 'x', 0, 'now')")
    db.conn.execute("UPDATE records SET object_key = 'elsewhere' WHERE record_id = ?", (full["record_id"],))
    assert keep_version_bodies(db, store, key) >= 1
    kept = db.conn.execute("SELECT content, native FROM versions WHERE item_rowid = ? AND n = 2", (rowid,)).fetchone()
    assert kept == (full["content"], full["native"])
    assert version_rows(db.conn, rowid)[1]["native"] == full["native"]  # without the store
