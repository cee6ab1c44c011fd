"""Record keys (issue 24): versions, media and events name a WARC record by ``records.id``, and
the record id (``<urn:uuid:...>``) is kept once, in ``records``; an item's ``new`` event is its
first sighting, not a row. These tests hold that an index written before (text record ids in
every row, a ``new`` event per item) migrates to the same content, that reindex and the nightly
ingest give the same rows, and that a record named before its file is indexed keeps its key."""

from __future__ import annotations

from datetime import timedelta

from archiver.index import open_index
from archiver.index.queries import item_events, item_media, put_records, record_key, version_rows
from archiver.reindex import reindex
from archiver.sightings import fold_sighting
from archiver.store import open_store
from tests.index.old_schemas import before_lean_items
from tests.ops.support import NOW, index_of

OLD_SCHEMA = """
    CREATE TABLE records (
        record_id TEXT PRIMARY KEY, object_key TEXT NOT NULL REFERENCES objects(key), offset INTEGER NOT NULL,
        length INTEGER NOT NULL, type TEXT NOT NULL, target_uri TEXT, date TEXT, payload_digest TEXT,
        content_type TEXT, http_status INTEGER, refers_to TEXT);
    CREATE INDEX records_object ON records(object_key, offset);
    CREATE INDEX records_digest ON records(payload_digest) WHERE type = 'response';
    CREATE TABLE versions (
        item_rowid INTEGER NOT NULL REFERENCES items(rowid), n INTEGER NOT NULL, hash TEXT NOT NULL, text TEXT,
        content TEXT, native TEXT, first_seen TEXT NOT NULL, last_seen TEXT, record_id TEXT, meta_record_id TEXT,
        PRIMARY KEY (item_rowid, n));
    CREATE INDEX versions_record ON versions(record_id);
    CREATE INDEX versions_meta_record ON versions(meta_record_id);
    CREATE TABLE media (
        id INTEGER PRIMARY KEY, item_rowid INTEGER NOT NULL REFERENCES items(rowid), version_n INTEGER NOT NULL,
        url TEXT NOT NULL, record_id TEXT, payload_digest TEXT, content_type TEXT, size INTEGER,
        status TEXT NOT NULL, UNIQUE (item_rowid, version_n, url));
    CREATE INDEX media_record ON media(record_id);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY, item_rowid INTEGER NOT NULL REFERENCES items(rowid), at TEXT NOT NULL,
        run_id TEXT, event TEXT NOT NULL, record_id TEXT, detail TEXT, UNIQUE (item_rowid, at, event));
    CREATE INDEX events_event ON events(event, at);
    CREATE VIEW item_objects AS
        SELECT DISTINCT r.object_key AS object_key, i.id AS item_id
        FROM (
            SELECT rowid AS item_rowid, record_id FROM items
            UNION SELECT item_rowid, record_id FROM versions
            UNION SELECT item_rowid, meta_record_id FROM versions
            UNION SELECT item_rowid, record_id FROM media
        ) AS link
        JOIN records AS r ON r.record_id = link.record_id
        JOIN items AS i ON i.rowid = link.item_rowid;
"""


def content(db) -> dict:
    """What the index says of every item's versions, media and events, and of every record."""
    conn = db.conn
    rows = conn.execute("SELECT rowid, platform_id FROM items ORDER BY platform_id").fetchall()
    return {
        "versions": {pid: version_rows(conn, rowid) for rowid, pid in rows},
        "media": {pid: item_media(conn, rowid) for rowid, pid in rows},
        "events": {pid: item_events(conn, rowid) for rowid, pid in rows},
        "records": conn.execute("SELECT record_id, object_key, offset, length, type, target_uri, date, payload_digest,"
                                " content_type, http_status, refers_to FROM records WHERE object_key IS NOT NULL"
                                " ORDER BY record_id").fetchall(),
        "item_objects": conn.execute("SELECT object_key, item_id FROM item_objects ORDER BY 1, 2").fetchall(),
    }


def make_old(conn) -> None:
    """Turn this index back into the one written before migrations m_record_keys and
    m_item_sightings, m_lean_version_rows and m_lean_items (which come after it), from what it says."""
    for (rowid,) in conn.execute("SELECT item_rowid FROM item_sightings").fetchall():
        fold_sighting(conn, rowid)
    before_lean_items(conn)
    rows = conn.execute("SELECT rowid FROM items").fetchall()
    versions = [(rowid, v) for (rowid,) in rows for v in version_rows(conn, rowid)]
    stored = conn.execute("SELECT v.item_rowid, v.n, v.content, v.native FROM versions v").fetchall()
    stored = {(r, n): (c, nat) for r, n, c, nat in stored}
    media = conn.execute("SELECT m.id, m.item_rowid, m.version_n, m.url, r.record_id, m.payload_digest,"
                         " m.content_type, m.size, m.status FROM media m LEFT JOIN records r ON r.id = m.record").fetchall()
    events = conn.execute("SELECT e.id, e.item_rowid, e.at, e.run_id, e.event, r.record_id, e.detail FROM events e"
                          " LEFT JOIN records r ON r.id = e.record").fetchall()
    news = [(rowid, e) for (rowid,) in rows for e in item_events(conn, rowid) if e["event"] == "new"]
    records = conn.execute("SELECT record_id, object_key, offset, length, type, target_uri, date, payload_digest,"
                           " content_type, http_status, refers_to FROM records WHERE object_key IS NOT NULL").fetchall()
    conn.execute("DROP TABLE item_sightings")
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm_item_sightings'")
    for name in ("VIEW item_objects", "TABLE versions", "TABLE media", "TABLE events", "TABLE records"):
        conn.execute(f"DROP {name}")
    for statement in OLD_SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.executemany("INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?)", records)
    conn.executemany("INSERT INTO versions VALUES (?,?,?,?,?,?,?,?,?,?)", [
        (rowid, v["n"], v["hash"], None if v["last_seen"] is None else v["text"], *stored[(rowid, v["n"])],
         v["first_seen"], v["last_seen"], v["record_id"], v["meta_record_id"]) for rowid, v in versions])
    # version_rows gives the latest version the item's text and last sighting: as stored, it has none
    conn.execute("UPDATE versions SET text = NULL, last_seen = NULL"
                 " WHERE n = (SELECT versions FROM items WHERE rowid = item_rowid)")
    conn.executemany("INSERT INTO media VALUES (?,?,?,?,?,?,?,?,?)", media)
    conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?)", events)
    conn.executemany("INSERT INTO events (item_rowid, at, run_id, event, record_id) VALUES (?,?,?,'new',?)",
                     [(rowid, e["at"], e["run_id"], e["record_id"]) for rowid, e in news])
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm_record_keys'")
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm_lean_version_rows'")  # comes after it


