"""Legal holds and 19.35(5) records-request holds keep records out of every plan."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from archiver.errors import RetentionError
from archiver.retention.assign import assign_new_items, retention_for_item
from archiver.retention.disposition import plan_disposition
from archiver.retention.holds import add_hold, close_request, list_holds, log_request, release_hold
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
