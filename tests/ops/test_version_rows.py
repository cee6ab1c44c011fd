"""Lean version rows (issue 24, ``archiver.index.versions``): a version's hash is stored as the
sha256 digest's 32 bytes and its first sighting is NULL where it is the item's, in a table keyed
by (item, n) alone; readers see the hex hash and every first sighting as before. An index written
before (hex text, every first sighting, a rowid table) migrates to the rows a fresh ingest
gives, and reindex rebuilds them from the WARCs."""

from __future__ import annotations

from datetime import timedelta

from archiver.index import open_index
from archiver.index.queries import version_rows
from archiver.reindex import reindex
from archiver.store import open_store
from tests.ops.support import NOW, index_of
from tests.ops.test_record_keys import content

# versions as migration m_record_keys left it
OLD_VERSIONS = """
    CREATE TABLE versions (
        item_rowid INTEGER NOT NULL REFERENCES items(rowid), n INTEGER NOT NULL, hash TEXT NOT NULL, text TEXT,
        content TEXT, native TEXT, first_seen TEXT NOT NULL, last_seen TEXT, record INTEGER, meta_record INTEGER,
        PRIMARY KEY (item_rowid, n))"""


def stored(db) -> dict:
    """Every version row as stored, by (platform id, n)."""
    return {(r[0], r[1]): r[2:] for r in db.conn.execute(
        "SELECT i.platform_id, v.n, v.hash, v.text, v.content, v.native, v.first_seen, v.last_seen, v.record,"
        " v.meta_record FROM versions v JOIN items i ON i.rowid = v.item_rowid")}


def test_a_version_keeps_its_digest_and_no_first_sighting_of_its_items(two_nights):
    settings, _ = two_nights
    db = index_of(settings)
    rows = stored(db)
    assert all(isinstance(r[0], bytes) and len(r[0]) == 32 for r in rows.values())
    # Night 1's versions were first seen with their items; night 2's edit was first seen then.
    assert {n for (_, n), r in rows.items() if r[4] is None} == {1}
    edited = [(pid, n) for (pid, n), r in rows.items() if r[4] is not None]
    assert edited and all(n == 2 for _, n in edited)
    # The second night found the one edit: capture compared the digests it computed with these.
    assert db.conn.execute("SELECT sum(items_edited) FROM runs").fetchone()[0] == len(edited)
    for rowid, pid, first_seen in db.conn.execute("SELECT rowid, platform_id, first_seen FROM items").fetchall():
        for v in version_rows(db.conn, rowid):
            digest, _, _, _, own_first_seen = rows[(pid, v["n"])][:5]
            assert v["hash"] == digest.hex() and len(v["hash"]) == 64
            assert v["first_seen"] == (own_first_seen or first_seen)
    assert "WITHOUT ROWID" in db.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'versions'").fetchone()[0]


def test_an_index_with_hex_hashes_migrates_to_the_rows_ingest_gives(two_nights):
    settings, _ = two_nights
    db = index_of(settings)
    before, shown = stored(db), content(db)
    conn = db.conn
    view = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'item_objects'").fetchone()[0]
    with conn:
        conn.execute("DROP VIEW item_objects")
        conn.execute("ALTER TABLE versions RENAME TO versions_new")
        conn.execute(OLD_VERSIONS)
        conn.execute("INSERT INTO versions SELECT v.item_rowid, v.n, hex(v.hash), v.text, v.content, v.native,"
                     " COALESCE(v.first_seen, i.first_seen), v.last_seen, v.record, v.meta_record"
                     " FROM versions_new v JOIN items i ON i.rowid = v.item_rowid")
        conn.execute("DROP TABLE versions_new")
        conn.execute("UPDATE versions SET hash = lower(hash)")
        conn.execute("CREATE INDEX versions_record ON versions(record)")
        conn.execute("CREATE INDEX versions_meta_record ON versions(meta_record)")
        conn.execute(view)
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm_lean_version_rows'")
    assert conn.execute("SELECT count(*) FROM versions WHERE length(hash) != 64 OR first_seen IS NULL"
                        " OR hash != lower(hash)").fetchone()[0] == 0
    conn.close()

    migrated = open_index(settings.index_path)
    assert stored(migrated) == before
    assert content(migrated) == shown
    assert {r[1] for r in migrated.conn.execute("PRAGMA index_list(versions)")} >= {"versions_record",
                                                                                   "versions_meta_record"}


def test_reindex_rebuilds_the_rows_the_nightly_ingest_wrote(two_nights, tmp_path):
    settings, _ = two_nights
    original = index_of(settings)
    reindex(open_store(settings), settings.index_path, into=tmp_path / "rebuilt.db", now=NOW + timedelta(hours=1))
    rebuilt = open_index(tmp_path / "rebuilt.db")
    # Record keys are numbered in the order files are read, so rows are compared by what they say.
    by_record = "SELECT r.record_id FROM records r WHERE r.id = ?"

    def said(db):
        return {key: (*row[:6], *(db.conn.execute(by_record, (k,)).fetchone() if k else None for k in row[6:]))
                for key, row in stored(db).items()}
    assert said(rebuilt) == said(original)
