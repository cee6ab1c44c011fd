"""The search page, its result set as CSV/JSON, and the stylesheet.

The page calls the same ``archiver.search.search`` as ``archiver search``; the form fields
map one to one onto ``SearchQuery`` (``query_from_args``), so a result set can be re-run
exactly by the download, hold and bundle actions from the same query string.
"""

from __future__ import annotations

import csv
import io
import json
import re
from importlib import resources

from flask import Blueprint, Response, abort, current_app, render_template, request
from markupsafe import Markup, escape

from ..collectors.base import KINDS
from ..errors import QueryError
from .. import search as searching
from ..search import MARK_CLOSE, MARK_OPEN, RESULT_FIELDS, SORTS, STATUSES, SearchQuery
from .auth import public, requires
from .context import audit, db

bp = Blueprint("pages", __name__)
PAGE_SIZE = 50
SORT_LABELS = {"date": "Newest first", "-date": "Oldest first", "relevance": "Best match"}
_STATIC = {"app.css": "text/css; charset=utf-8"}
_MARKS = re.compile(f"({MARK_OPEN}|{MARK_CLOSE})")


def query_from_args(args, *, paged: bool = True) -> SearchQuery:
    """The form's GET parameters as a SearchQuery (unknown values raise QueryError)."""
    def one(name):
        value = args.get(name, "").strip()
        return value or None

    def many(name):
        return [v for v in args.getlist(name) if v]

    media = one("has_media")
    if media not in (None, "yes", "no"):
        raise QueryError("has_media must be yes or no")
    try:
        page = max(1, int(args.get("page", "1") or 1))
    except ValueError:
        raise QueryError("page must be a number") from None
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


@bp.get("/")
@requires("viewer")
def search():
    error = result = None
    args = request.args
    searched = bool(args)
    roots, page = {}, 1
    try:
        q = query_from_args(args)
        page = q.offset // PAGE_SIZE + 1
        if searched:
            result = searching.search(db(), q, current_app.config["SETTINGS"].timezone)
            roots = searching.thread_roots(db(), result.rows)
            audit("web.search", {"query": q.describe(), "sort": q.sort, "page": page, "total": result.total})
    except QueryError as exc:
        error = str(exc)
    return render_template(
        "search.html", args=args, result=result, error=error, roots=roots, page=page,
        page_size=PAGE_SIZE, accounts=_accounts(), kinds=KINDS, statuses=STATUSES,
        sorts=[(s, SORT_LABELS[s]) for s in SORTS], highlighted=highlighted,
    ), (400 if error else 200)


@bp.get("/export.<fmt>")
@requires("legal")
def export(fmt: str):
    """Every row of the result set (not just the page) as CSV or one JSON array."""
    if fmt not in ("csv", "json"):
        abort(404)
    q = query_from_args(request.args, paged=False)
    tz = current_app.config["SETTINGS"].timezone
    rows = list(searching.iter_matches(db(), q, tz))
    audit("web.download.results", {"query": q.describe(), "format": fmt, "rows": len(rows)})
    if fmt == "json":
        body = json.dumps(rows, ensure_ascii=False, indent=1)
        ctype = "application/json; charset=utf-8"
    else:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=RESULT_FIELDS, extrasaction="ignore")
        writer.writeheader()
        # A cell starting with = + - @ runs as a formula in a spreadsheet (CSV injection,
        # OWASP); archived text is hostile, so such cells get a leading apostrophe.
        writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
        body = "\ufeff" + buf.getvalue()  # BOM: Excel reads the file as UTF-8
        ctype = "text/csv; charset=utf-8"
    resp = Response(body, content_type=ctype)
    resp.headers["Content-Disposition"] = f'attachment; filename="search-results.{fmt}"'
    return resp


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
