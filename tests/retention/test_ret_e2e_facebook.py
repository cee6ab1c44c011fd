"""End to end: capture a Facebook page from the simulator, then hold, plan, notify, approve
and dispose of it; the certificate lists every item that disappeared."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from archiver.capture import collect
from archiver.config import load_settings
from archiver.index import open_index
from archiver.replay.facebook import FacebookSimulator
from archiver.replay.samples import facebook_next_night, facebook_sample
from archiver.retention.assign import assign_new_items, recompute
from archiver.retention.disposition import apply_plan, approve_plan, make_plan, record_reply, send_notice
from archiver.retention.holds import add_hold, release_hold
from archiver.retention.selection import make_query
from archiver.store import open_store
from tests.retention.conftest import adopted_schedule
from tests.retention.test_ret_schedule import GOOD

TOKEN = "EAAGtestPAGEtoken"
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


def test_capture_then_dispose(replay, make_config, tmp_path):
    sim = FacebookSimulator("1000001", "Oak Creek Police Department", token=TOKEN)
    base = replay.mount(sim)
    facebook_sample(sim, NOW - timedelta(days=1))
    schedule = tmp_path / "adopted.toml"
    schedule.write_text(adopted_schedule(), encoding="utf-8")
    cfg = make_config([{"name": "ocpd-facebook", "platform": "facebook", "id": "1000001", "token_env": "FB_TOKEN",
                        "api_base": f"{base}/{sim.version}"}], extra=f'[retention]\nschedule = "{schedule}"\n')
    settings = load_settings(cfg, environ={})
    assert collect(settings, environ={"FB_TOKEN": TOKEN}, now=NOW).ok
    facebook_next_night(sim, NOW)
    assert collect(settings, environ={"FB_TOKEN": TOKEN}, now=NOW + timedelta(days=1)).ok

    db, store = open_index(settings.index_path), open_store(settings)
    # collect assigns every new item itself (its after-ingest hook); a second pass finds nothing to do.
    assert assign_new_items(db, settings, store=store, now=NOW + timedelta(days=1))["assigned"] == 0
    items = {r[0]: r[1] for r in db.conn.execute("SELECT id, kind FROM items")}
    unassigned = db.conn.execute("SELECT count(*) FROM items i LEFT JOIN retention_assignments a ON a.item_id = i.id"
                                 " WHERE a.item_id IS NULL").fetchone()[0]
    assert unassigned == 0 and len(items) > 10
    comment = next(i for i, k in items.items() if k == "comment")
    add_hold(db, settings, "claim", "Claim", make_query(item_ids=[comment]), actor="counsel", store=store,
             now=NOW + timedelta(days=2))

    later = NOW + timedelta(days=365 * 8)
    held_plan = make_plan(db, settings, later.date(), actor="rec", now=later)
    held_keys = {o["key"] for o in held_plan["objects"]}
    # Every object holding a record of the held comment stays out of the plan.
    comment_objects = {r[0] for r in db.conn.execute("SELECT object_key FROM item_objects WHERE item_id = ?", (comment,))}
    assert comment_objects and not (comment_objects & held_keys)

    release_hold(db, settings, "claim", actor="counsel", store=store, now=later)
    plan = make_plan(db, settings, later.date(), actor="rec", now=later)
    objects = {r[0] for r in db.conn.execute("SELECT key FROM objects")}
    assert {o["key"] for o in plan["objects"]} == objects
    send_notice(db, settings, plan["plan"], later.date(), contact="Records", actor="rec", now=later)
    record_reply(db, "WI-SM-DEFAULT", "waived", later.date() + timedelta(days=10), actor="rec", now=later)
    approve_plan(db, plan["plan"], approver="Chief", now=later)
    result = apply_plan(db, store, settings, plan["plan"], actor="rec", confirm=True, out_dir=tmp_path / "cert",
                        now=later + timedelta(days=11))
    assert result["status"] == "done" and set(result["destroyed"]) == objects
    assert list(store.list("warcs/")) == []  # the journal stays: it records the destruction
    assert db.conn.execute("SELECT count(*) FROM items").fetchone()[0] == 0
    tombstones = {r[0] for r in db.conn.execute("SELECT item_id FROM tombstones")}
    certified = {i["id"] for o in result["certificate"]["objects"] for i in o["items"]}
    assert tombstones == certified == set(items)
    assert db.conn.execute("SELECT count(*) FROM records").fetchone()[0] == 0


def test_items_committed_file_by_file_get_what_a_recompute_gives(replay, make_config, tmp_path):
    # Four items to a file: the worker's first commit assigns archive-wide, every later one
    # assigns only what its ingest created (IngestStats.created) -- the two must agree.
    sim = FacebookSimulator("1000001", "Oak Creek Police Department", token=TOKEN)
    base = replay.mount(sim)
    facebook_sample(sim, NOW - timedelta(days=1))
    schedule = tmp_path / "agency-schedule.toml"
    schedule.write_text(GOOD, encoding="utf-8")  # department posts, public comments, replies: three series
    cfg = make_config([{"name": "ocpd-facebook", "platform": "facebook", "id": "1000001", "token_env": "FB_TOKEN",
                        "api_base": f"{base}/{sim.version}"}],
                      extra=f'commit_items = 4\n[retention]\nschedule = "{schedule}"\n'
                            '[[rules]]\nseries = "PD-SM-P"\nkind = "reply"\n')
    settings = load_settings(cfg, environ={})
    assert collect(settings, environ={"FB_TOKEN": TOKEN}, now=NOW).ok
    facebook_next_night(sim, NOW)
    assert collect(settings, environ={"FB_TOKEN": TOKEN}, now=NOW + timedelta(days=1)).ok

    db = open_index(settings.index_path)
    assert db.conn.execute("SELECT count(*) FROM objects").fetchone()[0] > 4

    def assignments():
        return sorted(db.conn.execute(
            "SELECT i.platform_id, a.series, a.source, a.rule, a.trigger_date, a.disposition_date FROM items i"
            " LEFT JOIN retention_assignments a ON a.item_id = i.id"))

    committed = assignments()
    assert {row[1] for row in committed} == {"PD-SM-01", "PD-SM-02", "PD-SM-P"}
    recompute(db, settings, now=NOW + timedelta(days=1))
    assert assignments() == committed
