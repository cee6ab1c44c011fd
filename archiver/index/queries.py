"""Named queries that are part of the product (show, runs), so SQL is not scattered."""

from __future__ import annotations

import json
from typing import Any

from ..errors import QueryError
from ..search import RESULT_COLUMNS
from ..sightings import latest_sighting, status_at
from .versions import first_seen, hash_hex


def _rows(cur) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur]


def get_item(db, item_id: str) -> dict[str, Any]:
    rows = _rows(db.conn.execute("SELECT * FROM items WHERE id = ?", (item_id,)))
    if not rows:
        raise QueryError(f"no item with id {item_id!r} (ids come from `archiver search`)")
    item = rows[0]
    del item["record"], item["run"]  # the keys of the record_id and last_run below
    # The latest sighting may be newer than the row's own (archiver.sightings).
    columns = ("last_seen", "last_run", "record_id")
    item.update(zip((*columns, "status_at"), db.conn.execute(
        f"SELECT {', '.join(latest_sighting(c) for c in columns)}, {status_at()} FROM items i WHERE i.rowid = ?",
        (item["rowid"],)).fetchone()))
    return item


# A WARC record as the index knows it; ``records.object_key`` is NULL for a record that rows
# name but whose file is not indexed (``record_key``): not a record that can be read.
RECORD_COLUMNS = ("record_id", "object_key", "offset", "length", "type", "target_uri", "date", "payload_digest",
                  "content_type", "http_status", "refers_to")


def record_key(conn, record_id: str | None) -> int | None:
    """The integer key (``records.id``) that versions, media and events name ``record_id`` by.
    A record not indexed yet (its file comes later, or never: a damaged object on reindex) gets
    a row of its id alone, which ``put_records`` fills in when its file is ingested."""
    return _key(conn, "records", "record_id", record_id)


def run_key(conn, run_id: str | None) -> int | None:
    """The integer key (``run_keys.id``) that items and sightings name the run ``run_id`` by (the
    run's row in ``runs`` is written when the run ends, after its items)."""
    return _key(conn, "run_keys", "run_id", run_id)


def _key(conn, table: str, column: str, value: str | None) -> int | None:
    """The integer key of the row of ``table`` whose ``column`` is ``value``, added if missing."""
    if value is None:
        return None
    row = conn.execute(f"SELECT id FROM {table} WHERE {column} = ?", (value,)).fetchone()
    if row is None:
        row = conn.execute(f"INSERT INTO {table} ({column}) VALUES (?) RETURNING id", (value,)).fetchone()
    return row[0]


def put_records(conn, rows) -> None:
    """Index the records of a WARC file, ``rows`` of ``RECORD_COLUMNS``. A record already named
    keeps its key (an update, never a delete and insert: rows refer to it by that key)."""
    cols = ", ".join(RECORD_COLUMNS)
    sets = ", ".join(f"{c} = excluded.{c}" for c in RECORD_COLUMNS[1:])
    conn.executemany(f"INSERT INTO records ({cols}) VALUES ({', '.join('?' * len(RECORD_COLUMNS))})"
                     f" ON CONFLICT (record_id) DO UPDATE SET {sets}", rows)


def locate(conn, record_ids) -> dict[str, dict[str, Any]]:
    """Where each of ``record_ids`` is (``RECORD_COLUMNS``), for those indexed."""
    ids = list(dict.fromkeys(r for r in record_ids if r))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for row in _rows(conn.execute(
                f"SELECT {', '.join(RECORD_COLUMNS)} FROM records WHERE object_key IS NOT NULL AND record_id IN"
                f" ({', '.join('?' * len(chunk))})", chunk)):
            found[row["record_id"]] = row
    return found


def version_rows(conn, rowid: int, bodies=None) -> list[dict[str, Any]]:
    """An item's versions, oldest first: n, hash, text, content and native (JSON text),
    first_seen, last_seen, record_id, meta_record_id.

    The latest version's text and last sighting are the item's (``archiver.ingest``); the hash
    (lowercase hex) and first sighting are read as ``archiver.index.versions`` says. Content
    and native come from the version's ``items/1`` record through ``bodies``
    (``archiver.sightings.VersionBodies``) where the index keeps none; without ``bodies``
    they are None there."""
    rows = _rows(conn.execute(
        f"SELECT v.n, {hash_hex()} AS hash, CASE WHEN v.n = i.versions THEN i.text ELSE v.text END AS text,"
        f" v.content, v.native, {first_seen()} AS first_seen,"
        f" COALESCE(v.last_seen, {latest_sighting('last_seen')}) AS last_seen, r.record_id,"
        " m.record_id AS meta_record_id,"
        " i.platform_id FROM versions v JOIN items i ON i.rowid = v.item_rowid LEFT JOIN records r ON r.id = v.record"
        " LEFT JOIN records m ON m.id = v.meta_record WHERE v.item_rowid = ? ORDER BY v.n",
        (rowid,)))
    for row in rows:
        platform_id = row.pop("platform_id")
        if bodies is not None and (row["content"] is None or row["native"] is None):
            body = bodies.get(row["meta_record_id"], platform_id, row["hash"]) or {}
            row["content"] = row["content"] if row["content"] is not None else body.get("content")
            row["native"] = row["native"] if row["native"] is not None else body.get("native")
    return rows


