"""Every access path of archiver.index.searchplan gives what a plain reading of the filters gives.

A few hundred items with random dates (some on agency-day boundaries, some with fractions of
a second, some undated), statuses, kinds, media, authors and author ids, are searched with
every filter combination the search form offers; the result (order included), its pages and
totals, the WHERE used by holds and exports, and the export stream are each compared with an
oracle written in Python from the README's definitions.
"""

from __future__ import annotations

import itertools
import random
import re
from datetime import datetime, timezone

import pytest

from archiver.index import open_index
from archiver.index.searchplan import Filters, plan, scope_token
from archiver.search import SearchQuery, build_where, iter_matches, search
from archiver.timefmt import day_range_utc

TZ = "America/Chicago"
WORDS = ["drexel", "town", "square", "fire", "smoke", "drill", "closure", "the", "and", "caf\u00e9"]
AUTHORS = [("Jane Public", "u1"), ("Janet Doe", "u2"), ("Oak Creek PD", "dept"), ("MaryJane X", "u3"),
           ("J. P.", "jane"), ("Bob O'Brien", "u4"), (None, None), ("100% Real_Name", "u5"), ("Public, Jane", "u6")]
BOUNDARIES = ["2024-03-01T06:00:00Z", "2024-03-01T05:59:59Z", "2024-03-31T04:59:59.5Z", "2024-04-01T05:00:00Z",
              "2024-11-03T05:00:00Z", "2024-11-03T06:00:00Z"]


