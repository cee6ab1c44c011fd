"""Named queries that are part of the product (show, runs), so SQL is not scattered."""

from __future__ import annotations

import json
from typing import Any

from ..errors import QueryError
from ..search import RESULT_FIELDS


def _rows(cur) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur]


def get_item(db, item_id: str) -> dict[str, Any]:
    rows = _rows(db.conn.execute("SELECT * FROM items WHERE id = ?", (item_id,)))
    if not rows:
        raise QueryError(f"no item with id {item_id!r} (ids come from `archiver search`)")
    return rows[0]


def item_versions(db, rowid: int) -> list[dict[str, Any]]:
    rows = _rows(db.conn.execute(
        "SELECT n, hash, text, content, first_seen, last_seen, record_id FROM versions WHERE item_rowid = ? ORDER BY n",
        (rowid,)))
    for row in rows:
        row["content"] = json.loads(row["content"]) if row["content"] else None
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
    cols = ", ".join(RESULT_FIELDS)
    return _rows(db.conn.execute(
        f"SELECT {cols} FROM items WHERE account = ? AND root = ?"
        " ORDER BY kind != 'post', created_at, rowid", (account, root)))


def record_location(db, record_id: str) -> dict[str, Any] | None:
    rows = _rows(db.conn.execute(
        "SELECT record_id, object_key, offset, length, type, target_uri, date, payload_digest"
        " FROM records WHERE record_id = ?", (record_id,)))
    return rows[0] if rows else None


def item_detail(db, item_id: str) -> dict[str, Any]:
    """Everything `show` prints: the item, its versions, events, media, thread and sources."""
    item = get_item(db, item_id)
    rowid = item.pop("rowid")
    item["counts"] = json.loads(item["counts"]) if item.get("counts") else {}
    detail = {
        "item": item,
        "versions": item_versions(db, rowid),
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
