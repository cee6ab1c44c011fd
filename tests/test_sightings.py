"""The items/1 metadata records as capture writes them (archiver/sightings.py)."""

from __future__ import annotations

from archiver.index import open_index
from archiver.sightings import BATCH, Sightings, page_entries


def _sightings(counts: dict[str, int]):
    written: list[tuple[str, dict, str | None]] = []
    s = Sightings("run-1", "acct", "facebook", lambda uri, doc, ref: written.append((uri, doc, ref)),
                  lambda record: counts.get(record, 0), "urn:archiver:run:run-1")
    return s, written


def test_changes_are_written_at_once_tied_to_their_response():
    s, written = _sightings({})
    s.change(("R1", "https://api/page1"), {"events": ["new"], "item": {"platform_id": "a"}})
    s.seen(("R2", "https://api/page2"), "b", None)  # another response closes page 1
    assert [(uri, ref) for uri, _, ref in written] == [("https://api/page1", "R1")]
    doc = written[0][1]
    assert doc["changes"][0]["item"]["platform_id"] == "a" and doc["run"] == "run-1"
    assert page_entries(doc, "R1")[0]["source"] == "R1"


def test_unchanged_pages_are_batched_and_compact_only_when_exact():
    s, written = _sightings({"OLD1": 3, "OLD2": 5})
    for pid in ("a", "b", "c"):
        s.seen(("R1", "u1"), pid, "OLD1")  # all 3 items last sighted in OLD1: compact
    for pid in ("d", "e"):
        s.seen(("R2", "u2"), pid, "OLD2")  # 2 of OLD2's 5: listed
    s.seen(("R2", "u2"), "f", None)  # never sighted in a known record: listed
    s.thread(("R2", "u2"), "root", 7)
    assert written == []  # nothing changed: waits for the batch
    s.flush()
    (uri, doc, ref), = written
    assert uri == "urn:archiver:run:run-1" and ref is None
    pages = page_entries(doc, None)
    assert [(p["source"], p["seen"], p["seen_at"]) for p in pages] == [
        ("R1", [], [["OLD1", 3]]), ("R2", ["d", "e", "f"], [])]
    assert pages[1]["threads"] == [{"root": "root", "expected": 7}]


def test_a_full_batch_is_written_without_waiting():
    s, written = _sightings({})
    for n in range(BATCH + 1):
        s.seen((f"R{n}", f"u{n}"), f"p{n}", None)
    assert len(written) == 1 and len(written[0][1]["pages"]) == BATCH


def test_sightings_are_counted_and_applied_through_an_index(tmp_path):
    """Capture counts items per record for every unchanged page; ingest updates by record id.
    Without an index each is a scan of every item."""
    db = open_index(tmp_path / "index.db")
    for sql in ("SELECT COUNT(*) FROM items WHERE record_id = ?",
                "UPDATE items SET last_seen = ? WHERE record_id = ? AND last_seen < ?"):
        plan = " ".join(r[3] for r in db.conn.execute("EXPLAIN QUERY PLAN " + sql, ("x",) * sql.count("?")))
        assert "items_record" in plan, plan
