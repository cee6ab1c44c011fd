"""The search page, its result set as CSV/JSON, and the stylesheet.

The page calls the same ``archiver.search.search`` as ``archiver search``; the form fields
map one to one onto ``SearchQuery`` (``query_from_args``), so a result set can be re-run
exactly by the download, hold and bundle actions from the same query string.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from dataclasses import dataclass
from importlib import resources
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict

from ..collectors.base import KINDS
from ..errors import QueryError
from .. import search as searching
from ..search import MARK_CLOSE, MARK_OPEN, RESULT_FIELDS, SORTS, STATUSES, SearchQuery
from ..timefmt import agency_time, parse_platform_time
from .auth import public, requires
from .context import audit, db, now

bp = Blueprint("pages", __name__)
PAGE_SIZE = 50
SORT_LABELS = {"date": "Newest first", "-date": "Oldest first", "relevance": "Best match"}
_STATIC = {"app.css": "text/css; charset=utf-8"}
_MARKS = re.compile(f"({MARK_OPEN}|{MARK_CLOSE})")


# The search form's fields: all an action form carries of the search (``carry`` in _macros).
SEARCH_PARAMS = ("q", "from", "to", "author", "account", "platform", "kind", "status", "has_media", "sort")
SINGLE_PARAMS = ("q", "from", "to", "author", "has_media", "sort", "page")
MAX_PAGE = 100_000


def one_value(args, name: str) -> str:
    """A single-valued field, read once: sent twice (a crafted link adding a copy of a field
    the user fills in) it is refused, never resolved by taking one of them."""
    values = args.getlist(name)
    if len(values) > 1:
        raise QueryError(f"the field {name!r} was sent {len(values)} times; send the form again from the page")
    return values[0] if values else ""


def page_number(args) -> int:
    raw = one_value(args, "page").strip() or "1"
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise QueryError(f"page must be a number from 1 to {MAX_PAGE:,}")
    return int(raw)


def query_from_args(args, *, paged: bool = True) -> SearchQuery:
    """The form's GET parameters as a SearchQuery (unknown values raise QueryError)."""
    def one(name):
        value = one_value(args, name).strip()
        return value or None

    def many(name):
        return [v for v in args.getlist(name) if v]

    media = one("has_media")
    if media not in (None, "yes", "no"):
        raise QueryError("has_media must be yes or no")
    page = page_number(args)
    return SearchQuery(
        date_from=one("from"), date_to=one("to"), text=one("q"),
        platform=many("platform"), account=many("account"), author=one("author"),
        kind=many("kind"), status=many("status"),
        has_media=None if media is None else media == "yes",
        sort=one("sort") or "date", snippets=paged,
        limit=PAGE_SIZE if paged else None, offset=(page - 1) * PAGE_SIZE if paged else 0,
    )


def highlighted(snippet: str) -> Markup:
    """Escape archived text, then insert <mark> only where FTS5 put its private-use sentinels
    (balanced, so hostile text containing the sentinel characters cannot unbalance markup)."""
    out, open_ = [], False
    for part in _MARKS.split(snippet):
        if part == MARK_OPEN and not open_:
            out.append("<mark>")
            open_ = True
        elif part == MARK_CLOSE and open_:
            out.append("</mark>")
            open_ = False
        else:
            out.append(str(escape(part)))
    if open_:
        out.append("</mark>")
    return Markup("".join(out))


def _accounts() -> list[tuple[str, str]]:
    return db().conn.execute("SELECT name, platform FROM accounts ORDER BY name").fetchall()


@dataclass(frozen=True, slots=True)
class Hit:
    """One row of the results list, as the template shows it (attributes, not dict keys:
    Jinja tries an attribute first, and a failed one costs an exception per lookup)."""

    id: str
    kind: str
    status: str
    platform: str
    account: str
    author: str | None
    text: str | None
    versions: int
    href: str
    when: str
    snippet: Markup | None
    root_href: str | None
    root_text: str | None
    held: bool = False


def held_among(conn, ids: list[str], today: str) -> set[str]:
    """Which of ``ids`` an active hold (legal or records-request) covers today."""
    if not ids:
        return set()
    return {r[0] for r in conn.execute(
        "SELECT DISTINCT hi.item_id FROM hold_items hi JOIN holds h ON h.id = hi.hold_id "
        "WHERE hi.item_id IN (SELECT value FROM json_each(?)) AND h.released_at IS NULL "
        "AND (h.ends_on IS NULL OR h.ends_on >= ?)", (json.dumps(ids), today))}


def today_iso(tz: str) -> str:
    return now().astimezone(ZoneInfo(tz)).date().isoformat()


def hits(result, roots: dict, tz: str, held: set[str] = frozenset()) -> list[Hit]:
    """What the results list shows for each row, computed once here: a page of 50 is
    thousands of template operations otherwise, on every search's critical path."""
    base = url_for("items.item", item_id="x")[:-1]
    out = []
    for r in result.rows:
        snippet = result.snippets.get(r["id"])
        root = roots.get(r["id"]) if r["kind"] != "post" else None
        out.append(Hit(
            id=r["id"], kind=r["kind"], status=r["status"], platform=r["platform"], account=r["account"],
            author=r["author"], text=r["text"], versions=r["versions"], href=base + quote(r["id"], safe=""),
            when=agency_time(r["created_at"], tz), snippet=highlighted(snippet) if snippet else None,
            root_href=base + quote(root["id"], safe="") if root else None,
            root_text=(root["text"] or "(post without text)") if root else None,
            held=r["id"] in held,
        ))
    return out


