"""The one search function, shared by ``archiver search`` and the web UI.

Filters: date range (agency timezone, inclusive days), full text (phrases in quotes,
AND/OR/NOT, prefix*, ``author:``; see ``archiver.ftsquery`` and docs/readme/search.md),
platform, account, author, kind, status (deleted and hidden included unless filtered),
has-media. Sort by date (either way) or relevance (FTS5 bm25). A malformed full-text query is
a ``QueryError`` with a plain message, never an SQL error.

Snippets (``SearchQuery.snippets``) come from FTS5 ``snippet()`` with private-use sentinel
characters (``MARK_OPEN``/``MARK_CLOSE``) around matches, so a renderer escapes the archived
text first and only then turns the sentinels into markup (``archiver.web.pages.highlighted``).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field, replace
from typing import Any, Iterator

from .collectors.base import KINDS
from .errors import QueryError
from .ftsquery import to_fts
from .timefmt import day_range_utc

STATUSES = ("live", "edited", "hidden", "deleted")
SORTS = ("date", "-date", "relevance")
MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"
SNIPPET_TOKENS = 32

# The JSON fields scripts rely on (product.md, `search --format json`).
RESULT_FIELDS = ("id", "platform", "account", "kind", "platform_id", "parent", "author", "text",
                 "created_at", "url", "status", "versions", "first_seen", "last_seen")


@dataclass
class SearchQuery:
    date_from: str | None = None
    date_to: str | None = None
    text: str | None = None
    platform: list[str] = field(default_factory=list)
    account: list[str] = field(default_factory=list)
    author: str | None = None
    kind: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    has_media: bool | None = None
    sort: str = "date"
    limit: int | None = 100
    offset: int = 0
    snippets: bool = False  # fill SearchResult.snippets for the rows of this page

    def describe(self) -> str:
        """The filter as one line, for bag-info, hold records and audit entries."""
        parts = []
        for name in ("date_from", "date_to", "text", "author"):
            if getattr(self, name):
                parts.append(f"{name}={getattr(self, name)!r}")
        for name in ("platform", "account", "kind", "status"):
            if getattr(self, name):
                parts.append(f"{name}={','.join(getattr(self, name))}")
        if self.has_media is not None:
            parts.append(f"has_media={self.has_media}")
        return "; ".join(parts) or "all items"


@dataclass
class SearchResult:
    rows: list[dict[str, Any]]
    total: int
    snippets: dict[str, str] = field(default_factory=dict)  # item id -> snippet with sentinels


def _check(values: list[str], allowed: tuple[str, ...], name: str) -> None:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise QueryError(f"unknown {name} {', '.join(map(repr, bad))}: use one of {', '.join(allowed)}")


def _filters(q: SearchQuery, tz: str) -> tuple[list[str], list[Any]]:
    """Every non-text condition over ``items i``."""
    _check(q.kind, KINDS, "kind")
    _check(q.status, STATUSES, "status")
    clauses, params = [], []
    lo, hi = day_range_utc(q.date_from, q.date_to, tz)
    if lo:
        clauses.append("i.created_at >= ?")
        params.append(lo)
    if hi:
        clauses.append("i.created_at < ?")
        params.append(hi)
    for column, values in (("platform", q.platform), ("account", q.account), ("kind", q.kind), ("status", q.status)):
        if values:
            clauses.append(f"i.{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    if q.author:
        # The author's name words find candidates through the FTS index (a LIKE '%x%' alone
        # reads every row); LIKE then keeps the exact substring. An author id matches exactly.
        like = "(i.author LIKE ? ESCAPE '\\' OR i.author_id = ?)"
        words = re.findall(r"\w+", q.author)
        if words:
            clauses.append("i.rowid IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ? "
                           "UNION ALL SELECT rowid FROM items WHERE author_id = ?)")
            params.extend([" AND ".join(f'author : "{w}"*' for w in words), q.author])
        clauses.append(like)
        params.extend([f"%{_like_escape(q.author)}%", q.author])
    if q.has_media is not None:
        clauses.append("i.has_media = ?")
        params.append(int(q.has_media))
    return clauses, params


def build_where(q: SearchQuery, tz: str) -> tuple[str, list[Any]]:
    """WHERE clause and parameters over ``items i`` for a query (shared with exports/holds)."""
    clauses, params = _filters(q, tz)
    match = to_fts(q.text or "")
    if match:
        clauses.append("i.rowid IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?)")
        params.append(match)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _select(q: SearchQuery, tz: str) -> tuple[str, str, list[Any]]:
    """(SELECT of the rows in order, FROM+WHERE shared with the count, parameters)."""
    columns = ", ".join(f"i.{c}" for c in RESULT_FIELDS) + ", i.rowid AS _rowid"
    match = to_fts(q.text or "")
    if q.sort == "relevance" and match:
        # Relevance needs the FTS table in FROM: ``rank`` is FTS5's bm25 (lower is better).
        clauses, params = _filters(q, tz)
        body = " FROM items_fts JOIN items i ON i.rowid = items_fts.rowid WHERE items_fts MATCH ?" + \
               "".join(f" AND {c}" for c in clauses)
        return f"SELECT {columns}{body} ORDER BY items_fts.rank, i.rowid", body, [match] + params
    where, params = build_where(q, tz)
    order = "i.created_at ASC, i.rowid ASC" if q.sort == "-date" else "i.created_at DESC, i.rowid DESC"
    body = f" FROM items i{where}"
    return f"SELECT {columns}{body} ORDER BY {order}", body, params


def _run(db, fn):
    """Run ``fn``; an FTS5 parse error that slipped past ``ftsquery`` still becomes a QueryError."""
    try:
        return fn()
    except sqlite3.OperationalError as exc:
        if "fts5" in str(exc) or "syntax" in str(exc):
            raise QueryError(
                f"the text query is not valid ({exc}): put phrases in double quotes, use AND/OR/NOT "
                "between words, and * only at the end of a word"
            ) from None
        raise


def search(db, q: SearchQuery, tz: str) -> SearchResult:
    if q.sort not in SORTS:
        raise QueryError(f"unknown sort {q.sort!r}: use one of {', '.join(SORTS)}")
    sql, body, params = _select(q, tz)
    page_params = list(params)
    if q.limit is not None:
        sql += " LIMIT ? OFFSET ?"
        page_params += [q.limit, max(0, q.offset)]

    def page():
        cur = db.conn.execute(sql, page_params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur]

    rows = _run(db, page)
    if q.limit is None or (q.offset <= 0 and len(rows) < q.limit):
        total = len(rows)  # the whole result is on this page: no second query
    else:
        total = _run(db, lambda: db.conn.execute(f"SELECT count(*){body}", params).fetchone()[0])
    rowids = {row["id"]: row.pop("_rowid") for row in rows}
    snippets = _snippets(db, q, rowids) if q.snippets else {}
    return SearchResult(rows=rows, total=total, snippets=snippets)


def _snippets(db, q: SearchQuery, rowids: dict[str, int]) -> dict[str, str]:
    match = to_fts(q.text or "")
    if not match:
        return {}
    out = {}
    sql = (f"SELECT snippet(items_fts, 0, '{MARK_OPEN}', '{MARK_CLOSE}', '…', {SNIPPET_TOKENS}) "
           "FROM items_fts WHERE items_fts MATCH ? AND rowid = ?")
    for item_id, rowid in rowids.items():
        row = _run(db, lambda: db.conn.execute(sql, (match, rowid)).fetchone())
        if row and row[0] and MARK_OPEN in row[0]:
            out[item_id] = row[0]
    return out


def iter_matches(db, q: SearchQuery, tz: str, batch: int = 500) -> Iterator[dict[str, Any]]:
    """Stream every matching row, oldest first (exports, holds), one cursor, no paging."""
    sql, _, params = _select(replace(q, sort="-date" if q.sort != "relevance" else q.sort, limit=None), tz)
    cur = _run(db, lambda: db.conn.execute(sql, params))
    names = [d[0] for d in cur.description]
    while chunk := cur.fetchmany(batch):
        for r in chunk:
            row = dict(zip(names, r))
            row.pop("_rowid")
            yield row


def thread_roots(db, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """For each comment/reply in ``rows``: the post its thread hangs from (id, author, text)."""
    ids = [r["id"] for r in rows if r.get("kind") != "post"]
    if not ids:
        return {}
    cur = db.conn.execute(
        "SELECT i.id, r.id, r.author, r.text FROM items i JOIN items r ON r.account = i.account AND r.platform_id = i.root "
        f"WHERE i.id IN ({', '.join('?' * len(ids))})", ids)
    return {item: {"id": rid, "author": author, "text": text} for item, rid, author, text in cur}
