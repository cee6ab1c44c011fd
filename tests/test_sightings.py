"""The items/1 metadata records as capture writes them (archiver/sightings.py)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from archiver.capture import run_account
from archiver.index import open_index, transaction
from archiver.index.queries import get_item, version_rows
from archiver.ingest import iter_records
from archiver.reindex import reindex
from archiver.replay.facebook import FacebookSimulator
from archiver.retention import eligibility, objectlock
from archiver.retention.assign import objects_of
from archiver.retention.disposition import remove_object_from_index
from archiver.retention.schedule import load_schedule
from archiver.replay.samples import facebook_next_night, facebook_sample
from archiver.search import SearchQuery, search
from archiver.sightings import (BATCH, Sightings, fold_sighting, item_record_links, latest_sighting,
                                page_entries, sighted_in)
from archiver.store import open_store
from archiver.timefmt import utcnow
from archiver.warc import META_HEADER
from tests.index.old_schemas import before_lean_items
from tests.ops.support import ENV, NOW, TOKEN, Page, run_collect


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
    sql, params = sighted_in("x")
    for query in (f"SELECT COUNT(*) FROM ({sql})", f"SELECT rowid FROM items WHERE rowid IN ({sql})"):
        plan = " ".join(r[3] for r in db.conn.execute("EXPLAIN QUERY PLAN " + query, params))
        assert "items_record" in plan and "item_sightings_record" in plan, plan
        assert "SCAN i" not in plan and "SCAN item_sightings" not in plan, plan


# --- where sightings are kept: the narrow item_sightings table (module docstring) -------------

def _archive(replay, make_config):
    """A page whose comments come three to a response, committed four items to a file."""
    sim = FacebookSimulator("1000001", "Oak Creek Police Department", token=TOKEN, page_size=3)
    base = replay.mount(sim)
    facebook_sample(sim, NOW - timedelta(days=3))
    page = Page(sim, f"{base}/{sim.version}")
    page.grow(2, 7, NOW - timedelta(days=3))
    cfg = make_config([page.account()], extra="commit_items = 4\n")
    return page, cfg


def _night(cfg, at):
    settings, report = run_collect(cfg, at)
    assert report.ok, report.results
    return settings


def _per_item_truth(db, store) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(account, platform id) -> (last sighting, its record) as updating each item's own row at
    every sighting gives them: every items/1 page entry of the WARCs, applied in capture order."""
    truth: dict[tuple[str, str], list] = {}
    for key, version in db.conn.execute("SELECT key, version_id FROM objects ORDER BY first_date, key"):
        for record, _offset, _length, payload in iter_records(store.open(key, version=version), key):
            if payload is None or record.rec_headers.get_header(META_HEADER) != "items/1":
                continue
            doc, date = json.loads(payload), record.rec_headers.get_header("WARC-Date")
            for page in page_entries(doc, record.rec_headers.get_header("WARC-Refers-To")):
                source, account = page.get("source"), doc["account"]
                for last_record, _n in page.get("seen_at") or []:
                    for sight in truth.values():
                        if sight[1] == last_record and sight[0] < date:
                            sight[:] = [date, source or last_record]
                for pid in page.get("seen") or []:
                    sight = truth[(account, pid)]
                    if sight[0] < date:
                        sight[:] = [date, source or sight[1]]
                for change in page.get("changes") or []:
                    pid = (account, change["item"]["platform_id"])
                    if "version" in change:
                        truth[pid] = [date, source]
                    elif pid in truth and "deleted" not in change["events"]:
                        truth[pid][0] = date
    return {pid: tuple(sight) for pid, sight in truth.items()}


def _indexed(db) -> dict[tuple[str, str], tuple[str, str | None]]:
    return {(a, p): (seen, rec) for a, p, seen, rec in db.conn.execute(
        f"SELECT account, platform_id, {latest_sighting('last_seen')}, {latest_sighting('record_id')} FROM items i")}