def test_an_index_with_text_record_ids_migrates_to_the_same_content(two_nights):
    settings, _ = two_nights
    db = index_of(settings)
    before = content(db)
    assert any(e["event"] == "new" and e["run_id"] and e["record_id"] for es in before["events"].values() for e in es)
    assert any(m["record_id"] for ms in before["media"].values() for m in ms)
    make_old(db.conn)
    assert db.conn.execute("SELECT count(*) FROM events WHERE event = 'new'").fetchone()[0] == len(before["events"])
    db.conn.close()

    migrated = open_index(settings.index_path)
    assert content(migrated) == before
    assert migrated.conn.execute("SELECT count(*) FROM events WHERE event = 'new'").fetchone()[0] == 0
    columns = {t: [c[1] for c in migrated.conn.execute(f"PRAGMA table_info({t})")] for t in ("versions", "media",
                                                                                             "events")}
    assert not any("record_id" in cols for cols in columns.values()), columns


def test_reindex_gives_the_rows_the_nightly_ingest_gave(two_nights, tmp_path):
    settings, _ = two_nights
    original = index_of(settings)
    reindex(open_store(settings), settings.index_path, into=tmp_path / "rebuilt.db", now=NOW + timedelta(hours=1))
    rebuilt = open_index(tmp_path / "rebuilt.db")
    assert content(rebuilt) == content(original)
    # Every key a row names is a record of a stored object.
    for sql in ("SELECT record FROM versions UNION SELECT meta_record FROM versions UNION SELECT record FROM media"
                " UNION SELECT record FROM events",):
        for db in (original, rebuilt):
            keys = [k for (k,) in db.conn.execute(sql) if k is not None]
            assert keys and db.conn.execute(
                f"SELECT count(*) FROM records WHERE object_key IS NULL AND id IN ({','.join('?' * len(keys))})",
                keys).fetchone()[0] == 0


def test_a_record_named_before_its_file_is_indexed_keeps_its_key(tmp_path):
    db = open_index(tmp_path / "index.db")
    conn = db.conn
    conn.execute("INSERT INTO objects (key, sha256, size, stored_at) VALUES ('k', 'x', 1, '2026-01-01T00:00:00Z')")
    key = record_key(conn, "<urn:uuid:later>")
    assert record_key(conn, "<urn:uuid:later>") == key and record_key(conn, None) is None
    # Not a record anyone can read yet: the readers do not see it.
    assert conn.execute("SELECT object_key FROM records WHERE id = ?", (key,)).fetchone() == (None,)
    row = ("<urn:uuid:later>", "k", 10, 20, "response", "https://x/", "2026-01-01T00:00:00Z", "sha1:A", "text/html",
           200, None)
    put_records(conn, [row])
    put_records(conn, [row])  # a file ingested again (recovered from the spool) keeps the key too
    assert conn.execute("SELECT id, object_key, offset FROM records WHERE record_id = '<urn:uuid:later>'"
                        ).fetchall() == [(key, "k", 10)]


def test_an_items_new_event_is_its_first_sighting_by_the_run_that_made_it(two_nights):
    settings, _ = two_nights
    db = index_of(settings)
    runs = db.conn.execute("SELECT id, started_at, finished_at FROM runs ORDER BY started_at").fetchall()
    assert len(runs) == 2
    firsts = {}
    for rowid, first_seen, pid in db.conn.execute("SELECT rowid, first_seen, platform_id FROM items"):
        new = [e for e in item_events(db.conn, rowid) if e["event"] == "new"]
        assert len(new) == 1 and new[0]["at"] == first_seen
        run = next(r for r, start, end in runs if start <= first_seen <= end)
        assert new[0]["run_id"] == run, pid
        # the response the item was first read from: a record of the run's own file
        source = db.conn.execute("SELECT o.run_id FROM records r JOIN objects o ON o.key = r.object_key"
                                 " WHERE r.record_id = ?", (new[0]["record_id"],)).fetchone()
        assert source == (run,)
        firsts[run] = firsts.get(run, 0) + 1
    assert len(firsts) == 2  # items first seen on each night (the reply of night 2)
