"""Named queries that are part of the product (show, runs), so SQL is not scattered."""

from __future__ import annotations

import json
from typing import Any

from ..errors import QueryError
from ..search import RESULT_COLUMNS
from ..sightings import latest_sighting


def _rows(cur) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur]


def get_item(db, item_id: str) -> dict[str, Any]:
    rows = _rows(db.conn.execute("SELECT * FROM items WHERE id = ?", (item_id,)))
    if not rows:
        raise QueryError(f"no item with id {item_id!r} (ids come from `archiver search`)")
    item = rows[0]
    # The latest sighting may be newer than the row's own (archiver.sightings).
    columns = ("last_seen", "last_run", "record_id")
    item.update(zip(columns, db.conn.execute(
        f"SELECT {', '.join(latest_sighting(c) for c in columns)} FROM items i WHERE i.rowid = ?",
        (item["rowid"],)).fetchone()))
    return item


def version_rows(conn, rowid: int, bodies=None) -> list[dict[str, Any]]:
    """An item's versions, oldest first: n, hash, text, content and native (JSON text),
    first_seen, last_seen, record_id, meta_record_id.

    The latest version's text and last sighting are the item's (``archiver.ingest``). Content
    and native come from the version's ``items/1`` record through ``bodies``
    (``archiver.sightings.VersionBodies``) where the index keeps none; without ``bodies``
    they are None there."""
    rows = _rows(conn.execute(
        "SELECT v.n, v.hash, CASE WHEN v.n = i.versions THEN i.text ELSE v.text END AS text, v.content, v.native,"
        f" v.first_seen, COALESCE(v.last_seen, {latest_sighting('last_seen')}) AS last_seen, v.record_id,"
        " v.meta_record_id,"
        " i.platform_id FROM versions v JOIN items i ON i.rowid = v.item_rowid WHERE v.item_rowid = ? ORDER BY v.n",
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


def item_events(db, rowid: int) -> list[dict[str, Any]]:
    return _rows(db.conn.execute(
        "SELECT at, event, run_id, record_id FROM events WHERE item_rowid = ? ORDER BY at, id", (rowid,)))


def item_media(db, rowid: int) -> list[dict[str, Any]]:
    return _rows(db.conn.execute(
        "SELECT version_n, url, record_id, payload_digest, content_type, size, status FROM media"
        " WHERE item_rowid = ? ORDER BY version_n, id", (rowid,)))


def thread(db, account: str, root: str) -> list[dict[str, Any]]:
    """The post and every comment/reply on it, in creation order."""
    return _rows(db.conn.execute(
        f"SELECT {RESULT_COLUMNS} FROM items i WHERE i.account = ? AND i.root = ?"
        " ORDER BY i.kind != 'post', i.created_at, i.rowid", (account, root)))


def record_location(db, record_id: str) -> dict[str, Any] | None:
    rows = _rows(db.conn.execute(
        "SELECT record_id, object_key, offset, length, type, target_uri, date, payload_digest"
        " FROM records WHERE record_id = ?", (record_id,)))
    return rows[0] if rows else None


def item_detail(db, item_id: str, bodies=None) -> dict[str, Any]:
    """Everything `show` prints: the item, its versions (their content read through
    ``bodies``, see ``version_rows``), events, media, thread and sources."""
    item = get_item(db, item_id)
    rowid = item.pop("rowid")
    item["counts"] = json.loads(item["counts"]) if item.get("counts") else {}
    detail = {
        "item": item,
        "versions": item_versions(db, rowid, bodies),
        "events": item_events(db, rowid),
        "media": item_media(db, rowid),
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
