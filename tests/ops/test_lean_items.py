"""Items name the response of their latest sighting by its record key (migration m_lean_items,
issue 24): an index written before, with WARC-Record-IDs in items and item_sightings, migrates
to what the nightly ingest and reindex give."""

from __future__ import annotations

from datetime import timedelta

from archiver.index import open_index
from archiver.index.queries import get_item
from archiver.reindex import reindex
from archiver.store import open_store
from tests.index.old_schemas import before_lean_items
from tests.ops.support import NOW, index_of


def sightings(db) -> dict:
    """What the index says of every item's latest sighting and of which objects hold it."""
    conn = db.conn
    ids = [i for (i,) in conn.execute("SELECT id FROM items ORDER BY id")]
    return {
        "items": {i: get_item(db, i) for i in ids},
        "later": sorted(conn.execute(
            "SELECT i.id, s.last_seen, k.run_id, r.record_id FROM item_sightings s"
            " JOIN items i ON i.rowid = s.item_rowid LEFT JOIN records r ON r.id = s.record"
            " LEFT JOIN run_keys k ON k.id = s.run")),
        "item_objects": sorted(conn.execute("SELECT object_key, item_id FROM item_objects")),
        # an item seen once stores neither its last sighting nor when its status was detected
        "first_seen_only": sorted(conn.execute("SELECT id, last_seen IS NULL, status_at IS NULL FROM items")),
    }


def test_an_index_with_text_sighting_records_migrates_to_what_ingest_and_reindex_give(two_nights, tmp_path):
    settings, _ = two_nights
    db = index_of(settings)
    fresh = sightings(db)
    assert fresh["later"] and all(item["record_id"] and item["last_run"] for item in fresh["items"].values())
    assert {(seen, status) for _, seen, status in fresh["first_seen_only"]} >= {(1, 1), (0, 0)}
    before_lean_items(db.conn)
    old = db.conn.execute("SELECT record_id FROM items WHERE record_id IS NOT NULL LIMIT 1").fetchone()[0]
    assert old.startswith("<urn:uuid:")
    db.conn.close()

    migrated = open_index(settings.index_path)
    assert sightings(migrated) == fresh
    for table in ("items", "item_sightings"):
        columns = [c[1] for c in migrated.conn.execute(f"PRAGMA table_info({table})")]
        assert "record" in columns and "record_id" not in columns, columns
        index = "items_record" if table == "items" else "item_sightings_record"
        assert [c[2] for c in migrated.conn.execute(f"PRAGMA index_info({index})")] == ["record"]

    reindex(open_store(settings), settings.index_path, into=tmp_path / "rebuilt.db", now=NOW + timedelta(hours=1))
    assert sightings(open_index(tmp_path / "rebuilt.db")) == fresh