@bp.get("/")
@requires("viewer")
def search():
    error = result = None
    args = request.args
    searched = bool(args)
    rows, page = [], 1
    tz = current_app.config["SETTINGS"].timezone
    try:
        q = query_from_args(args)
        page = q.offset // PAGE_SIZE + 1
        if searched:
            result = searching.search(db(), q, tz)
            held = held_among(db().conn, [r["id"] for r in result.rows], today_iso(tz))
            rows = hits(result, searching.thread_roots(db(), result.rows), tz, held)
            audit("web.search", {"query": q.describe(), "sort": q.sort, "page": page, "total": result.total,
                                 "exact": result.exact})
    except QueryError as exc:
        error = str(exc)
    return render_template(
        "search.html", args=MultiDict([(k, v) for k in SEARCH_PARAMS for v in args.getlist(k)]), result=result, hits=rows, error=error, page=page,
        page_size=PAGE_SIZE, accounts=_accounts(), kinds=KINDS, statuses=STATUSES,
        sorts=[(s, SORT_LABELS[s]) for s in SORTS],
    ), (400 if error else 200)


@bp.get("/export.<fmt>")
@requires("legal")
def export(fmt: str):
    """Every row of the result set (not just the page) as CSV or one JSON array, streamed from
    one cursor: a download of a million items never holds them in memory."""
    if fmt not in ("csv", "json"):
        abort(404)
    q = query_from_args(request.args, paged=False)
    rows = searching.iter_matches(db(), q, current_app.config["SETTINGS"].timezone)
    # Run the query now, so a bad filter is a 400 page rather than a download cut short.
    first = next(rows, None)
    audit("web.download.results", {"query": q.describe(), "format": fmt})
    rows = itertools.chain([first] if first is not None else [], rows)
    rows = enriched(db(), rows, current_app.config["SETTINGS"].timezone)
    if fmt == "json":
        body, ctype = _json_chunks(rows), "application/json; charset=utf-8"
    else:
        body, ctype = _csv_chunks(rows), "text/csv; charset=utf-8"
    resp = Response(body, content_type=ctype)
    resp.headers["Content-Disposition"] = f'attachment; filename="search-results.{fmt}"'
    return resp


# The download's columns: the search's fields, each UTC time followed by the same instant in
# agency time (ISO 8601 with its offset), when the item was found hidden or deleted, and the
# post a comment or reply belongs to.
LOCAL = "_local"
EXPORT_FIELDS = tuple(itertools.chain.from_iterable(
    (f, f + LOCAL) if f in ("created_at", "first_seen", "last_seen") else (f,) for f in RESULT_FIELDS)) + (
    "hidden_detected", "hidden_detected" + LOCAL, "deleted_detected", "deleted_detected" + LOCAL,
    "post_id", "post_text")


def _local(value: str | None, zone: ZoneInfo) -> str | None:
    dt = parse_platform_time(value) if value else None
    return dt.astimezone(zone).isoformat() if dt else None


def enriched(conn_db, rows, tz: str, batch: int = 200):
    """The rows with the export's extra columns, looked up a batch at a time (memory stays flat)."""
    zone = ZoneInfo(tz)
    while chunk := list(itertools.islice(rows, batch)):
        ids = json.dumps([r["id"] for r in chunk])
        found: dict[tuple[str, str], str] = {}
        for item, event, at in conn_db.conn.execute(
                "SELECT i.id, e.event, min(e.at) FROM events e JOIN items i ON i.rowid = e.item_rowid "
                "WHERE i.id IN (SELECT value FROM json_each(?)) AND e.event IN ('hidden', 'deleted') "
                "GROUP BY i.id, e.event", (ids,)):
            found[(item, event)] = at
        roots = searching.thread_roots(conn_db, chunk)
        for row in chunk:
            out = {}
            for key, value in row.items():
                out[key] = value
                if key in ("created_at", "first_seen", "last_seen"):
                    out[key + LOCAL] = _local(value, zone)
            for event in ("hidden", "deleted"):
                at = found.get((row["id"], event))
                out[f"{event}_detected"], out[f"{event}_detected{LOCAL}"] = at, _local(at, zone)
            root = roots.get(row["id"])
            out["post_id"], out["post_text"] = (root["id"], root["text"]) if root and root["id"] != row["id"] \
                else (None, None)
            yield out


def _json_chunks(rows, per_chunk: int = 200):
    yield "["
    parts: list[str] = []
    for n, row in enumerate(rows):
        parts.append(("\n" if n == 0 else ",\n") + json.dumps(row, ensure_ascii=False))
        if len(parts) == per_chunk:
            yield "".join(parts)
            parts.clear()
    yield "".join(parts) + "\n]\n"


def _csv_chunks(rows, per_chunk: int = 200):
    buf = io.StringIO()
    buf.write("\ufeff")  # BOM: Excel reads the file as UTF-8
    writer = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for n, row in enumerate(rows, 1):
        # A cell starting with = + - @ runs as a formula in a spreadsheet (CSV injection,
        # OWASP); archived text is hostile, so such cells get a leading apostrophe.
        writer.writerow({k: _cell(v) for k, v in row.items()})
        if n % per_chunk == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _cell(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@bp.get("/static/<name>")
@public
def static_file(name: str):
    if name not in _STATIC:
        abort(404)
    body = resources.files("archiver.templates").joinpath("web", "static", name).read_bytes()
    resp = Response(body, content_type=_STATIC[name])
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp
