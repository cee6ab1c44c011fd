"""plan -> notice -> wait -> approve -> apply on a local store, with a certificate listing
exactly what disappeared; nothing held or not yet due is ever destroyed; a refused delete
leaves the index consistent with the store."""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timezone

import pytest
from pypdf import PdfReader

from archiver.audit import verify
from archiver.errors import ObjectLockedError, RetentionError
from archiver.retention.assign import assign_new_items
from archiver.retention.certificate import write_notice
from archiver.retention.disposition import apply_plan, approve_plan, make_plan, record_reply, send_notice
from archiver.retention.holds import add_hold
from archiver.retention.selection import make_query
from archiver.store import LocalStore
from tests.helpers import pdftotext
from tests.retention.conftest import adopted_schedule


def at(day: str, hour: int = 15) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=timezone.utc)


def _noticed_and_approved(archive) -> dict:
    """A plan for 2024-04-01, with its WHS letter of 2024-04-02 (wait ends 2024-06-01), approved."""
    db, settings = archive.db, archive.settings
    plan = make_plan(db, settings, date(2024, 4, 1), actor="rec", now=at("2024-04-01"))
    send_notice(db, settings, plan["plan"], date(2024, 4, 2), contact="Pat", actor="rec", now=at("2024-04-02"))
    approve_plan(db, plan["plan"], approver="Chief", now=at("2024-04-03"))
    return plan


class RefusingStore(LocalStore):
    """A local store whose filesystem refuses to delete some keys (as a WORM mount would)."""

    refuse: set[str] = set()

    def delete(self, key):
        if key in self.refuse:
            raise ObjectLockedError(f"the filesystem refused to delete {key}")
        super().delete(key)


@pytest.fixture
def archive(local_archive, tmp_path):
    a = local_archive(schedule=adopted_schedule())  # the shipped series, adopted: CR+7, notify
    a.store = RefusingStore(tmp_path / "store")
    a.add_object("2017/o1.warc.gz", [{"pid": "p1", "created": "2017-03-05T18:00:00Z"},
                                     {"pid": "c1", "kind": "comment", "dept": False, "created": "2017-03-06T02:00:00Z"}])
    a.add_object("2017/o2.warc.gz", [{"pid": "p3", "created": "2017-03-10T12:00:00Z"},
                                     {"pid": "p4", "created": "2020-01-01T12:00:00Z"}])       # p4 not due
    a.add_object("2017/o3.warc.gz", [{"pid": "p5", "created": "2017-04-01T12:00:00Z"}])       # held
    a.add_object("2017/o4.warc.gz", [{"pid": "p6", "created": "2017-02-01T12:00:00Z"}])       # store refuses
    a.add_object("2017/o5.warc.gz", [{"pid": "p1", "created": "2017-03-05T18:00:00Z", "text": "p1 edited"}])
    a.add_object("2017/o6.warc.gz", [{"pid": "p7", "created": "2017-01-15T12:00:00Z"}])
    a.add_object("2020/o7.warc.gz", [{"pid": "p7", "created": "2017-01-15T12:00:00Z", "text": "p7 v2"},
                                     {"pid": "p8", "created": "2020-01-02T12:00:00Z"}])       # keeps p7 alive
    assign_new_items(a.db, a.settings, now=at("2020-02-01"))
    add_hold(a.db, a.settings, "smith-v-city", "Smith v. City, 24-CV-1", make_query(item_ids=[a.item("p5")]),
             actor="counsel", now=at("2020-02-01"))
    return a


def test_plan_lists_only_whole_due_unheld_objects(archive):
    plan = make_plan(archive.db, archive.settings, date(2024, 4, 1), actor="rec", now=at("2024-04-01"))
    assert [o["key"] for o in plan["objects"]] == ["2017/o1.warc.gz", "2017/o4.warc.gz", "2017/o5.warc.gz",
                                                   "2017/o6.warc.gz"]
    blocked = {b["key"]: " ".join(b["reasons"]) for b in plan["blocked"]}
    assert blocked["2017/o2.warc.gz"] == "1 item: not due until 2027-01-01 (WI-SM-DEFAULT CR+7)"
    assert blocked["2017/o3.warc.gz"] == "1 item: under hold smith-v-city"
    assert "2020/o7.warc.gz" in blocked  # p7 is due, p8 is not
    assert plan["series"][0]["series"] == "WI-SM-DEFAULT" and plan["series"][0]["whs_notice"] == "notify"
    assert plan["schedule"]["placeholder"] is False
    # One day earlier, o1 is not due yet (c1 was created Mar 5 in Chicago, due 2024-03-05)
    early = make_plan(archive.db, archive.settings, date(2024, 3, 4), actor="rec", now=at("2024-03-04"))
    assert "2017/o1.warc.gz" not in [o["key"] for o in early["objects"]]


