"""One item as it looked (versions, thread, media, original records).

Text differences between versions are computed here with difflib and handed to the template
as (operation, text) pairs; the template escapes the text, so a diff can never inject markup.
"""

from __future__ import annotations

import difflib
import json
import re

from flask import Blueprint, abort, current_app, render_template

from ..errors import QueryError
from ..index import queries
from .auth import requires
from ..retention.dates import today_in
from ..retention.holds import holds_on_item
from .context import audit, db, now

bp = Blueprint("items", __name__)
GONE_EVENTS = ("hidden", "deleted")
_WORDS = re.compile(r"\s+|[^\s]+")


def text_diff(old: str | None, new: str | None) -> list[tuple[str, str]]:
    """Word-level differences: ("same"|"del"|"ins", text) runs in reading order."""
    a, b = _WORDS.findall(old or ""), _WORDS.findall(new or "")
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("del", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(("ins", "".join(b[j1:j2])))
    return out


def _media(conn, rowid: int) -> list[dict]:
    cur = conn.execute("SELECT m.id, m.version_n, m.url, r.record_id, m.content_type, m.size, m.status FROM media m"
                       " LEFT JOIN records r ON r.id = m.record WHERE m.item_rowid = ? ORDER BY m.version_n, m.id",
                       (rowid,))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur]


def _records(conn, ids) -> list[dict]:
    found = queries.locate(conn, ids).values()
    return [{k: r[k] for k in ("record_id", "type", "target_uri", "date", "length")}
            for r in sorted(found, key=lambda r: (r["date"] or "", r["record_id"]))]


IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


def conversation(conn, thread: list[dict]) -> list[dict]:
    """The thread as the platform shows it: the post, then each comment with its replies under
    it (depth for indentation), each with its reply count and archived images."""
    ids = [t["id"] for t in thread]
    thumbs: dict[str, list[int]] = {}
    counts: dict[str, dict] = {}
    if ids:
        for item, media_id, ctype in conn.execute(
                "SELECT i.id, m.id, m.content_type FROM media m JOIN items i ON i.rowid = m.item_rowid "
                "WHERE i.id IN (SELECT value FROM json_each(?)) AND m.status = 'fetched' ORDER BY m.id",
                (json.dumps(ids),)):
            if (ctype or "").split(";")[0].strip().lower() in IMAGE_TYPES:
                thumbs.setdefault(item, []).append(media_id)
        for item, raw in conn.execute("SELECT id, counts FROM items WHERE id IN (SELECT value FROM json_each(?))",
                                      (json.dumps(ids),)):
            counts[item] = json.loads(raw) if raw else {}
    by_pid = {t["platform_id"]: t for t in thread}
    children: dict[str | None, list[dict]] = {}
    for t in thread:
        parent = t["parent"] if t["kind"] != "post" and t["parent"] in by_pid else None
        children.setdefault(parent if t["kind"] != "post" else "__root__", []).append(t)
    out: list[dict] = []

    def walk(node: dict, depth: int) -> None:
        kids = children.get(node["platform_id"], [])
        out.append({**node, "depth": min(depth, 6), "replies": len(kids), "thumbs": thumbs.get(node["id"], []),
                    "counts": {k: v for k, v in counts.get(node["id"], {}).items() if isinstance(v, int)}})
        for kid in kids:
            walk(kid, depth + 1)

    for root in children.get("__root__", []):
        walk(root, 0)
    for orphan in children.get(None, []):  # its parent was never archived: shown at the top level
        walk(orphan, 1)
    return out


@bp.get("/item/<item_id>")
@requires("viewer")
def item(item_id: str):
    conn = db().conn
    try:
        detail = queries.item_detail(db(), item_id)
    except QueryError as exc:
        abort(404, str(exc))
    rowid = conn.execute("SELECT rowid FROM items WHERE id = ?", (item_id,)).fetchone()[0]
    versions = detail["versions"]
    diffs = {v["n"]: text_diff(prev["text"], v["text"]) for prev, v in zip(versions, versions[1:])}
    gone = [e for e in detail["events"] if e["event"] in GONE_EVENTS]
    media = _media(conn, rowid)
    record_ids = [detail["item"].get("record_id")] + [v["record_id"] for v in versions] + \
                 [m["record_id"] for m in media]
    record_ids += [r[0] for r in conn.execute(
        "SELECT m.record_id FROM versions v JOIN records m ON m.id = v.meta_record WHERE v.item_rowid = ?", (rowid,))]
    settings = current_app.config["SETTINGS"]
    on_hold = holds_on_item(db(), item_id, today_in(now(), settings.timezone))
    audit("web.view", {"item": item_id})
    return render_template("item.html", d=detail, it=detail["item"], versions=versions, diffs=diffs,
                           gone=gone, media=media, records=_records(conn, record_ids), on_hold=on_hold,
                           conversation=conversation(conn, detail["thread"]))

