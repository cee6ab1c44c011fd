"""archiver.search and archiver.ftsquery against a real SQLite index with rows inserted here."""

from __future__ import annotations

import pytest

from archiver.errors import QueryError
from archiver.ftsquery import to_fts
from archiver.index import open_index
from archiver.search import MARK_OPEN, RESULT_FIELDS, SearchQuery, build_where, iter_matches, search, thread_roots

TZ = "America/Chicago"
ROWS = [
    # platform_id, kind, root, author, text, created_at (UTC), status, has_media
    ("p1", "post", "p1", "Oak Creek PD", "Drexel Town Square incident: road closed", "2024-03-01T15:00:00Z", "edited", 1),
    ("c1", "comment", "p1", "Jane Public", "Was anyone hurt at Drexel Town Square?", "2024-03-02T01:00:00Z", "live", 0),
    ("c2", "comment", "p1", "Troll", "<script>alert(1)</script> drexel is a joke", "2024-03-31T04:30:00Z", "hidden", 0),
    ("c3", "comment", "p1", "Spam Bot", "buy shooting-range passes don't miss", "2024-04-01T05:30:00Z", "deleted", 0),
    ("p2", "post", "p2", "Oak Creek PD", "Shooting drill at the range, no danger", "2024-04-10T12:00:00Z", "live", 1),
    ("r1", "reply", "p2", "Oak Creek PD", "Town hall on the drill: Monday", "2024-04-11T12:00:00Z", "live", 0),
]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    db = open_index(tmp_path_factory.mktemp("search") / "index.db")
    db.conn.execute("INSERT INTO accounts (name, platform, platform_account_id) VALUES ('ocpd', 'facebook', '1')")
    for pid, kind, root, author, text, created, status, media in ROWS:
        db.conn.execute(
            "INSERT INTO items (id, account, platform, platform_id, kind, parent, root, author, text, created_at, "
            "status, has_media, first_seen, last_seen) VALUES (?, 'ocpd', 'facebook', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (f"id-{pid}", pid, kind, None if kind == "post" else root, root, author, text, created, status, media,
             created, created))
    return db


def ids(result):
    return [r["id"][3:] for r in result.rows]


@pytest.mark.parametrize("text,expected", [
    ("drexel", {"p1", "c1", "c2"}),
    ('"town square"', {"p1", "c1"}),
    ("drexel town", {"p1", "c1"}),
    ("drexel AND town", {"p1", "c1"}),
    ("drill OR hurt", {"p2", "r1", "c1"}),
    ("drexel NOT script", {"p1", "c1"}),
    ("shoot*", {"c3", "p2"}),
    ("(hurt OR joke) AND drexel", {"c1", "c2"}),
    ("author:jane", {"c1"}),
    ('author:"oak creek" drill', {"p2", "r1"}),
    ("don't", {"c3"}),
    ("shooting-range", {"c3"}),
    ("nothingmatches", set()),
])
def test_full_text(db, text, expected):
    assert set(ids(search(db, SearchQuery(text=text), TZ))) == expected


@pytest.mark.parametrize("text,message", [
    ('"town square', "closing double quote"),
    ("drexel AND", "ends with AND"),
    ("NOT drexel", "needs a word before it"),
    ("(drexel", r"without a matching \)"),
    ("drexel)", r"without a matching \("),
    ("()", "empty"),
    ("***", "no letters or digits"),
    ("a OR OR b", "needs a word before it"),
])
def test_malformed_queries_are_query_errors(db, text, message):
    with pytest.raises(QueryError, match=message):
        search(db, SearchQuery(text=text), TZ)
    with pytest.raises(QueryError):
        build_where(SearchQuery(text=text), TZ)  # holds and exports get the same checks


def test_quoting_keeps_fts_syntax_out():
    assert to_fts('C++ NEAR(x) col:y "a""b"') == ('fts_text : "C++" AND fts_text : "NEAR" AND ( fts_text : "x" ) '
                                                 'AND fts_text : "col:y" AND fts_text : "a" AND fts_text : "b"')
    assert to_fts("and or not") == 'fts_text : "and" AND fts_text : "or" AND fts_text : "not"'
    assert to_fts("   ") is None


def test_date_range_is_agency_days(db):
    # 2024-03-31 04:30Z is 23:30 on March 30 Central; 2024-04-01 05:30Z is 00:30 on April 1
    march = search(db, SearchQuery(date_from="2024-03-01", date_to="2024-03-31"), TZ)
    assert set(ids(march)) == {"p1", "c1", "c2"}
    assert "c3" not in ids(search(db, SearchQuery(date_to="2024-03-31"), TZ))
    with pytest.raises(QueryError, match="empty"):
        search(db, SearchQuery(date_from="2024-04-01", date_to="2024-03-01"), TZ)


def test_filters(db):
    assert set(ids(search(db, SearchQuery(status=["hidden", "deleted"]), TZ))) == {"c2", "c3"}
    assert set(ids(search(db, SearchQuery(kind=["reply"]), TZ))) == {"r1"}
    assert set(ids(search(db, SearchQuery(has_media=True), TZ))) == {"p1", "p2"}
    assert set(ids(search(db, SearchQuery(author="troll"), TZ))) == {"c2"}
    assert set(ids(search(db, SearchQuery(author="100%_"), TZ))) == set()
    assert ids(search(db, SearchQuery(account=["other"]), TZ)) == []
    with pytest.raises(QueryError, match="unknown status"):
        search(db, SearchQuery(status=["gone"]), TZ)


def test_sorting_paging_and_total(db):
    newest = search(db, SearchQuery(limit=2), TZ)
    assert ids(newest) == ["r1", "p2"] and newest.total == 6
    assert ids(search(db, SearchQuery(limit=2, offset=2), TZ)) == ["c3", "c2"]
    assert ids(search(db, SearchQuery(sort="-date", limit=1), TZ)) == ["p1"]
    relevant = search(db, SearchQuery(text="drexel", sort="relevance"), TZ)
    assert relevant.total == 3 and set(ids(relevant)) == {"p1", "c1", "c2"}
    with pytest.raises(QueryError, match="unknown sort"):
        search(db, SearchQuery(sort="random"), TZ)
    assert search(db, SearchQuery(limit=10, offset=50), TZ).total == 6


def test_relevance_ranks_denser_matches_first(db):
    rows = search(db, SearchQuery(text="drill OR range", sort="relevance"), TZ).rows
    assert rows[0]["id"] == "id-p2"  # both words


def test_snippets_mark_matches_with_sentinels(db):
    result = search(db, SearchQuery(text="drexel", snippets=True), TZ)
    assert set(result.snippets) == {"id-p1", "id-c1", "id-c2"}
    assert MARK_OPEN + "Drexel" in result.snippets["id-p1"]
    assert "<script>" in result.snippets["id-c2"]  # raw: the renderer escapes
    assert search(db, SearchQuery(text="drexel"), TZ).snippets == {}


def test_result_fields_and_iter_matches(db):
    row = search(db, SearchQuery(limit=1), TZ).rows[0]
    assert tuple(row) == RESULT_FIELDS
    streamed = list(iter_matches(db, SearchQuery(limit=1), TZ, batch=2))
    assert [r["id"][3:] for r in streamed] == ["p1", "c1", "c2", "c3", "p2", "r1"]


def test_thread_roots(db):
    rows = search(db, SearchQuery(kind=["comment", "reply"]), TZ).rows
    roots = thread_roots(db, rows)
    assert roots["id-r1"]["id"] == "id-p2" and roots["id-c1"]["text"].startswith("Drexel")