def test_full_cycle_with_certificate(archive, tmp_path):
    db, settings, store = archive.db, archive.settings, archive.store
    store.refuse = {"2017/o4.warc.gz"}
    plan = make_plan(db, settings, date(2024, 4, 1), actor="rec", now=at("2024-04-01"))
    with pytest.raises(RetentionError, match="must be approved"):
        apply_plan(db, store, settings, plan["plan"], actor="rec", confirm=True, now=at("2024-04-02"))
    letter = send_notice(db, settings, plan["plan"], date(2024, 4, 2), contact="Pat Records, 414-555-0100",
                         actor="rec", now=at("2024-04-02"))
    assert letter["not_before"] == "2024-06-01"  # 60 calendar days (19.21 is outside 19.345)
    html, pdf = write_notice(letter, tmp_path / "letters")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.read_bytes())).pages)
    assert "19.21(4)(a)" in text and "WI-SM-DEFAULT" in text and "2017" in text and "Pat Records" in text
    approve_plan(db, plan["plan"], approver="Chief A. Example", now=at("2024-04-03"))

    # Day 59: the notice period still runs -> nothing is destroyed, even with --yes.
    early = apply_plan(db, store, settings, plan["plan"], actor="rec", confirm=True, now=at("2024-05-31"))
    assert early["destroyed"] == [] and early["disposition"] is None
    assert all("runs until 2024-06-01" in " ".join(r["reasons"]) for r in early["refused"])
    assert archive.store_keys() == archive.index_keys() and len(archive.index_keys()) == 7

    # Day 60, without confirmation: a dry run.
    dry = apply_plan(db, store, settings, plan["plan"], actor="rec", now=at("2024-06-01"))
    assert dry["dry_run"] and len(dry["would_destroy"]) == 4 and len(archive.store_keys()) == 7

    result = apply_plan(db, store, settings, plan["plan"], actor="rec", confirm=True, out_dir=tmp_path / "cert",
                        now=at("2024-06-01"))
    gone = {"2017/o1.warc.gz", "2017/o5.warc.gz", "2017/o6.warc.gz"}
    assert set(result["destroyed"]) == gone and result["store_refused"] == ["2017/o4.warc.gz"]
    assert result["status"] == "partial"
    # The index agrees with the store: the refused object and its item are still in both.
    assert archive.store_keys() == archive.index_keys()
    assert archive.index_keys() == {"2017/o2.warc.gz", "2017/o3.warc.gz", "2017/o4.warc.gz", "2020/o7.warc.gz"}
    remaining = {r[0] for r in db.conn.execute("SELECT platform_id FROM items")}
    assert remaining == {"p3", "p4", "p5", "p6", "p7", "p8"}
    assert db.conn.execute("SELECT count(*) FROM records WHERE object_key IN ('2017/o1.warc.gz','2017/o5.warc.gz',"
                           "'2017/o6.warc.gz')").fetchone()[0] == 0
    # p7 lost its first version only; it lives on in o7 with its later version.
    p7 = db.conn.execute("SELECT versions, text FROM items WHERE platform_id = 'p7'").fetchone()
    assert p7 == (2, "p7 v2")
    assert db.conn.execute("SELECT n FROM versions v JOIN items i ON i.rowid = v.item_rowid"
                           " WHERE i.platform_id = 'p7'").fetchall() == [(2,)]
    # Full text search forgets destroyed items.
    assert db.conn.execute("SELECT count(*) FROM items_fts WHERE items_fts MATCH 'edited'").fetchone()[0] == 0
    tombs = {r[0]: r[1:] for r in db.conn.execute("SELECT platform_id, series, authority, hash, destroyed_at"
                                                  " FROM tombstones")}
    assert set(tombs) == {"p1", "c1"}
    assert tombs["p1"][0] == "WI-SM-DEFAULT" and "19.21(4)(b)" in tombs["p1"][1] and len(tombs["p1"][2]) == 64

    cert = json.loads((tmp_path / "cert" / f"certificate-of-destruction-{result['disposition']}.json").read_text())
    assert cert == result["certificate"]
    assert {o["key"] for o in cert["objects"]} == gone
    listed = {(o["key"], i["platform_id"]) for o in cert["objects"] for i in o["items"]}
    assert listed == {("2017/o1.warc.gz", "p1"), ("2017/o1.warc.gz", "c1"), ("2017/o5.warc.gz", "p1"),
                      ("2017/o6.warc.gz", "p7")}
    assert all(len(o["sha256"]) == 64 and all(len(i["sha256"]) == 64 for i in o["items"]) for o in cert["objects"])
    assert cert["approved_by"] == "Chief A. Example" and cert["applied_by"] == "rec"
    assert cert["schedule"]["name"] == "oak-creek-pd" and cert["schedule"]["placeholder"] is False
    assert "19.21(4)(b)" in cert["series"][0]["citation"]
    assert [n["key"] for n in cert["not_destroyed"]] == ["2017/o4.warc.gz"]
    pdf_text = "".join(p.extract_text() for p in PdfReader(str(tmp_path / "cert" / f"certificate-of-destruction-"
                                                                   f"{result['disposition']}.pdf")).pages)
    for key in gone:
        assert key in pdf_text
    flat = "".join(pdf_text.split())  # long hashes wrap inside table cells
    assert archive.item("c1") in flat and "ChiefA.Example" in flat
    assert all(i["sha256"] in flat for o in cert["objects"] for i in o["items"])

    # Once the store lets go, applying the same plan again destroys the rest -- and nothing else.
    store.refuse = set()
    again = apply_plan(db, store, settings, plan["plan"], actor="rec", confirm=True, now=at("2024-06-02"))
    assert again["destroyed"] == ["2017/o4.warc.gz"] and again["status"] == "done"
    assert [o["key"] for o in again["certificate"]["objects"]] == ["2017/o4.warc.gz"]
    assert archive.store_keys() == archive.index_keys() == {"2017/o2.warc.gz", "2017/o3.warc.gz", "2020/o7.warc.gz"}
    actions = [r[0] for r in db.conn.execute("SELECT action FROM audit_log ORDER BY id")]
    for action in ("hold.placed", "disposition.planned", "disposition.notice", "disposition.approved",
                   "disposition.object_destroyed", "disposition.applied"):
        assert action in actions
    assert verify(db) == []