def test_an_unchanged_night_writes_no_item_row_and_sightings_are_what_per_item_writes_gave(replay, make_config,
                                                                                          tmp_path):
    page, cfg = _archive(replay, make_config)
    settings = _night(cfg, NOW - timedelta(days=2))
    store = open_store(settings)
    db = open_index(settings.index_path)
    first = _indexed(db)
    assert first == _per_item_truth(db, store)
    # Every later UPDATE of an items row is counted.
    db.conn.executescript("CREATE TABLE item_updates (rowid_ INTEGER);"
                          "CREATE TRIGGER count_item_updates AFTER UPDATE ON items"
                          " BEGIN INSERT INTO item_updates VALUES (new.rowid); END;")
    db.conn.close()

    _night(cfg, NOW - timedelta(days=1))  # nothing changed on the page
    db = open_index(settings.index_path)
    items = db.conn.execute("SELECT count(*) FROM items").fetchone()[0]
    assert db.conn.execute("SELECT count(*) FROM item_updates").fetchone()[0] == 0
    assert db.conn.execute("SELECT count(*) FROM item_sightings").fetchone()[0] == items
    second = _indexed(db)
    assert second == _per_item_truth(db, store)
    assert all(second[pid][0] > seen and second[pid][1] != record for pid, (seen, record) in first.items())
    db.conn.close()

    # An edit, a hide, a deletion and a reply: the changed rows are written, and only those.
    facebook_next_night(page.sim, NOW)
    _night(cfg, NOW)
    db = open_index(settings.index_path)
    changed = db.conn.execute("SELECT count(DISTINCT rowid_) FROM item_updates").fetchone()[0]
    assert 0 < changed <= 4
    assert _indexed(db) == _per_item_truth(db, store)
    hidden = db.conn.execute("SELECT rowid FROM items WHERE hidden = 1").fetchone()[0]
    assert db.conn.execute("SELECT count(*) FROM item_sightings WHERE item_rowid = ?", (hidden,)).fetchone()[0] == 0
    post = db.conn.execute("SELECT platform_id FROM items WHERE kind = 'post' ORDER BY created_at DESC"
                           " LIMIT 1").fetchone()[0]
    db.conn.close()

    # A poll of one thread (a listener's or poller's run): its items alone are seen again.
    # (Nights capture at the wall clock's time: the poll is an hour after it.)
    db, later = open_index(settings.index_path), utcnow().replace(microsecond=0) + timedelta(hours=1)
    result = run_account(settings, db, store, settings.account(page.account()["name"]), environ=ENV, now=later,
                         targets=[post], driver="poll:hot", clock=lambda: later)
    assert result.status == "ok", result
    indexed = _indexed(db)
    assert indexed == _per_item_truth(db, store)
    polled = {pid for (_, pid), (seen, _) in indexed.items() if seen.startswith(f"{later:%Y-%m-%dT%H}")}
    assert post in polled and len(polled) < len(indexed)
    assert polled == {p for (p,) in db.conn.execute("SELECT platform_id FROM items WHERE root = ?"
                                                    " AND status != 'deleted'", (post,))}
    # What readers show is that latest sighting.
    item_id, rowid = db.conn.execute("SELECT id, rowid FROM items WHERE platform_id = ?", (post,)).fetchone()
    shown = get_item(db, item_id)
    assert (shown["last_seen"], shown["record_id"]) == indexed[(page.account()["name"], post)]
    assert version_rows(db.conn, rowid)[-1]["last_seen"] == shown["last_seen"]
    found = search(db, SearchQuery(account=[page.account()["name"]], limit=500), settings.timezone)
    assert {r["platform_id"]: r["last_seen"] for r in found.rows} == {
        pid: seen for (_, pid), (seen, _) in indexed.items()}
    db.conn.close()

    # A rebuilt index holds the same sightings, in the same place.
    reindex(store, tmp_path / "rebuilt.db")
    rebuilt, db = open_index(tmp_path / "rebuilt.db"), open_index(settings.index_path)
    assert _indexed(rebuilt) == indexed
    table = "SELECT i.platform_id, s.last_seen, k.run_id, r.record_id FROM item_sightings s JOIN items i" \
            " ON i.rowid = s.item_rowid LEFT JOIN records r ON r.id = s.record LEFT JOIN run_keys k ON k.id = s.run"
    assert set(rebuilt.conn.execute(table)) == set(db.conn.execute(table))


