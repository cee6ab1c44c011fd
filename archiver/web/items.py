"""One item as it looked (versions, thread, media, original records) and the moderation view.

Text differences between versions are computed here with difflib and handed to the template
as (operation, text) pairs; the template escapes the text, so a diff can never inject markup.
"""

from __future__ import annotations

import difflib
import json
import re

from flask import Blueprint, abort, current_app, render_template, request, url_for

from ..errors import QueryError
from ..index import queries
from ..timefmt import day_range_utc
from .auth import requires
from ..retention.dates import today_in
from ..retention.holds import holds_on_item
from .context import audit, db, now
from .pages import page_number

bp = Blueprint("items", __name__)
GONE_EVENTS = ("hidden", "deleted")
MODERATION_PAGE = 200  # rows per page of the moderation view
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
    cur = conn.execute("SELECT id, version_n, url, record_id, content_type, size, status FROM media "
                       "WHERE item_rowid = ? ORDER BY version_n, id", (rowid,))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur]


def _records(conn, ids) -> list[dict]:
    ids = sorted({i for i in ids if i})
    if not ids:
        return []
    cur = conn.execute(f"SELECT record_id, type, target_uri, date, length FROM records WHERE record_id IN "
                       f"({', '.join('?' * len(ids))}) ORDER BY date, record_id", ids)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur]


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
    record_ids += [r[0] for r in conn.execute("SELECT meta_record_id FROM versions WHERE item_rowid = ?", (rowid,))]
    settings = current_app.config["SETTINGS"]
    on_hold = holds_on_item(db(), item_id, today_in(now(), settings.timezone))
    audit("web.view", {"item": item_id})
    return render_template("item.html", d=detail, it=detail["item"], versions=versions, diffs=diffs,
                           gone=gone, media=media, records=_records(conn, record_ids), on_hold=on_hold,
                           conversation=conversation(conn, detail["thread"]))


def moderation_rows(conn, lo: str | None, hi: str | None, basis: str, *, limit: int, offset: int = 0) -> list[dict]:
    """Every comment or reply found hidden or gone: its last text, when first seen, and the
    hide/delete event — the record of comment removal (a First Amendment question). One page
    of ``limit`` rows from ``offset``, in the order the removals were found."""
    column = "e.at" if basis == "detected" else "i.created_at"
    clauses, params = ["e.event IN ('hidden', 'deleted')", "i.kind != 'post'"], []
    if lo:
        clauses.append(f"{column} >= ?")
        params.append(lo)
    if hi:
        clauses.append(f"{column} < ?")
        params.append(hi)
    cur = conn.execute(
        "SELECT i.id, i.account, i.platform, i.kind, i.author, i.text, i.created_at, i.first_seen, "
        "i.last_seen, i.status, i.url, e.event, e.at AS found_at FROM events e JOIN items i ON i.rowid = e.item_rowid "
        f"WHERE {' AND '.join(clauses)} ORDER BY e.at, e.id LIMIT ? OFFSET ?", params + [limit, offset])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur]


@bp.get("/moderation")
@requires("viewer")
def moderation():
    args = request.args
    basis = args.get("basis", "detected")
    if basis not in ("detected", "posted"):
        abort(400, "basis must be detected or posted")
    error, rows = None, []
    try:
        page = page_number(args)
    except QueryError as exc:
        abort(400, str(exc))
    offset = (page - 1) * MODERATION_PAGE
    try:
        lo, hi = day_range_utc(args.get("from") or None, args.get("to") or None,
                               current_app.config["SETTINGS"].timezone)
        rows = moderation_rows(db().conn, lo, hi, basis, limit=MODERATION_PAGE + 1, offset=offset)
        audit("web.moderation", {"from": args.get("from"), "to": args.get("to"), "basis": basis, "page": page,
                                 "rows": min(len(rows), MODERATION_PAGE)})
    except QueryError as exc:
        error = str(exc)
    more = len(rows) > MODERATION_PAGE
    rows = rows[:MODERATION_PAGE]
    links = {key: url_for("items.moderation", **{**args.to_dict(), "page": n})
             for key, n in (("prev", page - 1), ("next", page + 1)) if (key == "prev" and page > 1) or (key == "next" and more)}
    return render_template("moderation.html", args=args, rows=rows, basis=basis, first=offset + 1, links=links,
                           error=error), (400 if error else 200)