def test_reply_from_the_historical_society_ends_the_wait(archive):
    db, settings, store = archive.db, archive.settings, archive.store
    plan = _noticed_and_approved(archive)
    record_reply(db, "WI-SM-DEFAULT", "declined", date(2024, 4, 20), actor="rec", now=at("2024-04-22"))
    result = apply_plan(db, store, settings, plan["plan"], actor="rec", confirm=True, now=at("2024-04-22"))
    assert len(result["destroyed"]) == 4


def test_accepted_by_the_society_is_never_destroyed(archive):
    db, settings, store = archive.db, archive.settings, archive.store
    plan = _noticed_and_approved(archive)
    record_reply(db, "WI-SM-DEFAULT", "accepted", date(2024, 4, 20), actor="rec", now=at("2024-04-22"))
    result = apply_plan(db, store, settings, plan["plan"], actor="rec", confirm=True, now=at("2024-09-01"))
    assert result["destroyed"] == [] and len(archive.store_keys()) == 7


def test_a_hold_placed_after_approval_still_wins(archive):
    db, settings, store = archive.db, archive.settings, archive.store
    plan = _noticed_and_approved(archive)
    add_hold(db, settings, "late", "Late matter", make_query(date_from="2017-03-05", date_to="2017-03-05"),
             actor="counsel", now=at("2024-05-15"))
    result = apply_plan(db, store, settings, plan["plan"], actor="rec", confirm=True, now=at("2024-06-01"))
    assert set(result["destroyed"]) == {"2017/o4.warc.gz", "2017/o6.warc.gz"}
    assert {"2017/o1.warc.gz", "2017/o5.warc.gz"} <= archive.store_keys()
    held = {r[0] for r in db.conn.execute("SELECT platform_id FROM items")}
    assert {"p1", "c1"} <= held