def test_the_latest_sighting_links_an_object_to_the_item_for_retention(replay, make_config):
    """item_objects (retention: which objects hold an item) follows the latest sighting:
    the record a later sighting replaced no longer links its object to the item."""
    page, cfg = _archive(replay, make_config)
    _night(cfg, NOW - timedelta(days=2))
    settings = _night(cfg, NOW - timedelta(days=1))
    db = open_index(settings.index_path)
    linked = set(db.conn.execute("SELECT object_key, item_id FROM item_objects"))
    expected = set(db.conn.execute(
        f"SELECT r.object_key, i.id FROM items i JOIN records r ON r.id = {latest_sighting('record')}"
        " UNION SELECT r.object_key, i.id FROM items i JOIN versions v ON v.item_rowid = i.rowid"
        " JOIN records r ON r.id IN (v.record, v.meta_record)"))
    assert linked == expected
    night2 = {key for (key,) in db.conn.execute("SELECT key FROM objects WHERE first_date >= ?",
                                                (f"{NOW - timedelta(days=1):%Y-%m-%d}",))}
    assert night2 and {key for key, _ in linked} & night2  # the unchanged night's responses hold items
    sighted_first_night = db.conn.execute(
        "SELECT count(*) FROM items i JOIN records r ON r.id = i.record"
        " WHERE r.object_key NOT IN (SELECT value FROM json_each(?))"
        " AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.item_rowid = i.rowid AND v.record = r.id)"
        , (json.dumps(sorted(night2)),)).fetchone()[0]
    assert sighted_first_night == 0



def test_retention_reads_the_same_links_walked_from_an_object_and_for_the_whole_archive(replay, make_config):
    """item_objects, the object lock's walk from objects and the disposition plan's links are
    one rule (sightings.item_record_links); the walk from one object goes through the record
    indexes, the whole-archive read through the sightings' record indexes, not the wide rows."""
    page, cfg = _archive(replay, make_config)
    _night(cfg, NOW - timedelta(days=2))
    facebook_next_night(page.sim, NOW - timedelta(days=1))  # an edit, a hide, a deletion, a reply
    settings = _night(cfg, NOW - timedelta(days=1))
    db = open_index(settings.index_path)
    view = set(db.conn.execute("SELECT object_key, item_id FROM item_objects"))
    assert db.conn.execute("SELECT count(*) FROM item_sightings").fetchone()[0] and len(view) > 1
    walk, params = objectlock._object_items(None)
    walked = f"SELECT io.object_key, i.id FROM ({walk}) io JOIN items i ON i.rowid = io.rowid"
    assert set(db.conn.execute(walked, params)) == view
    assert {(key, item) for key, item, *_ in db.conn.execute(eligibility._LINKS)} == view
    key = max(view)[0]
    walk, params = objectlock._object_items([key])
    assert set(db.conn.execute(walked.replace(objectlock._object_items(None)[0], walk), params)) == {
        pair for pair in view if pair[0] == key}

    plan = " | ".join(r[3] for r in db.conn.execute(f"EXPLAIN QUERY PLAN {walk}", params))
    for index in ("items_record", "item_sightings_record", "versions_record", "versions_meta_record",
                  "media_record"):
        assert re.search(rf"SEARCH l USING (COVERING )?INDEX {index} \((meta_)?record=\?\)", plan), plan
    assert "SCAN l" not in plan, plan
    plan = " | ".join(r[3] for r in db.conn.execute(f"EXPLAIN QUERY PLAN {eligibility._LINKS}"))
    assert "SCAN l USING COVERING INDEX items_record" in plan, plan
    assert "SCAN l USING COVERING INDEX item_sightings_record" in plan, plan
    # From items to their objects (a hold or an override re-locks them): through each item key.
    items = sorted({item for _, item in view})[::3]
    assert set(objects_of(db, items)) == {key for key, item in view if item in items}
    of_items = item_record_links("{record}", of_items="(SELECT value FROM json_each(?))")
    plan = " | ".join(r[3] for r in db.conn.execute(f"EXPLAIN QUERY PLAN {of_items}", ("[]",) * 5))
    assert "SCAN l" not in plan, plan


