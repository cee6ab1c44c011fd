"""Search finds what a lawyer means: word forms (porter stemming), full-width and hyphenated
writing, exact quotes, the ``text:`` filter, author names kept out of the words, punctuation
typed as words. Items go in through the real ingest (``ingest_warc``), as the nightly job files them."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from archiver.errors import QueryError
from archiver.index import open_index
from archiver.ingest import ingest_warc
from archiver.search import SearchQuery, build_where, search
from archiver.warc import WarcFile

TZ = "America/Chicago"
WHEN = datetime(2026, 3, 21, 3, 0, tzinfo=timezone.utc)
TEXTS = {
    "c1": ("Lawsuits are coming over this", "Resident"),
    "c2": ("I will file a LAWSUIT tomorrow", "Resident"),
    "c3": ("ｌａｗｓｕｉｔ in full-width letters", "Resident"),
    "c4": ("a law-suit, hyphenated", "Resident"),
    "c5": ("the city's lawsuit's merits", "Resident"),
    "c6": ("Smith & Wesson and AT&T, fire – smoke", "Resident"),
    "c7": ("nothing about courts here", "Lawson Lawsuit"),
}


def _change(pid: str, text: str, author: str) -> dict:
    return {"events": ["new"], "item": {
        "platform_id": pid, "kind": "comment", "root": "p1", "parent": "p1", "author": author,
        "author_id": pid, "is_department": False, "search_text": None, "created_at": "2026-03-20T10:00:00Z",
        "url": None, "hidden": False, "counts": {}},
        "version": {"hash": hashlib.sha256(text.encode()).hexdigest(), "text": text,
                    "content_json": "{}", "native_json": None}}


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("forms")
    db = open_index(tmp / "index.db")
    warc = WarcFile(tmp / "one.warc.gz", {"software": "test"})
    warc.write_metadata("items/1", "https://graph.example/page", {
        "run": "r1", "account": "ocpd", "platform": "facebook", "source": None, "uri": "u", "seen": [],
        "seen_at": [], "changes": [_change(pid, text, author) for pid, (text, author) in TEXTS.items()],
        "threads": []}, WHEN)
    closed = warc.close()
    with open(closed.path, "rb") as fh:
        ingest_warc(db, "one.warc.gz", fh, sha256=closed.sha256, size=closed.size, stored_at=WHEN)
    return db


def found(db, text: str) -> set[str]:
    rows = search(db, SearchQuery(text=text), TZ).rows
    return {r["platform_id"] for r in rows}


@pytest.mark.parametrize("text,expected", [
    ("lawsuit", {"c1", "c2", "c3", "c4", "c5"}),       # plural, capitals, full-width, hyphenated, possessive
    ("lawsuits", {"c1", "c2", "c3", "c4", "c5"}),
    ("ｌａｗｓｕｉｔ", {"c1", "c2", "c3", "c4", "c5"}),  # full-width typed
    ("law-suit", {"c1", "c2", "c3", "c4", "c5"}),      # hyphenated typed: written together too
    ('"lawsuit"', {"c2", "c3", "c5"}),                 # quotes: the word itself (any case), not "Lawsuits"
    ('"lawsuits"', {"c1"}),
    ('"law suit"', {"c4"}),
    ("text:lawsuit", {"c1", "c2", "c3", "c4", "c5"}),  # the documented column filter
    ('text:"lawsuit"', {"c2", "c3", "c5"}),
    ("Smith & Wesson", {"c6"}),                         # a lone & is skipped, not refused
    ("AT&T", {"c6"}),
    ("fire – smoke", {"c6"}),
    ("fire - smoke", {"c6"}),
    ("lawson", set()),                                  # the words box never searches author names
    ("author:lawson", {"c7"}),
])
def test_what_a_lawyer_types(db, text, expected):
    assert found(db, text) == expected


def test_quotes_inside_or_match_word_forms(db):
    # Only required phrases are checked exactly; inside OR the phrase matches its word forms.
    assert found(db, '"lawsuits" OR courts') == {"c1", "c2", "c3", "c4", "c5", "c7"}


def test_exact_phrases_apply_to_holds_and_exports_too(db):
    where, params = build_where(SearchQuery(text='"lawsuits"'), TZ)
    got = {r[0] for r in db.conn.execute(f"SELECT platform_id FROM items i{where}", params)}
    assert got == {"c1"}


def test_author_filter_is_separate_from_the_words(db):
    rows = search(db, SearchQuery(text="courts", author="lawson"), TZ).rows
    assert [r["platform_id"] for r in rows] == ["c7"]


@pytest.mark.parametrize("text", ["law\0suit", "&", " - "])
def test_bad_queries_are_query_errors(db, text):
    with pytest.raises(QueryError):
        search(db, SearchQuery(text=text), TZ)


def test_migration_refolds_and_restems_an_existing_index(tmp_path):
    """An index made before m_web_fts_porter (unfolded text in the old unicode61 table) finds
    the word forms once the migration has run."""
    db = open_index(tmp_path / "index.db")
    db.conn.execute("INSERT INTO items (id, account, platform, platform_id, kind, root, text, created_at, status,"
                    " first_seen, last_seen) VALUES ('x1', 'a', 'facebook', 'x1', 'post', 'x1', 'Ｌａｗｓｕｉｔｓ filed',"
                    " '2026-03-01T00:00:00Z', 'live', '2026-03-01T00:00:00Z', '2026-03-01T00:00:00Z')")
    assert found(db, "lawsuit") == set()  # written around ingest: not folded yet
    db.conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm_web_fts_porter'")
    db.conn.close()
    db = open_index(tmp_path / "index.db")
    assert found(db, "lawsuit") == {"x1"}
    db.conn.execute("INSERT INTO items_fts(items_fts, rank) VALUES ('integrity-check', 1)")


def test_index_form_joins_every_hyphenated_word_wherever_it_starts():
    """The word search starts at a word's first letter only (fast on long words): hyphenated
    words after digits, underscores and punctuation, and in full-width letters, still join."""
    from archiver.ftsquery import JOINED_LINE, index_form

    text = "ab1cd-ef _gh-ij (état-major) law\u2013suit x-ray-vision 3-car ＡＢ－ＣＤ no hyphen here " + "a" * 5000
    assert index_form(text).split(JOINED_LINE)[1] == "cdef ghij étatmajor lawsuit xrayvision ABCD"
    assert index_form("no hyphen at all") is None
