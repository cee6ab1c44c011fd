"""The one search function, shared by ``archiver search`` and the web UI.

Filters: date range (agency timezone, inclusive days), full text (phrases in quotes,
AND/OR/NOT, prefix*, ``author:``; see ``archiver.ftsquery`` and the README), platform,
account, author, kind, status (deleted and hidden included unless filtered), has-media. Sort
by date (either way) or relevance (FTS5 bm25). A malformed full-text query is a
``QueryError`` with a plain message, never an SQL error.

Which index answers a query is decided in ``archiver.index.searchplan``; a page reads about
a page of index entries. The total is counted up to ``COUNT_CAP`` ("more than 10,000"):
counting every match of a common word over five years costs more than the page itself, and
nobody pages through ten thousand items (the CSV/JSON download streams all of them).

Snippets (``SearchQuery.snippets``) come from FTS5 ``snippet()`` with private-use sentinel
characters (``MARK_OPEN``/``MARK_CLOSE``) around matches, so a renderer escapes the archived
text first and only then turns the sentinels into markup (``archiver.web.pages.highlighted``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any, Iterator

from .errors import QueryError
from .ftsquery import parse
from .index.searchplan import (STATUSES, Arm, Filters, author_id_known, author_terms, key_range, plan,
                               union_keys, where_clause)
from .sightings import latest_sighting
from .timefmt import day_range_utc

SORTS = ("date", "-date", "relevance")
MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"
SNIPPET_TOKENS = 32
COUNT_CAP = 10_000
_CHUNK = 500  # keys per IN (...) list, well under SQLite's bound-parameter limit

# The JSON fields scripts rely on (product.md, `search --format json`).
RESULT_FIELDS = ("id", "platform", "account", "kind", "platform_id", "parent", "author", "text",
                 "created_at", "url", "status", "versions", "first_seen", "last_seen")
# last_seen: the item's latest sighting, which may be newer than its row (archiver.sightings).
RESULT_COLUMNS = ", ".join(f"{latest_sighting(c)} AS {c}" if c == "last_seen" else f"i.{c}" for c in RESULT_FIELDS)


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
    ids: list[str] = field(default_factory=list)  # only these items (ticked results)
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
        if self.ids:
            parts.append(f"{len(self.ids)} item(s) ticked")
        return "; ".join(parts) or "all items"


@dataclass
class SearchResult:
    rows: list[dict[str, Any]]
    total: int                  # exact when ``exact``; otherwise a lower bound (COUNT_CAP or more)
    snippets: dict[str, str] = field(default_factory=dict)  # item id -> snippet with sentinels
    exact: bool = True
    has_next: bool = False      # another page follows this one


def _check(values: list[str], allowed: tuple[str, ...], name: str) -> None:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise QueryError(f"unknown {name} {', '.join(map(repr, bad))}: use one of {', '.join(allowed)}")


def filters(q: SearchQuery, tz: str) -> Filters:
    """The query's conditions, validated (a bad date, status or text query is a QueryError)."""
    if q.kind:  # the collectors' module is not needed (nor imported) by a search without kinds
        from .collectors.base import KINDS

        _check(q.kind, KINDS, "kind")
    _check(q.status, STATUSES, "status")
    lo, hi = day_range_utc(q.date_from, q.date_to, tz)
    key_lo, key_hi = key_range(lo, hi)
    words = like = None
    if q.author:
        words, like = author_terms(q.author)
    parsed = parse(q.text)
    return Filters(key_lo=key_lo, key_hi=key_hi, text=parsed.match, exact=parsed.exact, ids=list(q.ids),
                   author_words=words,
                   author_like=like, author_text=q.author or None,
                   columns={"platform": list(q.platform), "account": list(q.account), "kind": list(q.kind),
                            "status": list(q.status)},
                   has_media=q.has_media)


def build_where(q: SearchQuery, tz: str) -> tuple[str, list[Any]]:
    """WHERE clause and parameters over ``items i`` for a query (shared with exports/holds)."""
    return where_clause(filters(q, tz))


def _run(fn):
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


def _arms(db, f: Filters, *, join: bool = False) -> list[Arm]:
    return plan(f, author_id_exists=author_id_known(db.conn, f.author_text), join=join)


def _order(q: SearchQuery, f: Filters) -> str:
    if q.sort not in SORTS:
        raise QueryError(f"unknown sort {q.sort!r}: use one of {', '.join(SORTS)}")
    return q.sort if q.sort != "relevance" or f.text else "date"  # relevance needs words


_SNIPPET = f"snippet(items_fts, 0, '{MARK_OPEN}', '{MARK_CLOSE}', '…', {SNIPPET_TOKENS})"


def _page_keys(db, arms: list[Arm], order: str, limit: int, offset: int,
               snippets: bool) -> tuple[list[tuple[int, str | None]], int | None]:
    """(key, snippet or None) of up to ``limit`` items from ``offset``, in order, and the
    capped count when the same pass gave it (else None). Snippets are cut in the FTS5 scan
    itself when it runs in key order -- only for the rows returned."""
    if len(arms) == 2:  # an author name, or the same text as an author id: each arm in order, merged
        keys: set[int] = set()
        for arm in arms:
            sql = arm.select(arm.key, order) + " LIMIT ?"
            keys.update(k for (k,) in _run(lambda: db.conn.execute(sql, [*arm.params, offset + limit]).fetchall()))
        return [(k, None) for k in sorted(keys, reverse=order != "-date")[offset:offset + limit]], None
    arm = arms[0]
    inline = snippets and arm.ranked and order != "relevance"
    if arm.prefix and not inline:
        # FTS5 builds a prefix term's doclist anew for every statement, so one pass collects
        # the keys for both the page and the count (at most COUNT_CAP + 1 integers).
        sql = arm.select(arm.key, order) + " LIMIT ?"
        keys = _run(lambda: db.conn.execute(sql, [*arm.params, max(COUNT_CAP, offset + limit) + 1]).fetchall())
        return [(k, None) for (k,) in keys[offset:offset + limit]], len(keys)
    sql = arm.select(f"{arm.key}, {_SNIPPET if inline else 'NULL'}", order) + " LIMIT ? OFFSET ?"
    return _run(lambda: db.conn.execute(sql, [*arm.params, limit, offset]).fetchall()), None


