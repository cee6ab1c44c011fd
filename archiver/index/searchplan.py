"""How a search becomes SQL: which index drives it, so that a page costs about a page of work.

Keys. ``items.date_key`` is created_at in Unix seconds * 2^31 + rowid (migration
``m_search_date_key``): unique, in date order (capture order within one second), and the rowid
of ``items_fts``. A date range is a key range and "newest first" is ``ORDER BY key DESC``; FTS5
answers both from its doclists (rowid constraints and rowid order reach its xBestIndex), so the
newest 50 matches of a common word over five years are read from one end of the word's doclist
and the scan stops there, instead of every match being collected, joined and sorted.

Arms. A query runs as one or two *arms*, each a SELECT of keys driven by one access path:

    fts     MATCH of the words typed plus the author's name words plus the scope tokens of the
            platform/account/kind/status filters (``scope_match``), key range and order pushed
            into FTS5; what is left (has-media, exact phrases, ticked ids, an author id) is
            checked through ``items_date``, which covers it. With filters but no words, the
            scope tokens alone drive FTS5: "deleted comments of one account" reads the
            doclist of one rare token instead of every deleted item.
    status  ``items_status (status, date_key)`` when only rare statuses are asked for (no live)
            and scope tokens are not used (``scope=False``, which the tests compare against)
    author  ``items_author_id (author_id, date_key)``: the author typed is an author id
    date    ``items_date`` in key order, checking the other filters inside the index

The author filter means: the name words typed are a phrase of the author's name (the last one
a prefix), OR the author id is exactly the text typed. When the text is also an author id in
the index and there are no words to search, that OR is two arms whose keys are merged.

``where_clause`` is the same filter as a plain WHERE over ``items i`` for holds and exports,
which take every match and need no plan.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..ftsquery import EXACT_FUNCTION

KEY_BITS = 31
UNDATED_SECONDS = -(2**32)  # undated items sort before every date (see the migration)
# The smallest key of a dated item: a range open at its start ("--to" alone) stops here, so
# items without a date never match a date filter (as with created_at < x on NULL).
FIRST_DATED_KEY = (UNDATED_SECONDS + 1) << KEY_BITS
FILTER_COLUMNS = ("platform", "account", "kind", "status")

# The scope column of items_fts (migration m_search_scope_tokens): tokens that file each item
# under its platform, account and kind and the kind's pairs with the platform and the account,
# and -- only for items that are not live (a few percent) -- under its status alone and with
# each of those. So the usual legal-staff filters ("deleted comments on the Facebook page") are
# one rare token instead of an AND with a common one (an AND walks the common token's long
# doclist), while most items carry five tokens, not eleven (each costs the index about ten
# bytes). A status filter that includes live excludes the other statuses instead (FTS5 NOT
# over their tokens, which only the few items not live carry). A token is its tag, the hex of
# the UTF-8 value(s) joined by 0x1f, and "x" (see the migration m_search_scope for why).
# SCOPE_SQL builds the column from the row; scope_token builds the same token from the values.
SCOPE_TAGS = {("platform",): "p", ("account",): "u", ("kind",): "k", ("kind", "platform"): "kp",
              ("kind", "account"): "ku", ("status",): "s", ("status", "platform"): "sp",
              ("status", "account"): "su", ("status", "kind"): "sk", ("status", "kind", "platform"): "skp",
              ("status", "kind", "account"): "sku"}
COMMON_STATUS = "live"  # items with this status carry no status tokens
STATUSES = ("live", "edited", "hidden", "deleted")
_TOKEN_SQL = {tag: f"'{tag}' || " + " || '1F' || ".join(f"hex({c})" for c in cols) + " || 'x'"
              for cols, tag in SCOPE_TAGS.items()}
SCOPE_SQL = (" || ' ' || ".join(_TOKEN_SQL[t] for c, t in SCOPE_TAGS.items() if "status" not in c)
             + f" || CASE status WHEN '{COMMON_STATUS}' THEN '' ELSE ' ' || "
             + " || ' ' || ".join(_TOKEN_SQL[t] for c, t in SCOPE_TAGS.items() if "status" in c) + " END")
_MAX_SCOPE_TERMS = 64  # past this many tokens in one OR, a smaller combination is used


def scope_token(columns: tuple[str, ...], values: tuple[str, ...]) -> str:
    return SCOPE_TAGS[columns] + "1f".join(v.encode().hex() for v in values) + "x"


def epoch_key(iso_utc: str) -> int:
    """The smallest key of the second ``iso_utc`` (``archiver.timefmt.iso`` form) falls in."""
    dt = datetime.fromisoformat(iso_utc.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    seconds = int(dt.timestamp() // 1)
    return min(max(seconds, UNDATED_SECONDS), 2**32 - 1) << KEY_BITS


def key_range(lo: str | None, hi: str | None) -> tuple[int | None, int | None]:
    """[lo, hi) in UTC as [first key, end key); None where the range is open."""
    if lo is None and hi is None:
        return None, None
    return (epoch_key(lo) if lo else FIRST_DATED_KEY), (epoch_key(hi) if hi else None)


def _token_groups(cols: dict[str, list[str]], with_status: bool = False) -> list[list[str]]:
    """The tokens for these filter values: the widest combination the values allow (with
    ``with_status``, the widest with the status), then one for each filter left over."""
    cols = dict(cols)
    groups = []
    while cols:
        combo = max((c for c in SCOPE_TAGS if all(x in cols for x in c) and (not with_status or "status" in c)
                     and (len(c) == 1 or math.prod(len(cols[x]) for x in c) <= _MAX_SCOPE_TERMS)), key=len)
        groups.append([scope_token(combo, values) for values in itertools.product(*(cols[x] for x in combo))])
        for x in combo:
            del cols[x]
        with_status = False
    return groups


def _any(tokens: list[str]) -> str:
    return "(" + " OR ".join(f'fts_scope : "{t}"' for t in tokens) + ")"


@dataclass
class Filters:
    """A SearchQuery's conditions, checked and split by where they can be evaluated."""

    key_lo: int | None = None
    key_hi: int | None = None
    text: str | None = None                 # FTS5 expression of the words typed
    author_words: str | None = None         # FTS5 expression of the author's name words
    author_like: str | None = None          # LIKE pattern over items.author (text without words)
    author_text: str | None = None          # the author typed, as an exact author id
    columns: dict[str, list[str]] = field(default_factory=dict)   # platform/account/kind/status IN
    has_media: bool | None = None
    exact: list[str] = field(default_factory=list)   # quoted phrases, checked on the item's text
    ids: list[str] = field(default_factory=list)     # only these items (results ticked on screen)

    def scope_match(self, words: str | None = None) -> tuple[str | None, tuple[str, ...]]:
        """``words`` (an FTS5 expression, or None) ANDed with the platform/account/kind/status
        filters as an FTS5 expression over the scope column, and the filter columns it
        answers; (words, ()) when the filters give FTS5 nothing to match (none, or only
        statuses that include live, with no words). Each group is the widest combination
        token the filters allow (an OR over their values), ANDed with a group for each filter
        left over; statuses that include live exclude the items of the other statuses."""
        cols = {c: list(dict.fromkeys(v)) for c in FILTER_COLUMNS if (v := self.columns.get(c))}
        live = COMMON_STATUS in cols.get("status", ())
        statuses = cols.pop("status") if live else ()
        excluded = [s for s in STATUSES if s not in statuses] if live else []
        answered = tuple(cols) + (("status",) if live else ())
        groups = _token_groups(cols)
        terms = ([f"({words})"] if words else []) + [_any(g) for g in groups]
        if not groups and not (excluded and words):
            return words, ()
        match = " AND ".join(terms)
        if excluded:  # NOT needs something on its left: the words or another filter
            # (only the excluded statuses' items of the other filters' values, the fewest tokens)
            narrowest = _token_groups({**cols, "status": excluded}, with_status=True)[0]
            match = f"({match}) NOT {_any(narrowest)}"
        return match, answered

    def item_clauses(self, answered: tuple[str, ...] = ()) -> tuple[list[str], list[Any]]:
        """Conditions on ``items i`` other than dates, text and author (of the platform/
        account/kind/status filters, those not ``answered`` by scope tokens)."""
        clauses, params = [], []
        if self.ids:
            clauses.append("i.id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(self.ids))
        for phrase in self.exact:
            # FTS5 matched the phrase's word forms (porter); this keeps the exact words only.
            clauses.append(f"{EXACT_FUNCTION}(i.fts_text, ?)")
            params.append(phrase)
        for column in (c for c in FILTER_COLUMNS if c not in answered):
            values = self.columns.get(column)
            if values:
                clauses.append(f"i.{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        if self.has_media is not None:
            clauses.append("i.has_media = ?")
            params.append(int(self.has_media))
        return clauses, params


def _range(column: str, f: Filters) -> tuple[list[str], list[Any]]:
    clauses, params = [], []
    if f.key_lo is not None:
        clauses.append(f"{column} >= ?")
        params.append(f.key_lo)
    if f.key_hi is not None:
        clauses.append(f"{column} < ?")
        params.append(f.key_hi)
    return clauses, params


def _fts_keys(match: str, f: Filters) -> tuple[str, list[Any]]:
    """A subquery of the keys matching ``match`` inside the date range."""
    clauses, params = _range("rowid", f)
    return ("SELECT rowid FROM items_fts WHERE items_fts MATCH ?" + "".join(f" AND {c}" for c in clauses),
            [match, *params])


def _author_clause(f: Filters) -> tuple[str | None, list[Any]]:
    if f.author_text is None:
        return None, []
    if f.author_words is None:  # nothing word-like typed: the substring, or the id
        return "(i.author LIKE ? ESCAPE '\\' OR i.author_id = ?)", [f.author_like, f.author_text]
    sub, params = _fts_keys(f.author_words, f)
    return f"(i.date_key IN ({sub}) OR i.author_id = ?)", [*params, f.author_text]


def where_clause(f: Filters) -> tuple[str, list[Any]]:
    """Every condition as one WHERE over ``items i`` (set semantics, no order)."""
    clauses, params = _range("i.date_key", f)
    more, more_params = f.item_clauses()
    clauses += more
    params += more_params
    author, author_params = _author_clause(f)
    if author:
        clauses.append(author)
        params += author_params
    if f.text:
        sub, sub_params = _fts_keys(f.text, f)
        clauses.append(f"i.date_key IN ({sub})")
        params += sub_params
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


@dataclass
class Arm:
    """One access path: ``SELECT ... <body>`` over its matches, in key order (or by
    ``items_fts.rank``, the bm25 of the typed words, when ``ranked``)."""

    key: str
    body: str
    params: list[Any]
    ranked: bool = False
    prefix: bool = False  # FTS5 builds the doclist of a prefix term anew for every statement

    def select(self, columns: str, order: str | None = None) -> str:
        sql = f"SELECT {columns} {self.body}"
        if order == "relevance" and self.ranked:
            return f"{sql} ORDER BY items_fts.rank, {self.key} DESC"
        if order:
            return f"{sql} ORDER BY {self.key} {'ASC' if order == '-date' else 'DESC'}"
        return sql


def _fts_arm(match: str | None, f: Filters, extra: list[str], extra_params: list[Any], *, ranked: bool,
             join: bool = False, scope: bool = True) -> Arm:
    """``match`` ANDed with the scope tokens of the filters (``scope``; else they are checked
    on the row)."""
    rng, rng_params = _range("items_fts.rowid", f)
    match, answered = f.scope_match(match) if scope else (match, ())
    clauses, params = f.item_clauses(answered)
    clauses += extra
    params += extra_params
    # CROSS JOIN keeps FTS5 as the outer loop (SQLite never reorders it), so the key order
    # and the LIMIT reach the doclist scan; each match is then one lookup of its key in
    # items_date (named: without statistics SQLite may pick a range scan of another index).
    body = "FROM items_fts"
    if clauses or join:
        body += " CROSS JOIN items i INDEXED BY items_date ON i.date_key = items_fts.rowid"
    conditions = ["items_fts MATCH ?", *rng, *clauses]
    return Arm("items_fts.rowid", f"{body} WHERE {' AND '.join(conditions)}", [match, *rng_params, *params],
               ranked=ranked, prefix='"*' in match)


def _items_arm(f: Filters, index: str, extra: list[str], extra_params: list[Any]) -> Arm:
    rng, rng_params = _range("i.date_key", f)
    clauses, params = f.item_clauses()
    conditions = [*rng, *clauses, *extra]
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return Arm("i.date_key", f"FROM items i INDEXED BY {index}{where}", [*rng_params, *params, *extra_params])


def author_id_known(conn, author_text: str | None) -> bool:
    """Whether some item's author id is exactly the author text (its own arm of the plan)."""
    return bool(author_text) and conn.execute(
        "SELECT 1 FROM items WHERE author_id = ? LIMIT 1", (author_text,)).fetchone() is not None


def plan(f: Filters, *, author_id_exists: bool, join: bool = False, scope: bool = True) -> list[Arm]:
    """The arms answering ``f``. ``author_id_exists``: ``author_id_known`` for the author text.
    ``join``: every arm reaches ``items i`` (to read whole rows). ``scope``: filters go to
    FTS5 as scope tokens (False checks them on each row: the reference the tests compare)."""
    if f.text:
        if f.author_words is not None and not author_id_exists:
            match = f"({f.text}) AND ({f.author_words})"
            return [_fts_arm(match, f, [], [], ranked=True, join=join, scope=scope)]
        author, author_params = _author_clause(f)
        return [_fts_arm(f.text, f, [author] if author else [], author_params, ranked=True, join=join,
                         scope=scope)]
    if f.author_words is not None:
        by_name = _fts_arm(f.author_words, f, [], [], ranked=False, join=join, scope=scope)
        if not author_id_exists:
            return [by_name]
        return [by_name, _items_arm(f, "items_author_id", ["i.author_id = ?"], [f.author_text])]
    has_scope = scope and f.scope_match()[0] is not None
    if f.author_text is not None:  # no words in the author text: substring or id, row by row
        author, author_params = _author_clause(f)
        if has_scope:
            return [_fts_arm(None, f, [author], author_params, ranked=False, join=join)]
        return [_items_arm(f, "items_date", [author], author_params)]
    if has_scope:
        return [_fts_arm(None, f, [], [], ranked=False, join=join)]
    statuses = f.columns.get("status") or []
    # Most items are live; hidden, edited and deleted ones are few, so for those the status
    # index (in key order per status) reads only them instead of every item in the range.
    index = "items_status" if statuses and "live" not in statuses else "items_date"
    return [_items_arm(f, index, [], [])]


def union_keys(arms: list[Arm]) -> tuple[str, list[Any]]:
    """One SELECT of the distinct keys of all arms (for counts and full exports)."""
    sql = " UNION ".join(f"SELECT {a.key} {a.body}" for a in arms)
    return sql, [p for a in arms for p in a.params]


_WORD = re.compile(r"[^\W_]+")  # what unicode61 counts as word characters


def author_terms(author: str) -> tuple[str | None, str]:
    """(FTS5 expression over the author column, LIKE pattern for text without any words).

    The author filter is a phrase: the words typed, in that order and next to each other in
    the author's name (punctuation between them does not matter), the last one only the
    beginning of a word -- people type "jane pub" for Jane Public. It is answered by FTS5
    alone (no row is read to check it), and a typed id is matched as well (see ``plan``)."""
    words = _WORD.findall(author)
    expr = f'author : "{" ".join(words)}"*' if words else None
    escaped = author.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return expr, f"%{escaped}%"
