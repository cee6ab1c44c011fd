"""Assignment: rules, overrides, recompute on schedule change, and `show` data."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from archiver.audit import verify
from archiver.errors import RetentionError
from archiver.retention.assign import assign_new_items, override, recompute, record_event, retention_for_item
from archiver.retention.selection import make_query
from tests.retention.test_ret_schedule import GOOD

NOW = datetime(2018, 1, 10, 15, 0, tzinfo=timezone.utc)


def _assignments(archive):
    return {r[0]: r[1:] for r in archive.db.conn.execute(
        "SELECT i.platform_id, a.series, a.source, a.trigger_date, a.disposition_date FROM retention_assignments a"
        " JOIN items i ON i.id = a.item_id")}


@pytest.fixture
def archive(local_archive):
    a = local_archive(schedule=GOOD, rules='[[rules]]\nseries = "PD-SM-P"\naccount = "chief"\nkind = "post"\n')
    a.add_object("o1.warc.gz", [
        {"pid": "p1", "created": "2017-03-05T18:00:00Z"},
        {"pid": "c1", "kind": "comment", "dept": False, "created": "2017-03-06T04:30:00Z"},  # Mar 5, 10:30 pm CST
        {"pid": "p2", "created": "2016-02-29T12:00:00Z"},
    ])
    a.add_object("o2.warc.gz", [{"pid": "cp", "account": "chief", "created": "2017-05-01T12:00:00Z"}], account="chief")
    return a


def test_every_item_gets_a_series_and_date(archive):
    result = assign_new_items(archive.db, archive.settings, now=NOW)
    assert result["assigned"] == 4 and result["schedule_changed"]
    got = _assignments(archive)
    assert got["p1"] == ("PD-SM-01", "default", "2017-03-05", "2024-03-05")
    # public author -> PD-SM-02 (CR+3y6m); the creation day is the agency day, Mar 5
    assert got["c1"] == ("PD-SM-02", "rule", "2017-03-05", "2020-09-05")
    assert got["p2"] == ("PD-SM-01", "default", "2016-02-29", "2023-03-01")  # leap day rolls forward
    assert got["cp"] == ("PD-SM-P", "rule", None, None)  # archiver.toml rule, permanent
    # Nothing new: nothing recomputed.
    assert assign_new_items(archive.db, archive.settings, now=NOW)["assigned"] == 0


def test_override_one_item_and_a_result_set(archive):
    assign_new_items(archive.db, archive.settings, now=NOW)
    one = make_query(item_ids=[archive.item("p1")])
    assert override(archive.db, archive.settings, one, "PD-SM-02", reason="per city attorney", actor="rec",
                    now=NOW)["items"] == 1
    assert _assignments(archive)["p1"][:2] == ("PD-SM-02", "override")
    # A search result set: everything on the account in March 2017.
    filters = make_query(date_from="2017-03-01", date_to="2017-03-31", accounts=["ocpd-facebook"])
    assert override(archive.db, archive.settings, filters, "PD-SM-03", reason="incident", actor="rec",
                    now=NOW)["items"] == 2
    got = _assignments(archive)
    assert got["p1"] == ("PD-SM-03", "override", None, None) and got["c1"][0] == "PD-SM-03"
    record_event(archive.db, archive.settings, make_query(item_ids=[archive.item("p1")]), "case closed",
                 date(2019, 6, 30), actor="rec", now=NOW)
    assert _assignments(archive)["p1"] == ("PD-SM-03", "override", "2019-06-30", "2024-06-30")
    # An override survives a recompute; clearing it returns the item to the rules.
    recompute(archive.db, archive.settings, actor="rec", now=NOW)
    assert _assignments(archive)["p1"][0] == "PD-SM-03"
    override(archive.db, archive.settings, one, None, reason="back to the rules", actor="rec", now=NOW)
    assert _assignments(archive)["p1"][:2] == ("PD-SM-01", "default")
    with pytest.raises(RetentionError, match="not in schedule"):
        override(archive.db, archive.settings, one, "NOPE", reason="x", actor="rec", now=NOW)
    with pytest.raises(RetentionError, match="--reason"):
        override(archive.db, archive.settings, one, "PD-SM-01", reason=" ", actor="rec", now=NOW)
    actions = [r[0] for r in archive.db.conn.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions.count("retention.override") == 3 and "retention.event" in actions
    assert verify(archive.db) == []


def test_schedule_change_recomputes_and_is_recorded(archive):
    assign_new_items(archive.db, archive.settings, now=NOW)
    (archive.tmp / "agency-schedule.toml").write_text(GOOD.replace("offset = { years = 7 }", "offset = { years = 10 }"))
    result = assign_new_items(archive.db, archive.settings, now=NOW)
    assert result["schedule_changed"] and result["assigned"] == 4
    assert _assignments(archive)["p1"][3] == "2027-03-05"
    rows = archive.db.conn.execute("SELECT content FROM retention_schedules ORDER BY id").fetchall()
    assert len(rows) == 2 and "years = 10" in rows[1][0]  # every version kept, exactly as read
    actions = [r[0] for r in archive.db.conn.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["retention.schedule_loaded", "retention.schedule_changed"]


def test_retention_for_item(archive):
    assign_new_items(archive.db, archive.settings, now=NOW)
    rowid = archive.db.conn.execute("SELECT rowid FROM items WHERE platform_id = 'p1'").fetchone()[0]
    info = retention_for_item(archive.db, rowid, now=NOW)
    assert info["series"] == "PD-SM-01" and info["disposition_date"] == "2024-03-05"
    assert info["citation"] == "Wis. Stat. 19.21(4)(b)" and info["holds"] == [] and not info["placeholder_schedule"]
    # The web UI's "place legal hold on these results" and `show` both see it.
    from archiver.retention.assign import show_section
    from archiver.retention.holds import place_hold_from_web

    message = place_hold_from_web(archive.db, archive.settings, {"account": ["ocpd-facebook"], "kind": ["post"]},
                                  {"hold_name": "web-hold"}, actor="legal1", now=NOW)
    assert "2 item(s)" in message
    section = show_section(archive.db, archive.settings, {"item": {"id": archive.item("p1")}})["retention"]
    assert section["held"] and section["holds"][0]["name"] == "web-hold"


def test_assignments_written_one_row_per_item_migrate_to_items_and_rules(archive):
    """An index written before m_retention_rules (series, rule label and computation time in every
    item's row) migrates to the same assignments, with each rule kept once."""
    from archiver.index import open_index

    assign_new_items(archive.db, archive.settings, now=NOW)
    override(archive.db, archive.settings, make_query(item_ids=[archive.item("p2")]), "PD-SM-P", reason="case",
             actor="rec", now=NOW)
    conn = archive.db.conn
    before = conn.execute("SELECT * FROM retention_assignments ORDER BY item_id").fetchall()
    rules = {(r[1], r[2], r[3], r[4], r[7]) for r in before}
    assert len(before) == 4 and len(rules) == 4 and "override" in {r[3] for r in before}
    conn.executescript("""
        CREATE TABLE old AS SELECT * FROM retention_assignments;
        DROP VIEW retention_assignments;
        DROP TABLE retention_items;
        DROP TABLE retention_rules;
        CREATE TABLE retention_assignments (
            item_id TEXT PRIMARY KEY, series TEXT NOT NULL, schedule_id INTEGER NOT NULL, source TEXT NOT NULL,
            rule TEXT, trigger_date TEXT, disposition_date TEXT, computed_at TEXT NOT NULL);
        CREATE INDEX retention_assignments_due ON retention_assignments(disposition_date);
        INSERT INTO retention_assignments SELECT * FROM old;
        DROP TABLE old;
        DELETE FROM _sqlite_migrations WHERE name IN ('m_retention_rules', 'm_retention_item_keys');
    """)
    conn.close()
    migrated = open_index(archive.settings.index_path)
    assert migrated.conn.execute("SELECT * FROM retention_assignments ORDER BY item_id").fetchall() == before
    assert set(migrated.conn.execute("SELECT series, schedule_id, source, rule, computed_at FROM retention_rules")
               ) == rules


def _rules(archive) -> tuple[set, set]:
    """(the rules kept, the rules some assignment refers to), each with the dates it gave."""
    conn = archive.db.conn
    columns = "series, source, rule, computed_at, trigger_date, disposition_date"
    return set(conn.execute(f"SELECT {columns} FROM retention_rules")), \
        set(conn.execute(f"SELECT {columns} FROM retention_assignments"))


def test_rules_no_assignment_refers_to_are_pruned_where_assignments_are_replaced(archive):
    later = [datetime(2018, 2, day, tzinfo=timezone.utc) for day in (1, 2, 3)]
    archive.add_object("o3.warc.gz", [{"pid": "p3", "created": "2017-03-05T19:00:00Z"}])  # p1's day
    assign_new_items(archive.db, archive.settings, now=NOW)
    kept, used = _rules(archive)
    assert kept == used and len(kept) == 4  # p1 and p3: one series, one day, one row
    p1 = make_query(item_ids=[archive.item("p1")])
    override(archive.db, archive.settings, p1, "PD-SM-P", reason="case", actor="rec", now=later[0])
    kept, used = _rules(archive)
    assert kept == used and len(kept) == 5  # p3 still refers to the row p1 left
    override(archive.db, archive.settings, p1, None, reason="closed", actor="rec", now=later[1])
    kept, used = _rules(archive)
    assert kept == used and "override" not in {r[1] for r in kept}
    assert ("PD-SM-01", "default", "default_series", "2018-02-02T00:00:00Z", "2017-03-05", "2024-03-05") in kept
    recompute(archive.db, archive.settings, actor="rec", now=later[2])
    kept, used = _rules(archive)
    assert kept == used and {r[3] for r in kept} == {"2018-02-03T00:00:00Z"} and len(kept) == 4


def test_assignments_keyed_by_item_id_migrate_to_item_rowids(archive, tmp_path):
    """An index written before m_retention_item_keys (assignments keyed by the item's id with
    their dates, a due-date index, rules never pruned) migrates to what a fresh index holds."""
    from archiver.index import open_index

    assign_new_items(archive.db, archive.settings, now=NOW)
    override(archive.db, archive.settings, make_query(item_ids=[archive.item("p2")]), "PD-SM-P", reason="case",
             actor="rec", now=NOW)
    conn = archive.db.conn
    before = conn.execute("SELECT * FROM retention_assignments ORDER BY item_id").fetchall()
    rules = "SELECT series, schedule_id, source, rule, computed_at, trigger_date, disposition_date FROM retention_rules"
    rules_before = sorted(conn.execute(rules), key=repr)
    assert len(before) == 4 and len(rules_before) == 4
    conn.executescript("""
        DROP VIEW retention_assignments;
        CREATE TABLE keyed AS SELECT i.id AS item_id, r.series, r.schedule_id, r.source, r.rule, r.computed_at,
                                     r.trigger_date, r.disposition_date
            FROM retention_items a JOIN items i ON i.rowid = a.item_rowid JOIN retention_rules r ON r.id = a.rule_id;
        DROP TABLE retention_items;
        DROP TABLE retention_rules;
        CREATE TABLE retention_rules (
            id INTEGER PRIMARY KEY, series TEXT NOT NULL, schedule_id INTEGER NOT NULL, source TEXT NOT NULL,
            rule TEXT, computed_at TEXT NOT NULL, UNIQUE (series, schedule_id, source, rule, computed_at));
        INSERT INTO retention_rules (series, schedule_id, source, rule, computed_at)
            SELECT DISTINCT series, schedule_id, source, rule, computed_at FROM keyed;
        INSERT INTO retention_rules (series, schedule_id, source, rule, computed_at)
            VALUES ('PD-SM-02', 1, 'rule', 'an earlier computation', '2017-12-01T00:00:00Z');
        CREATE TABLE retention_items (
            item_id TEXT PRIMARY KEY, rule_id INTEGER NOT NULL REFERENCES retention_rules(id),
            trigger_date TEXT, disposition_date TEXT);
        INSERT INTO retention_items SELECT k.item_id, r.id, k.trigger_date, k.disposition_date FROM keyed k
            JOIN retention_rules r ON r.series = k.series AND r.schedule_id = k.schedule_id AND r.source = k.source
                 AND r.rule IS k.rule AND r.computed_at = k.computed_at
            ORDER BY k.item_id;
        DROP TABLE keyed;
        CREATE INDEX retention_items_due ON retention_items(disposition_date);
        CREATE VIEW retention_assignments AS
            SELECT a.item_id, r.series, r.schedule_id, r.source, r.rule, a.trigger_date, a.disposition_date,
                   r.computed_at
            FROM retention_items a JOIN retention_rules r ON r.id = a.rule_id;
        DELETE FROM _sqlite_migrations WHERE name = 'm_retention_item_keys';
    """)
    assert len(conn.execute("SELECT * FROM retention_rules").fetchall()) == 5  # four computed rules and a stale one
    conn.close()
    migrated = open_index(archive.settings.index_path).conn
    assert migrated.execute("SELECT * FROM retention_assignments ORDER BY item_id").fetchall() == before
    assert sorted(migrated.execute(rules), key=repr) == rules_before  # the stale one went
    schema = "SELECT type, name, sql FROM sqlite_master WHERE tbl_name LIKE 'retention_%' ORDER BY name"
    assert migrated.execute(schema).fetchall() == open_index(tmp_path / "fresh.db").conn.execute(schema).fetchall()