def test_interrupted_apply_is_completed_from_the_store(archive):
    """A crash after the store deleted an object but before the index was updated."""
    from archiver.retention import disposition

    db, settings, store = archive.db, archive.settings, archive.store
    plan = _noticed_and_approved(archive)
    real = disposition.remove_object_from_index

    def crash(*args, **kw):
        raise KeyboardInterrupt("power cut")

    disposition.remove_object_from_index = crash
    try:
        with pytest.raises(KeyboardInterrupt):
            apply_plan(db, store, settings, plan["plan"], actor="rec", confirm=True, now=at("2024-06-01"))
    finally:
        disposition.remove_object_from_index = real
    assert "2017/o1.warc.gz" not in archive.store_keys() and "2017/o1.warc.gz" in archive.index_keys()
    result = apply_plan(db, store, settings, plan["plan"], actor="rec", confirm=True, now=at("2024-06-02"))
    assert result["recovered"] == ["2017/o1.warc.gz"]
    assert archive.store_keys() == archive.index_keys()
    # The object the crashed run deleted is on this run's certificate, with its items.
    certified = {o["key"]: {i["platform_id"] for i in o["items"]} for o in result["certificate"]["objects"]}
    assert certified["2017/o1.warc.gz"] == {"p1", "c1"} and len(certified) == 4
    statuses = [r[0] for r in db.conn.execute("SELECT status FROM dispositions ORDER BY id")]
    assert statuses == ["interrupted", "done"]


def test_plan_lists_objects_held_back_and_whether_notice_is_needed(archive):
    db, settings = archive.db, archive.settings
    plan = make_plan(db, settings, date(2024, 4, 1), actor="rec", now=at("2024-04-01"))
    assert plan["totals"]["held_back"] == 3 and {b["key"] for b in plan["blocked"]} == {
        "2017/o2.warc.gz", "2017/o3.warc.gz", "2020/o7.warc.gz"}
    assert plan["series"][0]["notice"].startswith("needed: no notice sent yet")
    send_notice(db, settings, plan["plan"], date(2024, 4, 2), contact="Pat", actor="rec", now=at("2024-04-02"))
    again = make_plan(db, settings, date(2024, 4, 1), actor="rec", now=at("2024-04-03"))
    assert again["series"][0]["notice"] == "sent 2024-04-02; no reply yet: destruction from 2024-06-01"


def test_counts_are_of_distinct_items_in_plan_notice_and_certificate(archive, tmp_path):
    """p1 has versions in o1 and o5: one item, two objects -- not two records."""
    db, settings, store = archive.db, archive.settings, archive.store
    plan = make_plan(db, settings, date(2024, 4, 1), actor="rec", now=at("2024-04-01"))
    assert plan["totals"]["objects"] == 4 and plan["totals"]["items"] == 4  # p1, c1, p6, p7 (5 item-object pairs)
    assert plan["series"][0]["items"] == 4 and plan["series"][0]["objects"] == 4
    letter = send_notice(db, settings, plan["plan"], date(2024, 4, 2), contact="Pat Records", actor="rec",
                         now=at("2024-04-02"))
    _, pdf = write_notice(letter, tmp_path / "letters")
    text = pdftotext(pdf)
    assert "4 social media items (posts, comments and replies, each with all its archived versions) in 4 " \
           "web-archive (WARC) files" in text
    assert "electronic records" not in text and "5 social" not in text
    assert text.startswith("April 2, 2024") and "not be destroyed before June 1, 2024" in text


