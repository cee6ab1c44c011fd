"""Which records an export covers: the same filters as search, expanded to whole threads.

The filter is an ``archiver.search.SearchQuery`` and its WHERE clause comes from
``archiver.search.build_where``, so an export selects exactly what the same search shows.
A post and its comments are one record family (a thread document in a request bundle, a
BEGATTACH/ENDATTACH family in a production), so a thread is responsive when any of its items
matches, and the export carries the whole thread. Threads are yielded as (account, root)
keys in time order straight from SQLite, never held in memory item by item.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Iterator

from ..errors import QueryError
from ..search import SearchQuery, build_where


@dataclass(frozen=True)
class Selection:
    """The search filter an export takes. The first five fields are what ``archiver export``
    sets; a web bundle carries every filter of the search page (``from_query``)."""

    date_from: str | None
    date_to: str | None
    query: str | None = None
    accounts: tuple[str, ...] = ()
    tz: str = "America/Chicago"
    platforms: tuple[str, ...] = ()
    author: str | None = None
    kinds: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    has_media: bool | None = None
    ids: tuple[str, ...] = ()  # only these items (results ticked in the web UI)

    @classmethod
    def from_query(cls, q: SearchQuery, tz: str) -> "Selection":
        return cls(q.date_from, q.date_to, q.text, tuple(q.account), tz, platforms=tuple(q.platform),
                   author=q.author, kinds=tuple(q.kind), statuses=tuple(q.status), has_media=q.has_media,
                   ids=tuple(q.ids))

    def search_query(self) -> SearchQuery:
        return SearchQuery(date_from=self.date_from, date_to=self.date_to, text=self.query,
                           account=list(self.accounts), platform=list(self.platforms), author=self.author,
                           kind=list(self.kinds), status=list(self.statuses), has_media=self.has_media,
                           ids=list(self.ids), limit=None)

    def describe(self) -> str:
        """The filter in words, for bag-info, the README and the audit log."""
        return (f"{self.search_query().describe()} (dates in {self.tz}); "
                "whole threads: each post with all its comments and replies")

    def as_dict(self) -> dict:
        out = {"from": self.date_from, "to": self.date_to, "query": self.query,
               "accounts": list(self.accounts), "timezone": self.tz}
        # Only the filters that are set, so a CLI export's record reads as before.
        for name, value in (("platforms", list(self.platforms)), ("author", self.author),
                            ("kinds", list(self.kinds)), ("statuses", list(self.statuses)),
                            ("has_media", self.has_media), ("ids", list(self.ids))):
            if value not in (None, []):
                out[name] = value
        return out


def _query(db, sel: Selection, sql_for_where) -> sqlite3.Cursor:
    where, params = build_where(sel.search_query(), sel.tz)
    try:
        return db.conn.execute(sql_for_where(where), params)
    except sqlite3.OperationalError as exc:
        raise QueryError(f"the query {sel.query!r} is not a valid search expression ({exc})") from None


def thread_keys(db, sel: Selection) -> Iterator[tuple[str, str]]:
    """(account, root) of every responsive thread, oldest thread first."""
    yield from _query(db, sel, lambda where: (
        f"SELECT i.account, i.root FROM items i{where} GROUP BY i.account, i.root "
        "ORDER BY MIN(i.created_at), i.account, i.root"))


def count_threads(db, sel: Selection) -> tuple[int, int]:
    """(threads, items in those whole threads) — for progress and the letter."""
    return tuple(_query(db, sel, lambda where: (
        "SELECT COUNT(*), COALESCE(SUM((SELECT COUNT(*) FROM items t WHERE t.account = k.account "
        f"AND t.root = k.root)), 0) FROM (SELECT DISTINCT i.account, i.root FROM items i{where}) k")).fetchone())
