"""The search filters that holds, records requests and assignment overrides select items by.

They are the filters of ``archiver search`` and go through the same function
(``archiver.search.build_where``), so a hold placed on "--from 2024-03-01 --to 2024-03-31
--account ocpd-facebook" holds exactly what that search shows — including items captured
after the hold was placed (a late comment), since holds are re-evaluated on every ingest.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, Iterable, Mapping

from ..errors import RetentionError
from ..search import SearchQuery, build_where

# The SearchQuery fields a stored selection keeps (paging and order are not part of it).
FILTER_FIELDS = ("date_from", "date_to", "text", "platform", "account", "author", "kind", "status", "has_media")


def make_query(date_from: str | None = None, date_to: str | None = None, text: str | None = None,
               accounts: Iterable[str] = (), platforms: Iterable[str] = (), author: str | None = None,
               kinds: Iterable[str] = (), statuses: Iterable[str] = (), item_ids: Iterable[str] = ()) -> dict[str, Any]:
    """A storable selection: search filters, plus explicit item ids (``show ID`` -> override)."""
    q = SearchQuery(date_from=date_from, date_to=date_to, text=text, account=list(accounts),
                    platform=list(platforms), author=author, kind=list(kinds), status=list(statuses))
    filters = {k: v for k, v in asdict(q).items() if k in FILTER_FIELDS and v not in (None, [], "")}
    ids = sorted(set(item_ids))
    if ids:
        filters["ids"] = ids
    return filters


def describe(filters: Mapping[str, Any]) -> str:
    parts = [f"{k}={','.join(v) if isinstance(v, list) else v}" for k, v in filters.items() if k != "ids"]
    if filters.get("ids"):
        parts.append(f"{len(filters['ids'])} item(s) by id")
    return "; ".join(parts) or "ALL items"


def matching_item_ids(db, filters: Mapping[str, Any], tz: str, only: Iterable[str] | None = None) -> list[str]:
    """Ids of the items the selection matches now (optionally only among ``only``)."""
    query = SearchQuery(**{k: v for k, v in filters.items() if k in FILTER_FIELDS}, limit=None)
    where, params = build_where(query, tz)
    clauses = [where[len(" WHERE "):]] if where else []
    if filters.get("ids"):
        clauses.append("i.id IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(filters["ids"]))
    if only is not None:
        clauses.append("i.id IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(list(only)))
    sql = "SELECT i.id FROM items i" + (" WHERE " + " AND ".join(clauses) if clauses else "")
    return [row[0] for row in db.conn.execute(sql, params)]


def thread_item_ids(db, filters: Mapping[str, Any], tz: str, only: Iterable[str] | None = None) -> list[str]:
    """Ids of every item in a thread that has a matching item (optionally only among ``only``).

    A request bundle releases whole threads -- a post with all its comments and replies is one
    record family (``exporters.select``) -- so the 19.35(5) hold of a request covers what the
    export treats as responsive: the whole thread, including a comment that arrives later."""
    query = SearchQuery(**{k: v for k, v in filters.items() if k in FILTER_FIELDS}, limit=None)
    where, params = build_where(query, tz)
    clauses = [where[len(" WHERE "):]] if where else []
    if filters.get("ids"):
        clauses.append("i.id IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(filters["ids"]))
    inner = " AND ".join(["i.account = t.account", "i.root = t.root", *clauses])
    sql = f"SELECT t.id FROM items t WHERE EXISTS (SELECT 1 FROM items i WHERE {inner})"
    if only is not None:
        sql += " AND t.id IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(list(only)))
    return [row[0] for row in db.conn.execute(sql, params)]


def require_some(filters: Mapping[str, Any], what: str) -> None:
    """A hold or request with no filter at all would hold the whole archive: say so plainly."""
    if not filters:
        raise RetentionError(
            f"{what} needs at least one filter (--from/--to/--query/--account/...); "
            "to hold everything, pass --from with the archive's first day"
        )
