"""Legal holds and 19.35(5) records-request holds keep records out of every plan."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from archiver.errors import RetentionError
from archiver.retention.assign import assign_new_items, retention_for_item
from archiver.retention.disposition import plan_disposition
from archiver.retention.holds import add_hold, close_request, list_holds, list_requests, log_request, release_hold
from archiver.retention.selection import make_query

NOW = datetime(2024, 11, 1, 15, 0, tzinfo=timezone.utc)


def _due(archive, day: str) -> set[str]:
    plan = plan_disposition(archive.db, archive.settings, date.fromisoformat(day))
    return {i["platform_id"] for o in plan["objects"] for i in o["items"]}


@pytest.fixture
def archive(local_archive):
    a = local_archive()
    a.add_object("o1.warc.gz", [{"pid": "p1", "created": "2017-03-05T18:00:00Z", "text": "Drexel Town Square fire"}])
    a.add_object("o2.warc.gz", [{"pid": "p2", "created": "2017-03-20T18:00:00Z", "text": "parade route"}])
    assign_new_items(a.db, a.settings, now=NOW)
    return a


def test_legal_hold_by_search_filters_including_later_items(archive):
    db, settings = archive.db, archive.settings
    assert _due(archive, "2024-11-01") == {"p1", "p2"}
    result = add_hold(db, settings, "fire-claim", "Insurance claim, fire of 2017-03", make_query(
        date_from="2017-03-01", date_to="2017-03-31", text="fire OR smoke", accounts=["ocpd-facebook"]),
        actor="counsel", now=NOW)
    assert result["items"] == 1
    assert _due(archive, "2024-11-01") == {"p2"}
    # A comment captured later that matches the hold's filters is held too.
    archive.add_object("o3.warc.gz", [{"pid": "c9", "kind": "comment", "dept": False, "text": "smoke everywhere",
                                       "created": "2017-03-06T01:00:00Z"}])
    assert assign_new_items(db, settings, now=NOW)["newly_held"] == 1
    rowid = db.conn.execute("SELECT rowid FROM items WHERE platform_id = 'c9'").fetchone()[0]
    assert [h["name"] for h in retention_for_item(db, rowid, now=NOW)["holds"]] == ["fire-claim"]
    assert _due(archive, "2024-11-01") == {"p2"}
    with pytest.raises(RetentionError, match="already exists"):
        add_hold(db, settings, "fire-claim", "again", make_query(text="fire"), actor="counsel", now=NOW)
    with pytest.raises(RetentionError, match="at least one filter"):
        add_hold(db, settings, "all", "everything", make_query(), actor="counsel", now=NOW)
    release_hold(db, settings, "fire-claim", actor="counsel", now=NOW)
    assert _due(archive, "2024-11-01") == {"p1", "p2", "c9"}
    assert list_holds(db, settings, now=NOW)[0]["active"] is False
    with pytest.raises(RetentionError, match="already released"):
        release_hold(db, settings, "fire-claim", actor="counsel", now=NOW)


@pytest.mark.parametrize("committed, last_held", [(False, "2025-02-03"), (True, "2025-03-18")])
def test_denied_request_holds_60_or_90_business_days(archive, committed, last_held):
    db, settings = archive.db, archive.settings
    log_request(db, settings, "R-2024-017", requester="J. Doe", received=date(2024, 10, 15),
                description="All posts about the parade", filters=make_query(text="parade"),
                committed=committed, actor="rec", now=NOW)
    assert _due(archive, "2024-11-01") == {"p1"}
    with pytest.raises(RetentionError, match="release_hold|request close"):
        release_hold(db, settings, "request:R-2024-017", actor="rec", now=NOW)
    closed = close_request(db, settings, "R-2024-017", "denied", date(2024, 11, 1), actor="rec", now=NOW)
    assert closed["held_through"] == last_held
    assert "p2" not in _due(archive, last_held)
    day_after = date.fromordinal(date.fromisoformat(last_held).toordinal() + 1).isoformat()
    assert "p2" in _due(archive, day_after)
    with pytest.raises(RetentionError, match="already closed"):
        close_request(db, settings, "R-2024-017", "granted", date(2024, 11, 2), actor="rec", now=NOW)


def test_granted_request_releases_at_once(archive):
    db, settings = archive.db, archive.settings
    log_request(db, settings, "R-9", requester="Reporter", received=date(2024, 10, 1), description="parade",
                filters=make_query(text="parade"), actor="rec", now=NOW)
    with pytest.raises(RetentionError, match="before the request was received"):
        close_request(db, settings, "R-9", "granted", date(2024, 9, 1), actor="rec", now=NOW)
    close_request(db, settings, "R-9", "granted", date(2024, 10, 20), actor="rec", now=NOW)
    assert _due(archive, "2024-11-01") == {"p1", "p2"}
    actions = [r[0] for r in db.conn.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions[-2:] == ["request.logged", "request.granted"]


@pytest.fixture
def thread_archive(local_archive):
    """A post about the parade with two comments that do not say "parade", and another post."""
    a = local_archive()
    a.add_object("o1.warc.gz", [{"pid": "p1", "created": "2017-03-05T18:00:00Z", "text": "parade route"},
                                {"pid": "c1", "kind": "comment", "root": "p1", "dept": False,
                                 "created": "2017-03-05T19:00:00Z", "text": "my phone is 414-555-0100"},
                                {"pid": "c2", "kind": "comment", "root": "p1", "dept": False,
                                 "created": "2017-03-05T20:00:00Z", "text": "see you there"}])
    a.add_object("o2.warc.gz", [{"pid": "p2", "created": "2017-03-20T18:00:00Z", "text": "road closed"}])
    assign_new_items(a.db, a.settings, now=NOW)
    return a


def test_request_hold_covers_the_whole_thread_the_export_releases(thread_archive):
    db, settings = thread_archive.db, thread_archive.settings
    result = log_request(db, settings, "R-1", requester="J. Doe", received=date(2024, 10, 15),
                         description="posts about the parade", filters=make_query(text="parade"), actor="rec", now=NOW)
    assert result["items_held"] == 3  # the post and both comments: the bundle releases the whole thread
    assert _due(thread_archive, "2024-11-01") == {"p2"}
    # A comment on that thread captured later is held too, though it does not say "parade".
    thread_archive.add_object("o3.warc.gz", [{"pid": "c3", "kind": "comment", "root": "p1", "dept": False,
                                              "created": "2017-03-06T01:00:00Z", "text": "late reply"}])
    assert assign_new_items(db, settings, now=NOW)["newly_held"] == 1
    assert _due(thread_archive, "2024-11-01") == {"p2"}


def test_partly_denied_request_holds_the_withheld_part(thread_archive):
    db, settings = thread_archive.db, thread_archive.settings
    log_request(db, settings, "R-2", requester="J. Doe", received=date(2024, 10, 15),
                description="posts about the parade", filters=make_query(text="parade"), actor="rec", now=NOW)
    c1 = thread_archive.item("c1")
    with pytest.raises(RetentionError, match="not among the records"):
        close_request(db, settings, "R-2", "partly-denied", date(2024, 11, 1), withheld=[thread_archive.item("p2")],
                      actor="rec", now=NOW)
    closed = close_request(db, settings, "R-2", "partly-denied", date(2024, 11, 1), withheld=[c1], actor="rec",
                           now=NOW)
    assert closed == {"name": "R-2", "status": "partly-denied", "held_through": "2025-02-03", "withheld": 1}
    # The released part may go (it is due); the redacted comment is held 60 business days after the denial.
    assert _due(thread_archive, "2024-11-01") == {"p2"}  # c1 shares o1 with p1 and c2: the object stays
    blocked = plan_disposition(db, settings, date(2024, 11, 1))["blocked"]
    assert blocked == [{"key": "o1.warc.gz", "reasons": ["1 item: under hold request:R-2:withheld"]}]
    assert "c1" in {i["platform_id"] for o in plan_disposition(db, settings, date(2025, 2, 4))["objects"]
                    for i in o["items"]}
    listed = {r["name"]: r for r in list_requests(db)}
    assert listed["R-2"]["status"] == "partly-denied" and listed["R-2"]["held_through"] == "2025-02-03"
    assert listed["R-2"]["items"] == 1


def test_partly_denied_without_naming_the_withheld_part_holds_the_whole_scope(thread_archive):
    db, settings = thread_archive.db, thread_archive.settings
    log_request(db, settings, "R-3", requester="J. Doe", received=date(2024, 10, 15), description="parade",
                filters=make_query(text="parade"), actor="rec", now=NOW)
    closed = close_request(db, settings, "R-3", "partly-denied", date(2024, 11, 1), actor="rec", now=NOW)
    assert closed["held_through"] == "2025-02-03" and _due(thread_archive, "2025-02-03") == {"p2"}
    assert _due(thread_archive, "2025-02-04") == {"p1", "c1", "c2", "p2"}