def _rows_by_key(db, keys: list[int]) -> list[dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    names = [*RESULT_FIELDS, "_key"]
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start:start + _CHUNK]
        cur = db.conn.execute(f"SELECT {RESULT_COLUMNS}, i.date_key FROM items i WHERE i.date_key IN "
                              f"({', '.join('?' * len(chunk))})", chunk)
        for r in cur:
            found[r[-1]] = dict(zip(names, r))
    return [found[k] for k in keys if k in found]


def _count(db, arms: list[Arm]) -> int:
    """Matches, counted up to COUNT_CAP + 1."""
    sql, params = (arms[0].select("1"), arms[0].params) if len(arms) == 1 else union_keys(arms)
    return _run(lambda: db.conn.execute(f"SELECT count(*) FROM ({sql} LIMIT ?)", [*params, COUNT_CAP + 1])
                .fetchone()[0])


def search(db, q: SearchQuery, tz: str) -> SearchResult:
    f = filters(q, tz)
    order = _order(q, f)
    offset = max(0, q.offset)
    if q.limit is None:
        rows, page = list(_stream(db, f, order, with_key=True)), []
        total, exact, has_next = len(rows), True, False
        rows = rows[offset:]
    else:
        arms = _arms(db, f)
        page, counted = _page_keys(db, arms, order, q.limit + 1, offset, q.snippets)
        has_next = len(page) > q.limit
        page = page[:q.limit]
        rows = _rows_by_key(db, [k for k, _ in page])
        if not has_next and (rows or offset == 0):
            total, exact = offset + len(rows), True  # the last page: nothing more to count
        else:
            counted = _count(db, arms) if counted is None else counted
            exact = counted <= COUNT_CAP
            # past the cap, what this page proves is a lower bound too (deep pages)
            total = counted if exact else max(COUNT_CAP, offset + len(rows) + int(has_next))
    by_id = {row["id"]: row.pop("_key") for row in rows}
    snippets = {}
    if q.snippets and f.text:
        cut = {k: snip for k, snip in page if snip is not None}
        if cut:
            snippets = {item: cut[k] for item, k in by_id.items() if MARK_OPEN in (cut.get(k) or "")}
        else:  # relevance order, or no limit: cut them by key
            snippets = _snippets(db, f, by_id)
    return SearchResult(rows=rows, total=total, exact=exact, has_next=has_next, snippets=snippets)


def _snippets(db, f: Filters, keys: dict[str, int]) -> dict[str, str]:
    """Snippets of the text column for these items (their keys), by item id."""
    if not f.text or not keys:
        return {}
    ids = {key: item for item, key in keys.items()}
    order = list(ids)
    out = {}
    for start in range(0, len(order), _CHUNK):
        chunk = order[start:start + _CHUNK]
        sql = f"SELECT rowid, {_SNIPPET} FROM items_fts WHERE items_fts MATCH ? AND rowid IN ({', '.join('?' * len(chunk))})"
        for key, snippet in _run(lambda: db.conn.execute(sql, [f.text, *chunk]).fetchall()):
            if snippet and MARK_OPEN in snippet:
                out[ids[key]] = snippet
    return out


def _stream(db, f: Filters, order: str, *, with_key: bool = False, batch: int = 500) -> Iterator[dict[str, Any]]:
    """Every matching row in ``order`` from one cursor: nothing is collected first."""
    arms = _arms(db, f, join=True)
    if len(arms) == 1:
        arm = arms[0]
        sql, params = arm.select(RESULT_COLUMNS + (f", {arm.key} AS _key" if with_key else ""), order), arm.params
    else:
        keys, params = union_keys(arms)
        sql = (f"SELECT {RESULT_COLUMNS}{', i.date_key AS _key' if with_key else ''} FROM items i WHERE i.date_key IN "
               f"({keys}) ORDER BY i.date_key {'ASC' if order == '-date' else 'DESC'}")
    cur = _run(lambda: db.conn.execute(sql, params))
    names = [d[0] for d in cur.description]
    while chunk := cur.fetchmany(batch):
        for r in chunk:
            yield dict(zip(names, r))


def iter_matches(db, q: SearchQuery, tz: str, batch: int = 500) -> Iterator[dict[str, Any]]:
    """Stream every matching row, oldest first unless sorted by relevance (downloads, exports),
    from one cursor: memory does not grow with the result set."""
    f = filters(q, tz)
    order = "relevance" if _order(q, f) == "relevance" else "-date"
    yield from _stream(db, f, order, batch=batch)


def thread_roots(db, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """For each comment/reply in ``rows``: the post its thread hangs from (id, author, text)."""
    ids = [r["id"] for r in rows if r.get("kind") != "post"]
    if not ids:
        return {}
    cur = db.conn.execute(
        "SELECT i.id, r.id, r.author, r.text FROM items i JOIN items r ON r.account = i.account AND r.platform_id = i.root "
        f"WHERE i.id IN ({', '.join('?' * len(ids))})", ids)
    return {item: {"id": rid, "author": author, "text": text} for item, rid, author, text in cur}