def test_certificate_pdf_has_real_values_and_the_historical_society_evidence(archive, tmp_path):
    db, settings, store = archive.db, archive.settings, archive.store
    plan = make_plan(db, settings, date(2024, 4, 1), actor="rec", now=at("2024-04-01"))
    send_notice(db, settings, plan["plan"], date(2024, 4, 2), contact="Pat", actor="rec", now=at("2024-04-02"))
    record_reply(db, "WI-SM-DEFAULT", "declined", date(2024, 4, 20), actor="rec", now=at("2024-04-22"))
    approve_plan(db, plan["plan"], approver="Chief A. Example", now=at("2024-04-23"))
    store.refuse = {"2017/o4.warc.gz"}
    result = apply_plan(db, store, settings, plan["plan"], actor="rec", confirm=True, out_dir=tmp_path / "cert",
                        now=at("2024-04-24"))
    text = pdftotext(tmp_path / "cert" / f"certificate-of-destruction-{result['disposition']}.pdf")
    assert "built-in method" not in text and "<" not in text
    # o1 (p1, c1), o5 (p1), o6 (p7): three distinct items; p7 keeps a version in o7, so two are gone entirely.
    assert "3 stored object(s) (WARC files)" in text and "holding records of 3 distinct item(s)" in text
    assert "2 of them no longer exist anywhere in the archive" in text
    flat = "".join(text.split())  # table cells wrap
    notice = flat[flat.index("NoticetotheWisconsinHistoricalSociety"):flat.index("Storedobjectsanditemsdestroyed")]
    for value in ("19.21(4)", "2024-04-02", "2024-06-01", "declined", "2024-04-20"):
        assert value in notice, (value, notice)
    assert "authority: Ordinance 24-101" in text and "adopted by Wis. Stat" not in text
    authority = flat[flat.index("Authority"):flat.index("NoticetotheWisconsinHistoricalSociety")]
    assert "CR+7" in authority and "destroy" in authority and "required" in authority
    assert result["certificate"]["series"][0]["item_count"] == 3
    cert = result["certificate"]
    assert cert["totals"] == {"objects": 3, "item_count": 3, "items_removed": 2, "bytes": cert["totals"]["bytes"]}
    assert cert["notices"] == [{"series": "WI-SM-DEFAULT", "citation": "Wis. Stat. 19.21(4)(a)",
                                "letter_date": "2024-04-02", "not_before": "2024-06-01", "reply": "declined",
                                "reply_date": "2024-04-20"}]


def test_county_agency_cites_19_21_5_d(local_archive, tmp_path):
    a = local_archive(schedule=adopted_schedule())
    settings = write_county(tmp_path)
    a.settings = settings
    a.add_object("o1.warc.gz", [{"pid": "p1", "created": "2010-03-05T18:00:00Z"}])
    assign_new_items(a.db, settings, now=at("2020-02-01"))
    plan = make_plan(a.db, settings, date(2024, 4, 1), actor="rec", now=at("2024-04-01"))
    letter = send_notice(a.db, settings, plan["plan"], date(2024, 4, 2), contact="Pat", actor="rec",
                         now=at("2024-04-02"))
    _, pdf = write_notice(letter, tmp_path / "letters")
    text = pdftotext(pdf)
    assert "Notice of intent to destroy obsolete public records (Wis. Stat. 19.21(5)(d))" in text
    assert "In accordance with Wis. Stat. 19.21(5)(d)," in text


def write_county(tmp_path):
    from archiver.config import load_settings

    cfg = tmp_path / "archiver.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("[archive]\n", '[archive]\nagency_type = "county"\n', 1),
                   encoding="utf-8")
    return load_settings(cfg, environ={})


def test_no_destruction_under_the_placeholder_schedule(local_archive, tmp_path):
    a = local_archive()  # the shipped placeholder
    a.add_object("o1.warc.gz", [{"pid": "p1", "created": "2010-03-05T18:00:00Z"}])
    assign_new_items(a.db, a.settings, now=at("2020-02-01"))
    plan = make_plan(a.db, a.settings, date(2024, 4, 1), actor="rec", now=at("2024-04-01"))
    send_notice(a.db, a.settings, plan["plan"], date(2024, 4, 2), contact="Pat", actor="rec", now=at("2024-04-02"))
    record_reply(a.db, "WI-SM-DEFAULT", "waived", date(2024, 4, 9), actor="rec", now=at("2024-04-10"))
    approve_plan(a.db, plan["plan"], approver="Chief", now=at("2024-04-10"))
    dry = apply_plan(a.db, a.store, a.settings, plan["plan"], actor="rec", now=at("2024-04-11"))
    assert dry["placeholder"] and [o["key"] for o in dry["would_destroy"]] == ["o1.warc.gz"]
    with pytest.raises(RetentionError, match="placeholder") as err:
        apply_plan(a.db, a.store, a.settings, plan["plan"], actor="rec", confirm=True, now=at("2024-04-11"))
    assert "[retention]" in str(err.value) and "placeholder = true" in str(err.value)
    assert a.store_keys() == {"o1.warc.gz"} == a.index_keys()