def _items(n: int = 400, seed: int = 5):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.03:
            created = None
        elif r < 0.12:
            created = rng.choice(BOUNDARIES)
        else:
            dt = datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp() + rng.random() * 366 * 86400
            created = datetime.fromtimestamp(int(dt), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        author, author_id = rng.choice(AUTHORS)
        out.append({
            "id": f"it{i:04d}", "platform": rng.choice(["facebook", "x"]), "account": rng.choice(["pd-fb", "pd-x"]),
            "kind": rng.choice(["post", "comment", "reply"]), "author": author, "author_id": author_id,
            "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 6))),
            "created_at": created, "status": rng.choice(["live"] * 6 + ["edited", "hidden", "deleted"]),
            "has_media": int(rng.random() < 0.2),
        })
    return out


ITEMS = _items()


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    db = open_index(tmp_path_factory.mktemp("plan") / "index.db")
    for n, it in enumerate(ITEMS):
        db.conn.execute(
            "INSERT INTO items (id, account, platform, platform_id, kind, root, author, author_id, text, created_at,"
            " status, has_media, first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,'x','x')",
            (it["id"], it["account"], it["platform"], str(n), it["kind"], str(n), it["author"], it["author_id"],
             it["text"], it["created_at"], it["status"], it["has_media"]))
    return db


def _seconds(iso: str | None) -> int | None:
    return None if iso is None else int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() // 1)


def _tokens(text: str | None) -> list[str]:
    # unicode61: letters and digits make words, everything else (the underscore too) separates
    return re.findall(r"[^\W_]+", (text or "").lower().replace("\u00e9", "e"))


def oracle(q: SearchQuery) -> list[str]:
    """The README's definitions, item by item, newest first (capture order within a second)."""
    lo, hi = (_seconds(x) for x in day_range_utc(q.date_from, q.date_to, TZ))
    out = []
    for n, it in enumerate(ITEMS):
        t = _seconds(it["created_at"])
        if (lo is not None or hi is not None) and (t is None or (lo is not None and t < lo) or (hi is not None and t >= hi)):
            continue
        if any(values and it[col] not in values for col, values in
               (("platform", q.platform), ("account", q.account), ("kind", q.kind), ("status", q.status))):
            continue
        if q.has_media is not None and bool(it["has_media"]) != q.has_media:
            continue
        if q.text and q.text.lower().replace("\u00e9", "e") not in _tokens(it["text"]) + _tokens(it["author"]):
            continue
        if q.author:
            words, name = _tokens(q.author), _tokens(it["author"])
            if words:  # a phrase of the name, the last word a prefix
                by_name = any(name[k:k + len(words) - 1] == words[:-1] and k + len(words) <= len(name)
                              and name[k + len(words) - 1].startswith(words[-1]) for k in range(len(name)))
            else:      # no words typed: a substring of the name
                by_name = q.author.lower() in (it["author"] or "").lower()
            if not (by_name or it["author_id"] == q.author):
                continue
        out.append((t if t is not None else -(2**40), n, it["id"]))
    return [i for _, _, i in sorted(out, reverse=True)]


QUERIES = [
    SearchQuery(),
    SearchQuery(date_from="2024-03-01", date_to="2024-03-31"),
    SearchQuery(date_to="2024-03-31"),
    SearchQuery(date_from="2024-11-03"),
    SearchQuery(date_from="2024-03-01", date_to="2024-03-01"),
    SearchQuery(text="drexel"),
    SearchQuery(text="drexel", date_from="2024-02-01", date_to="2024-09-30", status=["hidden", "deleted"]),
    SearchQuery(text="cafe", kind=["comment"], has_media=False),
    SearchQuery(status=["hidden"]),
    SearchQuery(status=["edited", "deleted"], date_from="2024-06-01"),
    SearchQuery(status=["live", "hidden"], platform=["x"]),
    SearchQuery(kind=["post"], account=["pd-fb"], has_media=True),
    SearchQuery(author="jane"),                       # a name word, and an author id (two arms)
    SearchQuery(author="jane", date_from="2024-05-01", kind=["comment", "reply"]),
    SearchQuery(author="jane", text="fire"),          # with words: one FTS arm, author as a filter
    SearchQuery(author="Jane Pub"),                   # a phrase, the last word a prefix; not "Public, Jane"
    SearchQuery(author="Jane Pub", text="fire"),      # words and author words in one MATCH
    SearchQuery(author="jane, public"),               # punctuation between the words does not matter
    SearchQuery(author="Jan"),
    SearchQuery(author="oak creek", status=["deleted"]),
    SearchQuery(author="dept"),                       # an author id only
    SearchQuery(author="O'Brien"),
    SearchQuery(author="100%"),
    SearchQuery(author="%"),                          # no words at all: substring or id
    SearchQuery(author="Real_Name"),
]


@pytest.mark.parametrize("q", QUERIES, ids=lambda q: q.describe())
def test_every_path_matches_the_oracle(db, q):
    expected = oracle(q)
    full = search(db, SearchQuery(**{**q.__dict__, "limit": None}), TZ)
    assert [r["id"] for r in full.rows] == expected and full.total == len(expected)
    # pages of 7, newest first, then oldest first
    for sort, want in (("date", expected), ("-date", None)):
        got, offset = [], 0
        while True:
            page = search(db, SearchQuery(**{**q.__dict__, "sort": sort, "limit": 7, "offset": offset}), TZ)
            assert page.exact and page.total == len(expected)
            got += [r["id"] for r in page.rows]
            if not page.has_next:
                break
            offset += 7
        if want is not None:
            assert got == want
        else:
            assert sorted(got) == sorted(expected) and len(got) == len(expected)
    where, params = build_where(q, TZ)
    assert {r[0] for r in db.conn.execute(f"SELECT i.id FROM items i{where}", params)} == set(expected)
    assert [r["id"] for r in iter_matches(db, q, TZ)] == list(reversed(expected))  # downloads: oldest first


def test_oldest_first_is_the_reverse(db):
    for q in QUERIES:
        newest = [r["id"] for r in search(db, SearchQuery(**{**q.__dict__, "limit": None}), TZ).rows]
        oldest = [r["id"] for r in search(db, SearchQuery(**{**q.__dict__, "limit": None, "sort": "-date"}), TZ).rows]
        assert oldest == list(reversed(newest)), q.describe()


def test_relevance_covers_the_same_set(db):
    for q in [SearchQuery(text="fire"), SearchQuery(text="drexel", author="jane"),
              SearchQuery(text="smoke", status=["live"], date_from="2024-03-01")]:
        ranked = search(db, SearchQuery(**{**q.__dict__, "sort": "relevance", "limit": None}), TZ)
        assert sorted(r["id"] for r in ranked.rows) == sorted(oracle(q))
        paged = [r["id"] for off in range(0, len(ranked.rows) + 5, 5)
                 for r in search(db, SearchQuery(**{**q.__dict__, "sort": "relevance", "limit": 5, "offset": off}),
                                 TZ).rows]
        assert paged == [r["id"] for r in ranked.rows]  # ties broken the same way on every page


def test_plan_picks_the_index_the_filters_need():
    def indexes(f, **kw):
        return [re.search(r"FROM (items_fts|items i INDEXED BY (\w+))", a.body).group(0) for a in plan(f, **kw)]

    assert indexes(Filters(), author_id_exists=False) == ["FROM items i INDEXED BY items_date"]
    # filters without words: their scope tokens drive FTS5, with no row read to check them
    hidden = plan(Filters(columns={"status": ["hidden"], "platform": ["x"]}), author_id_exists=False)
    assert [a.body.split(" WHERE ")[0] for a in hidden] == ["FROM items_fts"]
    assert hidden[0].params == [f'(fts_scope : "{scope_token(("status", "platform"), ("hidden", "x"))}")']
    # the reference path, row by row
    assert indexes(Filters(columns={"status": ["hidden"]}), author_id_exists=False, scope=False) == \
        ["FROM items i INDEXED BY items_status"]
    assert indexes(Filters(columns={"status": ["hidden", "live"]}), author_id_exists=False, scope=False) == \
        ["FROM items i INDEXED BY items_date"]
    words = Filters(author_words='author : "x"*', author_like="%x%", author_text="x")
    assert indexes(words, author_id_exists=True) == ["FROM items_fts", "FROM items i INDEXED BY items_author_id"]
    assert indexes(words, author_id_exists=False) == ["FROM items_fts"]
    assert indexes(Filters(text='"a"'), author_id_exists=False) == ["FROM items_fts"]


def test_counts_stop_at_the_cap(db, monkeypatch):
    monkeypatch.setattr("archiver.search.COUNT_CAP", 10)
    result = search(db, SearchQuery(limit=5), TZ)
    assert not result.exact and result.total == 10 and result.has_next
    deep = search(db, SearchQuery(limit=5, offset=20), TZ)
    assert not deep.exact and deep.total == 26  # what the page itself proves is a lower bound
    small = search(db, SearchQuery(status=["hidden"], date_from="2024-03-01", date_to="2024-03-10", limit=5), TZ)
    assert small.exact


def test_the_key_follows_created_at_edits(db):
    """Changing created_at re-files the item in the FTS index under its new key."""
    row = db.conn.execute("SELECT id, text FROM items WHERE text LIKE '%drexel%' AND created_at IS NOT NULL"
                          " LIMIT 1").fetchone()
    before = [r["id"] for r in search(db, SearchQuery(text="drexel", date_from="2030-01-01", limit=None), TZ).rows]
    db.conn.execute("UPDATE items SET created_at = '2030-06-01T12:00:00Z' WHERE id = ?", (row[0],))
    try:
        after = [r["id"] for r in search(db, SearchQuery(text="drexel", date_from="2030-01-01", limit=None), TZ).rows]
        assert before == [] and after == [row[0]]
        # rank 1: compare the index with the content table; a stale entry raises "malformed"
        db.conn.execute("INSERT INTO items_fts(items_fts, rank) VALUES ('integrity-check', 1)")
    finally:
        original = next(it["created_at"] for it in ITEMS if it["id"] == row[0])
        db.conn.execute("UPDATE items SET created_at = ? WHERE id = ?", (original, row[0]))


def test_all_combinations_of_two_filters_agree_with_the_oracle(db):
    pieces = {"dates": {"date_from": "2024-04-01", "date_to": "2024-08-31"}, "text": {"text": "town"},
              "status": {"status": ["deleted", "edited"]}, "kind": {"kind": ["reply"]}, "media": {"has_media": True},
              "author": {"author": "jane"}, "platform": {"platform": ["facebook"]}, "account": {"account": ["pd-x"]}}
    for a, b in itertools.combinations(pieces, 2):
        q = SearchQuery(**pieces[a], **pieces[b], limit=None)
        assert [r["id"] for r in search(db, q, TZ).rows] == oracle(q), (a, b)


SCOPED = [
    SearchQuery(status=["deleted"], platform=["facebook"], kind=["comment"], text="fire"),
    SearchQuery(status=["deleted"], account=["pd-x"], kind=["comment"]),
    SearchQuery(status=["hidden", "deleted"], platform=["facebook", "x"], date_from="2024-03-01"),
    SearchQuery(status=["edited"], account=["pd-fb"], platform=["x"], text="town"),
    SearchQuery(account=["pd-fb"], kind=["comment", "reply"], text="the", date_from="2024-06-01",
                date_to="2024-06-30"),
    SearchQuery(platform=["x"], text="drexel", has_media=True),
    SearchQuery(kind=["post"], author="jane"),
    SearchQuery(status=["live"], author="%"),
    SearchQuery(platform=["facebook"], author="Jane Pub", text="fire", sort="relevance"),
    SearchQuery(status=["live", "edited", "hidden", "deleted"], kind=["post", "comment", "reply"],
                account=["pd-fb", "pd-x"], platform=["x"], text="town"),
    SearchQuery(status=["hidden", "deleted"], kind=["reply"]),
    SearchQuery(kind=["comment"], platform=["facebook"], date_to="2024-06-30"),
    SearchQuery(status=["live"], account=["pd-x"], text="fire"),
    SearchQuery(status=["live", "edited", "hidden"], platform=["x"], kind=["reply"]),
]


@pytest.mark.parametrize("q", SCOPED, ids=lambda q: q.describe())
def test_scope_tokens_give_what_row_checks_give(db, q, monkeypatch):
    """Filters answered inside FTS5 by scope tokens find exactly what checking each row finds
    (and what the README's definitions give), in the same order."""
    q = SearchQuery(**{**q.__dict__, "limit": None})
    scoped = [r["id"] for r in search(db, q, TZ).rows]
    monkeypatch.setattr("archiver.search.plan", lambda *a, **kw: plan(*a, **kw, scope=False))
    checked = [r["id"] for r in search(db, q, TZ).rows]
    assert scoped == checked
    if q.sort == "relevance":
        assert sorted(scoped) == sorted(oracle(q))
    else:
        assert scoped == oracle(q)


def test_too_many_combinations_fall_back_to_smaller_tokens(db, monkeypatch):
    q = SearchQuery(status=["hidden", "deleted"], kind=["comment", "reply"], account=["pd-fb", "pd-x"], limit=None)
    columns = {"status": q.status, "kind": q.kind, "account": q.account}
    widest, answered = Filters(columns=columns).scope_match()
    assert widest.count(" OR ") == 7 and " AND " not in widest  # one status x kind x account group
    assert sorted(answered) == ["account", "kind", "status"]
    monkeypatch.setattr("archiver.index.searchplan._MAX_SCOPE_TERMS", 4)
    narrower, _ = Filters(columns=columns).scope_match()
    assert narrower.count(" AND ") == 1  # a pair of two values each, and the third filter
    assert [r["id"] for r in search(db, q, TZ).rows] == oracle(q)
    monkeypatch.setattr("archiver.index.searchplan._MAX_SCOPE_TERMS", 1)
    assert [r["id"] for r in search(db, q, TZ).rows] == oracle(q)  # single tokens only


def test_live_items_carry_no_status_tokens(db):
    """Most items are live: they are filed under their platform, account and kind only, and a
    status filter that includes live excludes the items of the other statuses instead."""
    scopes = dict(db.conn.execute("SELECT status, fts_scope FROM items GROUP BY status").fetchall())
    assert len(scopes["live"].split()) == 5 and len(scopes["deleted"].split()) == 11
    match, answered = Filters(columns={"status": ["live", "hidden"], "account": ["pd-fb"]}).scope_match()
    # (the excluded statuses' tokens with the account: the fewest items to walk past)
    gone = " OR ".join(f'fts_scope : "{scope_token(("status", "account"), (s, "pd-fb"))}"' for s in ("edited", "deleted"))
    assert match == f'((fts_scope : "{scope_token(("account",), ("pd-fb",))}")) NOT ({gone})'
    assert sorted(answered) == ["account", "status"]
    # nothing to put left of the NOT: the status is checked on each row
    assert Filters(columns={"status": ["live"]}).scope_match() == (None, ())
    for status in (["live"], ["live", "hidden"], ["live", "edited", "hidden"]):
        for q in (SearchQuery(status=status, account=["pd-fb"], text="fire", limit=None),
                  SearchQuery(status=status, text="fire", limit=None), SearchQuery(status=status, limit=None)):
            assert [r["id"] for r in search(db, q, TZ).rows] == oracle(q) != []


def _fts_bytes(db) -> tuple[int, int]:
    return db.conn.execute("SELECT count(*), total(length(block)) FROM items_fts_data").fetchone()


def test_a_status_change_moves_the_item_between_scopes(db):
    """Hiding or deleting an item re-files it under its new scope tokens; setting the same
    values again (ingest sets status on every item it sees) files nothing."""
    item, platform = db.conn.execute("SELECT id, platform FROM items WHERE status = 'live' AND text LIKE '%fire%'"
                                     " LIMIT 1").fetchone()

    def found(status):
        q = SearchQuery(status=[status], platform=[platform], text="fire", limit=None)
        return item in {r["id"] for r in search(db, q, TZ).rows}

    assert found("live") and not found("deleted")
    db.conn.execute("UPDATE items SET status = 'deleted' WHERE id = ?", (item,))
    try:
        assert found("deleted") and not found("live")
        db.conn.execute("INSERT INTO items_fts(items_fts, rank) VALUES ('integrity-check', 1)")
        before = _fts_bytes(db)
        db.conn.execute("UPDATE items SET status = 'deleted', text = text, last_seen = 'y' WHERE id = ?", (item,))
        assert _fts_bytes(db) == before
    finally:
        db.conn.execute("UPDATE items SET status = 'live' WHERE id = ?", (item,))
    assert found("live") and not found("deleted")
    db.conn.execute("INSERT INTO items_fts(items_fts, rank) VALUES ('integrity-check', 1)")


def test_migration_files_the_scope_of_an_existing_index(tmp_path):
    """An index made before m_search_scope gets the scope column filled for every item."""
    import sqlite3

    import sqlite_utils

    from archiver.ftsquery import register_functions
    from archiver.index.schema import migrations

    conn = sqlite3.connect(tmp_path / "index.db", isolation_level=None)
    register_functions(conn)
    migrations.apply(sqlite_utils.Database(conn), stop_before="m_search_scope")
    for n, it in enumerate(ITEMS):
        conn.execute(
            "INSERT INTO items (id, account, platform, platform_id, kind, root, author, author_id, text, created_at,"
            " status, has_media, first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,'x','x')",
            (it["id"], it["account"], it["platform"], str(n), it["kind"], str(n), it["author"], it["author_id"],
             it["text"], it["created_at"], it["status"], it["has_media"]))
    conn.close()
    db = open_index(tmp_path / "index.db")
    for q in SCOPED[:5]:
        assert [r["id"] for r in search(db, SearchQuery(**{**q.__dict__, "limit": None}), TZ).rows] == oracle(q)
    db.conn.execute("INSERT INTO items_fts(items_fts, rank) VALUES ('integrity-check', 1)")


def _fts_terms(conn) -> list[tuple]:
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_terms USING fts5vocab(main, items_fts, 'instance')")
    return conn.execute("SELECT term, doc, col, offset FROM temp.fts_terms ORDER BY 1, 2, 3, 4").fetchall()


def _schema(conn, kind: str) -> list[tuple]:
    return conn.execute("SELECT name, sql FROM sqlite_master WHERE type = ? AND tbl_name LIKE 'items%'"
                        " ORDER BY name", (kind,)).fetchall()


def test_migration_to_fewer_scope_tokens_gives_what_a_fresh_index_has(tmp_path):
    """An index with the eleven scope tokens of m_search_scope migrates to exactly the
    full-text index, column and triggers a fresh index has, and searches the same."""
    import sqlite3

    import sqlite_utils

    from archiver.ftsquery import register_functions
    from archiver.index.schema import migrations

    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    register_functions(conn)
    migrations.apply(sqlite_utils.Database(conn), stop_before="m_search_scope_tokens")
    fresh = open_index(tmp_path / "fresh.db")
    for c in (conn, fresh.conn):
        for n, it in enumerate(ITEMS):
            c.execute(
                "INSERT INTO items (id, account, platform, platform_id, kind, root, author, author_id, text,"
                " created_at, status, has_media, first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,'x','x')",
                (it["id"], it["account"], it["platform"], str(n), it["kind"], str(n), it["author"],
                 it["author_id"], it["text"], it["created_at"], it["status"], it["has_media"]))
    assert len(conn.execute("SELECT fts_scope FROM items LIMIT 1").fetchone()[0].split()) == 11
    conn.close()
    db = open_index(tmp_path / "old.db")
    assert len(db.conn.execute("SELECT fts_scope FROM items WHERE status = 'live' LIMIT 1").fetchone()[0].split()) == 5
    assert _fts_terms(db.conn) == _fts_terms(fresh.conn)
    for kind in ("table", "trigger"):
        assert _schema(db.conn, kind) == _schema(fresh.conn, kind)
    assert db.conn.execute("SELECT * FROM items_fts_config ORDER BY k").fetchall() == \
        fresh.conn.execute("SELECT * FROM items_fts_config ORDER BY k").fetchall()
    for q in SCOPED:
        q = SearchQuery(**{**q.__dict__, "limit": None})
        assert [r["id"] for r in search(db, q, TZ).rows] == [r["id"] for r in search(fresh, q, TZ).rows]
        if q.sort != "relevance":
            assert [r["id"] for r in search(db, q, TZ).rows] == oracle(q)
    db.conn.execute("INSERT INTO items_fts(items_fts, rank) VALUES ('integrity-check', 1)")