OLD_ITEM_OBJECTS = """
    CREATE VIEW item_objects AS
        SELECT DISTINCT r.object_key AS object_key, i.id AS item_id
        FROM (
            SELECT i.rowid AS item_rowid, r.id AS record FROM items i JOIN records r ON r.record_id = i.record_id
            UNION SELECT item_rowid, record FROM versions
            UNION SELECT item_rowid, meta_record FROM versions
            UNION SELECT item_rowid, record FROM media
        ) AS link
        JOIN records AS r ON r.id = link.record
        JOIN items AS i ON i.rowid = link.item_rowid
        WHERE r.object_key IS NOT NULL"""


def test_an_index_written_before_item_sightings_migrates(replay, make_config):
    """An index whose items rows hold every sighting (as before m_item_sightings) shows the same
    sightings and object links once migrated, and its next unchanged night writes no item row."""
    _page, cfg = _archive(replay, make_config)
    _night(cfg, NOW - timedelta(days=2))
    settings = _night(cfg, NOW - timedelta(days=1))
    db = open_index(settings.index_path)
    sightings, links = _indexed(db), set(db.conn.execute("SELECT * FROM item_objects"))
    with db.conn:
        for (rowid,) in db.conn.execute("SELECT item_rowid FROM item_sightings").fetchall():
            fold_sighting(db.conn, rowid)
        before_lean_items(db.conn)
        db.conn.execute("DROP VIEW item_objects")
        db.conn.execute("DROP TABLE item_sightings")
        db.conn.execute(OLD_ITEM_OBJECTS)
        db.conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm_item_sightings'")
    db.conn.close()
    db = open_index(settings.index_path)  # migrates
    assert db.conn.execute("SELECT count(*) FROM item_sightings").fetchone()[0] == 0
    assert _indexed(db) == sightings and set(db.conn.execute("SELECT * FROM item_objects")) == links
    db.conn.executescript("CREATE TABLE item_updates (rowid_ INTEGER);"
                          "CREATE TRIGGER count_item_updates AFTER UPDATE ON items"
                          " BEGIN INSERT INTO item_updates VALUES (new.rowid); END;")
    db.conn.close()
    _night(cfg, NOW)
    db = open_index(settings.index_path)
    assert db.conn.execute("SELECT count(*) FROM item_updates").fetchone()[0] == 0
    assert _indexed(db) == _per_item_truth(db, open_store(settings))


def test_an_object_removed_from_the_index_takes_the_sightings_it_held(replay, make_config):
    """Disposition of an object holding items' latest sightings: no sighting points into it
    afterwards (the item's row takes its latest version's record, as it did its own)."""
    _page, cfg = _archive(replay, make_config)
    _night(cfg, NOW - timedelta(days=2))
    settings = _night(cfg, NOW - timedelta(days=1))
    db = open_index(settings.index_path)
    key, = db.conn.execute("SELECT r.object_key FROM item_sightings s JOIN records r ON r.id = s.record"
                           " GROUP BY r.object_key ORDER BY count(*) DESC LIMIT 1").fetchone()
    held = {rowid for (rowid,) in db.conn.execute(
        "SELECT s.item_rowid FROM item_sightings s JOIN records r ON r.id = s.record"
        " WHERE r.object_key = ?", (key,))}
    with transaction(db):
        remove_object_from_index(db, load_schedule(settings), key, 1, NOW)
    records = {rec for (rec,) in db.conn.execute("SELECT record_id FROM records")}
    after = {rowid: rec for rowid, rec in db.conn.execute(f"SELECT rowid, {latest_sighting('record_id')} FROM items i")}
    assert held and all(after[rowid] in records for rowid in held)
    assert db.conn.execute("SELECT count(*) FROM item_sightings WHERE item_rowid IN (SELECT value FROM json_each(?))",
                           (json.dumps(sorted(held)),)).fetchone()[0] == 0
    assert key not in {k for (k,) in db.conn.execute("SELECT object_key FROM item_objects")}