def test_an_edit_is_kept_its_period_from_its_own_capture(local_archive):
    """A 2017 post edited (first archived) in 2023: the object with the edit is kept until 2030,
    not destroyed in 2024 with the 2017 original."""
    a = local_archive(schedule=adopted_schedule())
    a.add_object("2017.warc.gz", [{"pid": "p1", "created": "2017-01-10T12:00:00Z"}])
    a.add_object("2023.warc.gz", [{"pid": "p1", "created": "2017-01-10T12:00:00Z", "text": "corrected",
                                   "captured": "2023-06-01T12:00:00Z"}])
    assign_new_items(a.db, a.settings, now=at("2023-06-02"))
    plan = make_plan(a.db, a.settings, date(2024, 6, 1), actor="rec", now=at("2024-06-01"))
    assert [o["key"] for o in plan["objects"]] == ["2017.warc.gz"]
    blocked = {b["key"]: b["reasons"] for b in plan["blocked"]}
    assert blocked["2023.warc.gz"] == ["1 item: not due until 2030-06-01 (WI-SM-DEFAULT CR+7) "
                                       "(an edit first archived 2023-06-01)"]
    later = make_plan(a.db, a.settings, date(2030, 6, 1), actor="rec", now=at("2030-06-01"))
    assert [o["key"] for o in later["objects"]] == ["2017.warc.gz", "2023.warc.gz"]


def test_an_edited_index_never_makes_a_record_destroyable_early(archive):
    """Someone edits index.db by hand: p4 (created 2020, due 2027) made to look due. The plan
    believes the index; apply reads the archived records and keeps the object."""
    import sqlite3

    db, settings, store = archive.db, archive.settings, archive.store
    edit = sqlite3.connect(archive.settings.index_path)
    p4 = archive.item("p4")
    edit.execute("UPDATE items SET created_at = '2001-01-01T00:00:00Z' WHERE id = ?", (p4,))
    p4_rowid = "(SELECT rowid FROM items WHERE id = ?)"
    edit.execute("INSERT INTO retention_rules (series, schedule_id, source, rule, computed_at, trigger_date,"
                 " disposition_date) SELECT series, schedule_id, source, rule, computed_at, '2001-01-01', '2008-01-01'"
                 f" FROM retention_rules WHERE id = (SELECT rule_id FROM retention_items WHERE item_rowid = {p4_rowid})",
                 (p4,))
    edit.execute(f"UPDATE retention_items SET rule_id = last_insert_rowid() WHERE item_rowid = {p4_rowid}", (p4,))
    edit.execute("UPDATE objects SET retain_until = NULL")
    edit.commit()
    edit.close()
    plan = _noticed_and_approved(archive)
    assert "2017/o2.warc.gz" in [o["key"] for o in plan["objects"]]  # the index was fooled
    result = apply_plan(db, store, settings, plan["plan"], actor="rec", confirm=True, now=at("2024-06-01"))
    refused = {r["key"]: " ".join(r["reasons"]) for r in result["refused"]}
    assert f"item {p4}: not due until 2027-01-01 by its archived records; the index said 2008-01-01" \
        in refused["2017/o2.warc.gz"]
    assert "2017/o2.warc.gz" in archive.store_keys() and "2017/o2.warc.gz" not in result["destroyed"]
    assert {"2017/o1.warc.gz", "2017/o4.warc.gz", "2017/o5.warc.gz", "2017/o6.warc.gz"} == set(result["destroyed"])
