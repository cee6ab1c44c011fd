"""Indexes as earlier migrations left them, made from a current one (for migration tests)."""

from __future__ import annotations

# item_objects as m_item_sightings defined it (on the text record ids of items and sightings).
ITEM_OBJECTS_BEFORE_LEAN_ITEMS = """
    CREATE VIEW item_objects AS
        SELECT DISTINCT r.object_key AS object_key, i.id AS item_id
        FROM (
            SELECT i.rowid AS item_rowid, r.id AS record FROM items i JOIN records r ON r.record_id = i.record_id
                WHERE NOT EXISTS (SELECT 1 FROM item_sightings AS s WHERE s.item_rowid = i.rowid)
            UNION SELECT s.item_rowid, r.id FROM item_sightings s JOIN records r ON r.record_id = s.record_id
            UNION SELECT item_rowid, record FROM versions
            UNION SELECT item_rowid, meta_record FROM versions
            UNION SELECT item_rowid, record FROM media
        ) AS link
        JOIN records AS r ON r.id = link.record
        JOIN items AS i ON i.rowid = link.item_rowid
        WHERE r.object_key IS NOT NULL"""


def before_lean_items(conn) -> None:
    """Turn this index back into the one written before migration m_lean_items: the latest
    sighting's record named by its WARC-Record-ID (items.record_id, item_sightings.record_id) and
    its run by the run's id (last_run), and last_seen and status_at written even when they are
    first_seen."""
    for statement in (
        "DROP VIEW item_objects",
        "DROP INDEX items_record",
        "ALTER TABLE items ADD COLUMN record_id TEXT",
        "UPDATE items SET record_id = (SELECT record_id FROM records r WHERE r.id = items.record)",
        "ALTER TABLE items DROP COLUMN record",
        "UPDATE items SET last_seen = COALESCE(last_seen, first_seen), status_at = COALESCE(status_at, first_seen)",
        "ALTER TABLE items ADD COLUMN last_run TEXT",
        "UPDATE items SET last_run = (SELECT run_id FROM run_keys k WHERE k.id = items.run)",
        "ALTER TABLE items DROP COLUMN run",
        "CREATE INDEX items_record ON items(record_id)",
        "DROP INDEX item_sightings_record",
        "ALTER TABLE item_sightings ADD COLUMN record_id TEXT",
        "UPDATE item_sightings SET record_id = (SELECT record_id FROM records r WHERE r.id = item_sightings.record)",
        "ALTER TABLE item_sightings DROP COLUMN record",
        "ALTER TABLE item_sightings ADD COLUMN last_run TEXT",
        "UPDATE item_sightings SET last_run = (SELECT run_id FROM run_keys k WHERE k.id = item_sightings.run)",
        "ALTER TABLE item_sightings DROP COLUMN run",
        "DROP TABLE run_keys",
        "CREATE INDEX item_sightings_record ON item_sightings(record_id)",
        ITEM_OBJECTS_BEFORE_LEAN_ITEMS,
        "DELETE FROM _sqlite_migrations WHERE name = 'm_lean_items'",
    ):
        conn.execute(statement)
