"""Object Lock on a real S3 protocol server (moto, bucket with Object Lock enabled):
retain-until set and extended but never shortened, legal holds on and off, and a delete the
bucket refuses half-way through a disposition leaving the index consistent with the store."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from archiver.retention.assign import assign_new_items, recompute
from archiver.retention.disposition import apply_plan, approve_plan, make_plan
from archiver.retention.holds import add_hold, close_request, log_request, release_hold
from archiver.retention.selection import make_query
from tests.retention.test_ret_schedule import GOOD

WAIVED = GOOD.replace('whs_notice = "notify"', 'whs_notice = "waived"', 1)
NOW = datetime(2030, 6, 1, 15, 0, tzinfo=timezone.utc)
# 2030-01-01 Chicago midnight = 06:00 UTC
CHICAGO_MIDNIGHT = timedelta(hours=6)


def _head(archive, key):
    head = archive.client.head_object(Bucket=archive.store.bucket, Key=archive.store._key(key))
    return head.get("ObjectLockRetainUntilDate"), head.get("ObjectLockLegalHoldStatus")


def test_retain_until_is_set_and_extended_never_shortened(s3_archive):
    archive = s3_archive(schedule=WAIVED)
    archive.add_object("a.warc.gz", [{"pid": "p1", "created": "2030-01-01T12:00:00Z"},
                                     {"pid": "p2", "created": "2030-03-01T12:00:00Z"}])
    archive.add_object("b.warc.gz", [{"pid": "c1", "kind": "comment", "dept": False, "created": "2030-02-01T12:00:00Z"}])
    assert archive.store.object_lock
    result = assign_new_items(archive.db, archive.settings, store=archive.store, now=NOW)
    assert result["object_lock"]["extended"] == 2 and result["object_lock"]["errors"] == []
    # a: the latest date inside it (p2: 2030-03-01 + 7y); b: the public comment, CR+3y6m
    until_a, _ = _head(archive, "a.warc.gz")
    until_b, _ = _head(archive, "b.warc.gz")
    assert until_a == datetime(2037, 3, 1, tzinfo=timezone.utc) + CHICAGO_MIDNIGHT
    assert until_b == datetime(2033, 8, 1, tzinfo=timezone.utc) + timedelta(hours=5)  # CDT in August
    row = archive.db.conn.execute("SELECT retain_until FROM objects WHERE key = 'a.warc.gz'").fetchone()
    assert row[0] == "2037-03-01T06:00:00Z"

    sched = archive.tmp / "agency-schedule.toml"
    sched.write_text(WAIVED.replace("offset = { years = 7 }", "offset = { years = 10 }"))
    recompute(archive.db, archive.settings, actor="rec", store=archive.store, now=NOW)
    assert _head(archive, "a.warc.gz")[0] == datetime(2040, 3, 1, 6, tzinfo=timezone.utc)

    sched.write_text(WAIVED.replace("offset = { years = 7 }", "offset = { years = 2 }"))
    result = recompute(archive.db, archive.settings, actor="rec", store=archive.store, now=NOW)
    assert result["object_lock"]["extended"] == 0
    assert _head(archive, "a.warc.gz")[0] == datetime(2040, 3, 1, 6, tzinfo=timezone.utc)  # never shortened
    assert archive.db.conn.execute("SELECT retain_until FROM objects WHERE key = 'a.warc.gz'").fetchone()[0] \
        == "2040-03-01T06:00:00Z"


def test_an_object_holding_only_new_versions_gets_its_lock(s3_archive):
    """Capture hands over the object it just ingested: a night with edits and no new items
    still locks that night's WARC for the edited items' retention."""
    archive = s3_archive(schedule=WAIVED)
    archive.add_object("a.warc.gz", [{"pid": "p2", "created": "2030-03-01T12:00:00Z"}])
    assign_new_items(archive.db, archive.settings, store=archive.store, now=NOW)
    archive.add_object("c.warc.gz", [{"pid": "p2", "created": "2030-03-01T12:00:00Z", "text": "edited"}])
    result = assign_new_items(archive.db, archive.settings, store=archive.store, keys=["c.warc.gz"], now=NOW)
    assert result["assigned"] == 0 and result["object_lock"]["extended"] == 1
    assert _head(archive, "c.warc.gz")[0] == datetime(2037, 3, 1, tzinfo=timezone.utc) + CHICAGO_MIDNIGHT


def test_an_edit_archived_later_is_locked_from_its_own_capture(s3_archive):
    """A 2030 post edited in 2033: the 2033 WARC is locked until 2040 (CR+7 from the edit),
    not 2037 (from the post's creation) -- the store enforces what disposition does."""
    archive = s3_archive(schedule=WAIVED)
    archive.add_object("a.warc.gz", [{"pid": "p2", "created": "2030-03-01T12:00:00Z"}])
    assign_new_items(archive.db, archive.settings, store=archive.store, now=NOW)
    archive.add_object("c.warc.gz", [{"pid": "p2", "created": "2030-03-01T12:00:00Z", "text": "edited",
                                      "captured": "2033-05-10T12:00:00Z"}])
    assign_new_items(archive.db, archive.settings, store=archive.store, keys=["c.warc.gz"], now=NOW)
    assert _head(archive, "c.warc.gz")[0] == datetime(2040, 5, 10, 5, tzinfo=timezone.utc)  # midnight CDT
    assert _head(archive, "a.warc.gz")[0] == datetime(2037, 3, 1, tzinfo=timezone.utc) + CHICAGO_MIDNIGHT


def test_legal_holds_on_and_off(s3_archive):
    archive = s3_archive(schedule=WAIVED)
    archive.add_object("a.warc.gz", [{"pid": "p1", "created": "2030-01-01T12:00:00Z"},
                                     {"pid": "p2", "created": "2030-03-01T12:00:00Z"}])
    archive.add_object("b.warc.gz", [{"pid": "p3", "created": "2030-03-02T12:00:00Z"}])
    db, settings, store = archive.db, archive.settings, archive.store
    assign_new_items(db, settings, store=store, now=NOW)
    add_hold(db, settings, "h1", "Matter one", make_query(item_ids=[archive.item("p1")]), actor="c", store=store, now=NOW)
    add_hold(db, settings, "h2", "Matter two", make_query(date_from="2030-03-01", date_to="2030-03-01"), actor="c",
             store=store, now=NOW)
    assert _head(archive, "a.warc.gz")[1] == "ON" and _head(archive, "b.warc.gz")[1] in (None, "OFF")
    release_hold(db, settings, "h1", actor="c", store=store, now=NOW)
    assert _head(archive, "a.warc.gz")[1] == "ON", "h2 still needs it"
    release_hold(db, settings, "h2", actor="c", store=store, now=NOW)
    assert _head(archive, "a.warc.gz")[1] == "OFF"
    assert db.conn.execute("SELECT legal_hold FROM objects WHERE key = 'a.warc.gz'").fetchone()[0] == 0

    # A denied request keeps its S3 legal hold through the 60th business day, then loses it.
    log_request(db, settings, "R-1", requester="J. Doe", received=date(2030, 5, 1), description="March posts",
                filters=make_query(date_from="2030-03-02", date_to="2030-03-02"), actor="rec", store=store, now=NOW)
    assert _head(archive, "b.warc.gz")[1] == "ON"
    closed = close_request(db, settings, "R-1", "denied", date(2030, 6, 3), actor="rec", store=store, now=NOW)
    last_day = date.fromisoformat(closed["held_through"])
    recompute(db, settings, actor="rec", store=store, now=datetime.combine(last_day, datetime.min.time(),
                                                                         tzinfo=timezone.utc) + timedelta(hours=20))
    assert _head(archive, "b.warc.gz")[1] == "ON"
    recompute(db, settings, actor="rec", store=store, now=datetime.combine(last_day + timedelta(days=1),
                                                                         datetime.min.time(), tzinfo=timezone.utc)
              + timedelta(hours=20))
    assert _head(archive, "b.warc.gz")[1] == "OFF"


def test_a_delete_the_bucket_refuses_leaves_index_and_store_consistent(s3_archive):
    archive = s3_archive(schedule=WAIVED)
    db, settings, store = archive.db, archive.settings, archive.store
    for n, created in enumerate(["2017-01-10", "2017-01-11", "2017-01-12"], 1):
        archive.add_object(f"o{n}.warc.gz", [{"pid": f"p{n}", "created": f"{created}T12:00:00Z"}])
    archive.add_object("held.warc.gz", [{"pid": "ph", "created": "2017-01-09T12:00:00Z"}])
    assign_new_items(db, settings, now=NOW)  # dates in the past: no lock set by us
    add_hold(db, settings, "keep", "Litigation", make_query(item_ids=[archive.item("ph")]), actor="c", store=store,
             now=NOW)
    # Someone locked o2 in the bucket directly; the index does not know.
    archive.client.put_object_retention(
        Bucket=store.bucket, Key=store._key("o2.warc.gz"),
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": datetime.now(timezone.utc) + timedelta(days=30)})
    plan = make_plan(db, settings, date(2030, 6, 1), actor="rec", now=NOW)
    assert [o["key"] for o in plan["objects"]] == ["o1.warc.gz", "o2.warc.gz", "o3.warc.gz"]
    approve_plan(db, plan["plan"], approver="Chief", now=NOW)
    result = apply_plan(db, store, settings, plan["plan"], actor="rec", confirm=True, now=NOW)
    assert result["destroyed"] == ["o1.warc.gz", "o3.warc.gz"] and result["store_refused"] == ["o2.warc.gz"]
    assert archive.store_keys() == archive.index_keys() == {"o2.warc.gz", "held.warc.gz"}
    assert {o["key"] for o in result["certificate"]["objects"]} == {"o1.warc.gz", "o3.warc.gz"}
    assert {r[0] for r in db.conn.execute("SELECT platform_id FROM items")} == {"p2", "ph"}
    assert _head(archive, "held.warc.gz")[1] == "ON"