def item_versions(db, rowid: int, bodies=None) -> list[dict[str, Any]]:
    rows = version_rows(db.conn, rowid, bodies)
    for row in rows:
        row["content"] = json.loads(row["content"]) if row["content"] else None
        del row["native"], row["meta_record_id"]
    return rows


# The item's first sighting, as the event ``new`` that no row stores (migration m_record_keys):
# when (the item's first_seen), by which run (the one whose file holds the items/1 record of
# its first version) and from which response (the latest version that record reported: the
# one the response showed; earlier ones came from the platform's edit history).
_NEW_EVENT = """
    SELECT i.first_seen AS at, 'new' AS event, o.run_id AS run_id, r.record_id AS record_id, 0 AS id
    FROM items i
    LEFT JOIN versions f ON f.item_rowid = i.rowid AND f.n = (SELECT min(n) FROM versions WHERE item_rowid = i.rowid)
    LEFT JOIN records m ON m.id = f.meta_record
    LEFT JOIN objects o ON o.key = m.object_key
    LEFT JOIN records r ON r.id = (SELECT v.record FROM versions v WHERE v.item_rowid = i.rowid
                                   AND v.meta_record IS f.meta_record ORDER BY v.n DESC LIMIT 1)
    WHERE i.rowid = ?"""


def item_events(conn, rowid: int) -> list[dict[str, Any]]:
    """An item's status changes, oldest first: at, event (new|edited|hidden|unhidden|deleted|
    restored), run_id, record_id (of the response that showed it)."""
    return _rows(conn.execute(
        f"SELECT at, event, run_id, record_id FROM ({_NEW_EVENT}"
        " UNION ALL SELECT e.at, e.event, e.run_id, r.record_id, e.id FROM events e"
        " LEFT JOIN records r ON r.id = e.record WHERE e.item_rowid = ?) ORDER BY at, id", (rowid, rowid)))


def item_media(conn, rowid: int) -> list[dict[str, Any]]:
    """An item's media files by version: version_n, url, record_id (of the response or revisit
    holding the bytes), payload_digest, content_type, size, status."""
    return _rows(conn.execute(
        "SELECT m.version_n, m.url, r.record_id, m.payload_digest, m.content_type, m.size, m.status FROM media m"
        " LEFT JOIN records r ON r.id = m.record WHERE m.item_rowid = ? ORDER BY m.version_n, m.id", (rowid,)))


def thread(db, account: str, root: str) -> list[dict[str, Any]]:
    """The post and every comment/reply on it, in creation order."""
    return _rows(db.conn.execute(
        f"SELECT {RESULT_COLUMNS} FROM items i WHERE i.account = ? AND i.root = ?"
        " ORDER BY i.kind != 'post', i.created_at, i.rowid", (account, root)))


def record_location(db, record_id: str) -> dict[str, Any] | None:
    row = locate(db.conn, [record_id]).get(record_id)
    return {k: row[k] for k in RECORD_COLUMNS[:8]} if row else None


def item_detail(db, item_id: str, bodies=None) -> dict[str, Any]:
    """Everything `show` prints: the item, its versions (their content read through
    ``bodies``, see ``version_rows``), events, media, thread and sources."""
    item = get_item(db, item_id)
    rowid = item.pop("rowid")
    item["counts"] = json.loads(item["counts"]) if item.get("counts") else {}
    detail = {
        "item": item,
        "versions": item_versions(db, rowid, bodies),
        "events": item_events(db.conn, rowid),
        "media": item_media(db.conn, rowid),
        "thread": thread(db, item["account"], item["root"]),
        "source": record_location(db, item["record_id"]) if item.get("record_id") else None,
    }
    return detail


def runs(db, account: str | None = None, failed: bool = False, limit: int = 50) -> list[dict[str, Any]]:
    sql = ("SELECT id, account, platform, started_at, finished_at, status, items_seen, items_new, items_edited,"
           " items_hidden, items_deleted, media_fetched, media_failed, requests, retries, throttled, bytes,"
           " problems, message FROM runs")
    clauses, params = [], []
    if account:
        clauses.append("account = ?")
        params.append(account)
    if failed:
        clauses.append("status NOT IN ('ok', 'running')")
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY started_at DESC, id DESC LIMIT ?"
    params.append(limit)
    rows = _rows(db.conn.execute(sql, params))
    for row in rows:
        row["problems"] = json.loads(row["problems"]) if row.get("problems") else []
    return rows
