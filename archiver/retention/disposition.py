"""Disposition: plan -> Historical Society notice -> wait -> approve -> apply (default: dry run).

* ``make_plan`` lists what is eligible on a day and why (``eligibility``), grouped by stored
  object, and records the plan.
* ``send_notice`` writes the Historical Society letter for every ``notify`` series in a plan
  (19.21(4)(a): at least 60 days' written notice; WHS wants the series title, the years
  covered, the volume and a contact -- domain.md B2). 19.21 is outside ss. 19.33-19.39, so
  the 60 days are calendar days, not 19.345 business days. ``record_reply`` records WHS's
  answer: ``declined`` or ``waived`` lets destruction proceed from the reply date,
  ``accepted`` (WHS wants the records) blocks it.
* ``approve_plan`` records who approved it. ``apply_plan`` re-checks everything on the day it
  runs -- holds, dates, notices, Object Lock -- and destroys only what still passes.

Consistency with the store: each object is written to ``disposition_objects`` as *pending*
before the store is asked to delete it; only after the store confirms the object is gone is
it removed from the index (tombstones kept) in one transaction. A refused delete (Object
Lock, legal hold, permissions) leaves the index untouched; a crash in between is completed by
the next apply, which looks at the store rather than assuming.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from .. import audit
from ..errors import RetentionError, StoreError, WarcError
from ..index import transaction
from ..index.versions import hash_hex
from ..progress import report as report_progress
from ..sightings import VersionBodies, fold_sighting, item_record_links
from ..timefmt import iso, utcnow
from .archived import check_object, officer_decisions
from .assign import record_schedule
from .certificate import build_certificate, write_certificate
from .dates import today_in
from .eligibility import evaluate
from .holds import refresh_hold_items
from .schedule import Schedule, load_schedule

# 19.21(4)(a): "at least 60 days' notice in writing" to the Historical Society (calendar days).
WHS_NOTICE_DAYS = 60
REPLIES = ("declined", "waived", "accepted")
# The subsection that requires the notice depends on who keeps the records (domain.md B1):
# cities, villages and towns 19.21(4)(a); counties -- a county sheriff's office -- 19.21(5)(d),
# the provision the Historical Society itself cites for counties. Chosen by archive.agency_type.
NOTICE_CITATION = {"municipal": "Wis. Stat. 19.21(4)(a)", "county": "Wis. Stat. 19.21(5)(d)"}


def notice_citation(settings) -> str:
    kind = settings["archive.agency_type"]
    if kind not in NOTICE_CITATION:
        raise RetentionError(f"archive.agency_type {kind!r} is not one of {', '.join(NOTICE_CITATION)} "
                             "(set it in [archive] of archiver.toml)")
    return NOTICE_CITATION[kind]


def placeholder_refusal(schedule: Schedule) -> str:
    """The error for destroying under the shipped placeholder: what to do instead."""
    return (f"the schedule in force ({schedule.name}, from {schedule.source}) is marked placeholder: it is not "
            "a records schedule your governing body adopted, and nothing is destroyed under it. Install the "
            "adopted schedule: copy the shipped file (`archiver retention show` names it), enter the adopted "
            "series, periods, notice flags and citations, delete the line `placeholder = true`, set "
            "`schedule = \"/path/to/adopted.toml\"` under [retention] in archiver.toml, run "
            "`archiver retention recompute`, then make, notice and approve a new plan (`archiver dispose plan`)")


def _series_summary(schedule: Schedule, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per series: distinct items (an item with versions in three objects is one item) and the
    objects holding them."""
    summary: dict[str, dict[str, Any]] = {}
    for obj in objects:
        for item in obj["items"]:
            s = schedule.series[item["series"]]
            row = summary.setdefault(s.code, {"series": s.code, "title": s.title, "notation": s.notation,
                                              "disposition": s.disposition, "whs_notice": s.whs_notice,
                                              "citation": s.citation, "items": set(), "objects": set(),
                                              "first_created": None, "last_created": None})
            row["items"].add(item["id"])
            row["objects"].add(obj["key"])
            created = (item["created_at"] or "")[:10] or None
            if created:
                row["first_created"] = min(filter(None, [row["first_created"], created]))
                row["last_created"] = max(filter(None, [row["last_created"], created]))
    for row in summary.values():
        row["objects"], row["items"] = len(row["objects"]), len(row["items"])
    return [summary[k] for k in sorted(summary)]


def distinct_items(objects: list[dict[str, Any]]) -> int:
    return len({i["id"] for o in objects for i in o["items"]})


def plan_disposition(db, settings, as_of: date, *, now: datetime | None = None) -> dict[str, Any]:
    """What may be destroyed on ``as_of`` (pure: writes nothing)."""
    schedule = load_schedule(settings)
    result = evaluate(db, schedule, as_of, settings.timezone)
    eligible = result["eligible"]
    series = _series_summary(schedule, eligible)
    for row in series:
        row["notice"] = notice_status(db, schedule, row["series"], as_of)
    return {
        "as_of": as_of.isoformat(),
        "schedule": {"name": schedule.name, "version": schedule.version, "sha256": schedule.sha256,
                     "placeholder": schedule.placeholder, "authority": schedule.authority},
        "objects": [_public(o) for o in eligible],
        "blocked": [{"key": o["key"], "reasons": o["reasons"]} for o in result["blocked"]],
        "series": series,
        "totals": {"objects": len(eligible), "items": distinct_items(eligible),
                   "bytes": sum(o["size"] or 0 for o in eligible), "held_back": len(result["blocked"])},
    }


def notice_status(db, schedule: Schedule, series_code: str, as_of: date) -> str:
    """For the plan: whether the Historical Society notice of a series is still needed."""
    series = schedule.series[series_code]
    if series.whs_notice == "waived":
        return "not needed: the schedule waives notice for this series"
    rows = db.conn.execute("SELECT letter_date, not_before, reply, reply_date FROM whs_notices WHERE series = ?"
                           " AND covers_through >= ? ORDER BY id", (series_code, as_of.isoformat())).fetchall()
    if not rows:
        return "needed: no notice sent yet (`archiver dispose notice --plan N`)"
    letter, not_before, reply, reply_date = rows[-1]
    if reply:
        return f"sent {letter}; the Society replied {reply} on {reply_date}"
    return f"sent {letter}; no reply yet: destruction from {not_before}"


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {"key": obj["key"], "sha256": obj["sha256"], "size": obj["size"], "account": obj["account"],
            "items": [{k: i[k] for k in ("id", "platform", "account", "kind", "platform_id", "created_at", "series",
                                         "trigger_date", "disposition_date", "hash")} for i in obj["items"]]}


def make_plan(db, settings, as_of: date, *, actor: str, now: datetime | None = None) -> dict[str, Any]:
    """Compute and record a plan (``dispose plan``); returns it with its id."""
    now = now or utcnow()
    schedule = load_schedule(settings)
    schedule_id, _ = record_schedule(db, schedule, actor=actor, now=now)
    refresh_hold_items(db, settings.timezone, now=now)
    plan = plan_disposition(db, settings, as_of, now=now)
    with transaction(db):
        plan_id = db.conn.execute(
            "INSERT INTO disposition_plans (created_at, created_by, as_of, schedule_id, status, detail)"
            " VALUES (?,?,?,?,?,?)", (iso(now), actor, as_of.isoformat(), schedule_id, "planned", json.dumps(plan)),
        ).lastrowid
        audit.append(db, actor, "disposition.planned", {"plan": plan_id, "as_of": as_of.isoformat(),
                                                        **plan["totals"]}, now=now)
    return {"plan": plan_id, **plan}


def _load_plan(db, plan_id: int) -> dict[str, Any]:
    row = db.conn.execute("SELECT id, status, approved_by, approved_at, detail, as_of FROM disposition_plans"
                          " WHERE id = ?", (plan_id,)).fetchone()
    if row is None:
        raise RetentionError(f"no disposition plan {plan_id} (make one with `archiver dispose plan --as-of DATE`)")
    return {"id": row[0], "status": row[1], "approved_by": row[2], "approved_at": row[3],
            "detail": json.loads(row[4]), "as_of": row[5]}


def send_notice(db, settings, plan_id: int, letter_date: date, *, contact: str, actor: str,
                now: datetime | None = None) -> dict[str, Any]:
    """Record the WHS notice for each ``notify`` series of a plan; returns the letter data
    (render it with ``certificate.render_notice``)."""
    now = now or utcnow()
    plan = _load_plan(db, plan_id)
    series = [s for s in plan["detail"]["series"] if s["whs_notice"] == "notify"]
    if not series:
        raise RetentionError(f"plan {plan_id} has no series that needs Historical Society notice")
    not_before = letter_date + timedelta(days=WHS_NOTICE_DAYS)
    citation = notice_citation(settings)
    with transaction(db):
        for s in series:
            detail = {"title": s["title"], "years": [s["first_created"], s["last_created"]], "items": s["items"],
                      "objects": s["objects"], "contact": contact, "citation": citation}
            db.conn.execute(
                "INSERT INTO whs_notices (plan_id, series, letter_date, covers_through, not_before, detail,"
                " recorded_by, recorded_at) VALUES (?,?,?,?,?,?,?,?)",
                (plan_id, s["series"], letter_date.isoformat(), plan["as_of"], not_before.isoformat(),
                 json.dumps(detail), actor, iso(now)))
        audit.append(db, actor, "disposition.notice", {"plan": plan_id, "letter_date": letter_date.isoformat(),
                                                       "series": [s["series"] for s in series],
                                                       "not_before": not_before.isoformat()}, now=now)
    bytes_by_series = _bytes_by_series(plan["detail"])
    return {"plan": plan_id, "letter_date": letter_date.isoformat(), "not_before": not_before.isoformat(),
            "agency": settings.agency, "custodian": settings["archive.custodian_name"],
            "custodian_title": settings["archive.custodian_title"], "contact": contact, "citation": citation,
            "series": [dict(s, bytes=bytes_by_series.get(s["series"], 0)) for s in series]}


def _bytes_by_series(plan: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for obj in plan["objects"]:
        for code in {i["series"] for i in obj["items"]}:
            out[code] = out.get(code, 0) + (obj["size"] or 0)
    return out


def record_reply(db, series: str, reply: str, reply_date: date, *, actor: str, now: datetime | None = None) -> int:
    """Record the Historical Society's reply on the open notices of ``series``."""
    now = now or utcnow()
    if reply not in REPLIES:
        raise RetentionError(f"a reply is one of {', '.join(REPLIES)}")
    with transaction(db):
        cur = db.conn.execute("UPDATE whs_notices SET reply = ?, reply_date = ? WHERE series = ? AND reply IS NULL"
                              " AND letter_date <= ?", (reply, reply_date.isoformat(), series, reply_date.isoformat()))
        if cur.rowcount == 0:
            raise RetentionError(f"no notice awaiting a reply for series {series!r} sent on or before {reply_date}")
        audit.append(db, actor, "disposition.notice_reply", {"series": series, "reply": reply,
                                                             "date": reply_date.isoformat()}, now=now)
    return cur.rowcount


def notice_block(db, schedule: Schedule, series_code: str, disposition_date: str, today: date) -> str | None:
    """Why the Historical Society notice rule stops destruction today (None: it does not)."""
    series = schedule.series[series_code]
    if series.whs_notice == "waived":
        return None
    rows = db.conn.execute("SELECT letter_date, not_before, reply, reply_date FROM whs_notices WHERE series = ?"
                           " AND covers_through >= ? ORDER BY id", (series_code, disposition_date)).fetchall()
    if not rows:
        return f"no Historical Society notice sent for {series_code} (`archiver dispose notice`)"
    for letter, not_before, reply, reply_date in rows:
        if reply == "accepted":
            return f"the Historical Society asked for {series_code} (reply of {reply_date}): transfer, do not destroy"
        if reply in ("declined", "waived") and reply_date <= today.isoformat():
            return None
        if not_before <= today.isoformat():
            return None
    return f"Historical Society notice of {rows[-1][0]} runs until {rows[-1][1]} (60 days' written notice)"


def approve_plan(db, plan_id: int, *, approver: str, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    plan = _load_plan(db, plan_id)
    if plan["status"] != "planned":
        raise RetentionError(f"plan {plan_id} is {plan['status']}; only a new plan can be approved")
    if not approver.strip():
        raise RetentionError("an approval needs the approver's name (--by)")
    with transaction(db):
        db.conn.execute("UPDATE disposition_plans SET status = 'approved', approved_by = ?, approved_at = ?"
                        " WHERE id = ?", (approver, iso(now), plan_id))
        audit.append(db, approver, "disposition.approved", {"plan": plan_id, **plan["detail"]["totals"]}, now=now)
    return {"plan": plan_id, "approved_by": approver, "approved_at": iso(now)}


def check_plan(db, settings, plan_id: int, *, store=None, now: datetime | None = None) -> dict[str, Any]:
    """What ``apply`` would do today: {"destroy": [object...], "refuse": [{key, reasons}]}.
    With ``store``, each object the index allows is also checked against its archived records."""
    now = now or utcnow()
    plan = _load_plan(db, plan_id)
    if plan["status"] != "approved":
        raise RetentionError(f"plan {plan_id} is {plan['status']}: it must be approved (`archiver dispose approve`)")
    today = today_in(now, settings.timezone)
    schedule = load_schedule(settings)
    refresh_hold_items(db, settings.timezone, now=now)
    planned = {o["key"]: o for o in plan["detail"]["objects"]}
    current = evaluate(db, schedule, today, settings.timezone, keys=list(planned))
    destroy, refuse = [], []
    for obj in current["blocked"]:
        refuse.append({"key": obj["key"], "reasons": obj["reasons"]})
    seen = {o["key"] for o in current["eligible"]} | {o["key"] for o in current["blocked"]}
    gone = {r[0] for r in db.conn.execute("SELECT key FROM object_tombstones WHERE key IN (SELECT value FROM"
                                          " json_each(?))", (json.dumps(sorted(planned)),))}
    for key in sorted(set(planned) - seen - gone):
        refuse.append({"key": key, "reasons": ["no longer in the index or no longer due"]})
    overrides, events = officer_decisions(db)
    for obj in current["eligible"]:
        reasons = []
        if obj["sha256"] != planned[obj["key"]]["sha256"]:
            reasons.append("the object changed since the plan")
        for code, disposal in sorted({(i["series"], i["disposition_date"]) for i in obj["items"]}):
            block = notice_block(db, schedule, code, disposal, today)
            if block:
                reasons.append(block)
        if not reasons and store is not None:
            # The index said yes; the archived records themselves must agree (archived.py).
            reasons += check_object(store, obj["key"], obj["items"], schedule, settings.timezone, today.isoformat(),
                                    overrides=overrides, events=events)
        if reasons:
            refuse.append({"key": obj["key"], "reasons": sorted(set(reasons))})
        else:
            destroy.append(obj)
    return {"plan": plan, "schedule": schedule, "destroy": destroy, "refuse": refuse, "today": today}


def apply_plan(db, store, settings, plan_id: int, *, actor: str, confirm: bool = False,
               out_dir: Path | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Destroy what an approved plan still allows today. Without ``confirm`` nothing is
    touched and the result says what would happen (the default: a dry run)."""
    now = now or utcnow()
    check = check_plan(db, settings, plan_id, store=store, now=now)
    if confirm and check["schedule"].placeholder:
        raise RetentionError(placeholder_refusal(check["schedule"]))
    pending = [r[0] for r in db.conn.execute("SELECT object_key FROM disposition_objects WHERE state = 'pending'")]
    dry = {"plan": plan_id, "dry_run": True, "pending_from_interrupted_run": pending,
           "placeholder": check["schedule"].placeholder,
           "would_destroy": [{"key": o["key"], "sha256": o["sha256"], "items": len(o["items"])} for o in check["destroy"]],
           "refused": check["refuse"]}
    if not confirm:
        return dry
    if not check["destroy"] and not pending:
        # Nothing may go today: no disposition, no empty certificate.
        return {**dry, "dry_run": False, "disposition": None, "status": "nothing", "destroyed": [],
                "certificate": None, "files": [], "store_refused": [], "recovered": []}
    with transaction(db):
        disposition_id = db.conn.execute(
            "INSERT INTO dispositions (plan_id, started_at, applied_by, status) VALUES (?,?,?,?)",
            (plan_id, iso(now), actor, "running")).lastrowid
    # Objects a crashed run deleted from the store are finished first and certified here.
    destroyed = recover_interrupted(db, store, check["schedule"], disposition_id, now=now)
    recovered = [o["key"] for o in destroyed]
    if recovered:
        check = check_plan(db, settings, plan_id, store=store, now=now)
    refused, store_refused = list(check["refuse"]), []
    for obj in check["destroy"]:
        report_progress("objects", advance=1, total=len(check["destroy"]), label=obj["key"])
        outcome = _destroy_object(db, store, check["schedule"], disposition_id, obj, now)
        if outcome is None:
            destroyed.append(obj)
        else:
            refused.append({"key": obj["key"], "reasons": [outcome]})
            store_refused.append(obj["key"])
    cert = build_certificate(db, settings, check, disposition_id, destroyed, refused, actor=actor, now=now)
    status = "done" if not store_refused else "partial"
    with transaction(db):
        db.conn.execute("UPDATE dispositions SET finished_at = ?, status = ?, certificate = ?, certificate_sha256 = ?"
                        " WHERE id = ?", (iso(now), status, cert["json"], cert["sha256"], disposition_id))
        # A plan stays approved while some of its objects wait (notice period, a refused delete):
        # applying it again later destroys what has become allowed by then.
        if not check["refuse"] and not store_refused:
            db.conn.execute("UPDATE disposition_plans SET status = 'applied' WHERE id = ?", (plan_id,))
        audit.append(db, actor, "disposition.applied", {
            "plan": plan_id, "disposition": disposition_id, "objects_destroyed": len(destroyed),
            "items_destroyed": distinct_items(destroyed), "refused": len(refused),
            "recovered": recovered, "certificate_sha256": cert["sha256"]}, now=now)
    # The certificate is in the index (and hashed in the audit log) before any file is written,
    # so a PDF renderer failure cannot lose the record of what was destroyed.
    files = write_certificate(cert["data"], cert["json"], out_dir) if out_dir is not None else ()
    return {"plan": plan_id, "dry_run": False, "disposition": disposition_id, "status": status,
            "destroyed": [o["key"] for o in destroyed], "refused": refused, "certificate": cert["data"],
            "certificate_json": cert["json"], "files": [str(f) for f in files], "recovered": recovered,
            "store_refused": store_refused}


def _destroy_object(db, store, schedule: Schedule, disposition_id: int, obj: dict[str, Any],
                    now: datetime) -> str | None:
    """Delete one object from the store, then from the index. Returns why it was refused, or None."""
    snapshot = json.dumps({"key": obj["key"], "sha256": obj["sha256"], "size": obj["size"], "items": obj["items"]})
    try:
        with transaction(db):
            keep_version_bodies(db, store, obj["key"])
            db.conn.execute("INSERT INTO disposition_objects (disposition_id, object_key, state, at, detail)"
                            " VALUES (?,?,?,?,?)", (disposition_id, obj["key"], "pending", iso(now), snapshot))
    except WarcError as exc:
        with transaction(db):
            db.conn.execute("INSERT INTO disposition_objects (disposition_id, object_key, state, message, at, detail)"
                            " VALUES (?,?,?,?,?,?)", (disposition_id, obj["key"], "refused",
                                                      f"a version kept elsewhere cannot be read from it: {exc}",
                                                      iso(now), snapshot))
        return str(exc)
    try:
        store.delete(obj["key"])
        if store.exists(obj["key"]):
            raise StoreError(f"the store still has {obj['key']} after deleting it")
    except StoreError as exc:
        with transaction(db):
            db.conn.execute("UPDATE disposition_objects SET state = 'refused', message = ? WHERE disposition_id = ?"
                            " AND object_key = ?", (str(exc), disposition_id, obj["key"]))
        return str(exc)
    with transaction(db):
        removed = remove_object_from_index(db, schedule, obj["key"], disposition_id, now)
        audit.append(db, "archiver", "disposition.object_destroyed", {
            "disposition": disposition_id, "key": obj["key"], "sha256": obj["sha256"],
            "items": [i["id"] for i in obj["items"]], "items_removed": removed}, now=now)
        db.conn.execute("UPDATE disposition_objects SET state = 'destroyed' WHERE disposition_id = ? AND object_key = ?",
                        (disposition_id, obj["key"]))
    return None


def recover_interrupted(db, store, schedule: Schedule, disposition_id: int, *,
                        now: datetime | None = None) -> list[dict[str, Any]]:
    """Finish objects a crashed apply left *pending*: gone from the store -> removed from the
    index now, under ``disposition_id`` (returned, as they were, for its certificate); still
    in the store -> marked refused (the index was never touched)."""
    now = now or utcnow()
    finished = []
    pending = db.conn.execute("SELECT disposition_id, object_key, detail FROM disposition_objects"
                              " WHERE state = 'pending'").fetchall()
    for old_id, key, detail in pending:
        with transaction(db):
            if store.exists(key):
                state, message = "refused", "interrupted before the store deleted it"
            else:
                if db.conn.execute("SELECT 1 FROM objects WHERE key = ?", (key,)).fetchone():
                    remove_object_from_index(db, schedule, key, disposition_id, now)
                db.conn.execute("INSERT INTO disposition_objects (disposition_id, object_key, state, message, at,"
                                " detail) VALUES (?,?,?,?,?,?)", (disposition_id, key, "destroyed",
                                                                  f"completed for disposition {old_id}", iso(now), detail))
                state, message = "destroyed", f"completed by disposition {disposition_id}"
                finished.append(json.loads(detail))
            db.conn.execute("UPDATE disposition_objects SET state = ?, message = ? WHERE disposition_id = ? AND"
                            " object_key = ?", (state, message, old_id, key))
            db.conn.execute("UPDATE dispositions SET status = 'interrupted' WHERE id = ? AND status = 'running'",
                            (old_id,))
    return finished


def keep_version_bodies(db, store, key: str) -> int:
    """Before ``key`` leaves the store: copy into the index the content and native JSON of
    every version that outlives it but was reported by one of its ``items/1`` records (the
    version's own response is in another object, which stays). The index keeps no copy of a
    version's body otherwise (``archiver.sightings.VersionBodies``), so without this the
    version would keep its dates and hash but lose what it said. Caller holds the
    transaction; ``WarcError`` if such a record cannot be read. Returns the versions kept."""
    conn = db.conn
    rows = conn.execute(
        f"SELECT v.item_rowid, v.n, {hash_hex()}, m.record_id, i.platform_id, v.content, v.native FROM versions v"
        " JOIN items i ON i.rowid = v.item_rowid JOIN records m ON m.id = v.meta_record"
        " WHERE m.object_key = ? AND (v.content IS NULL OR v.native IS NULL) AND (v.record IS NULL OR"
        " v.record NOT IN (SELECT id FROM records WHERE object_key = ?))", (key, key)).fetchall()
    bodies = VersionBodies(conn, store)
    for rowid, n, digest, meta_id, platform_id, content, native in rows:
        body = bodies.get(meta_id, platform_id, digest) or {}
        conn.execute("UPDATE versions SET content = ?, native = ? WHERE item_rowid = ? AND n = ?",
                     (content if content is not None else body.get("content"),
                      native if native is not None else body.get("native"), rowid, n))
    return len(rows)


def remove_object_from_index(db, schedule: Schedule, key: str, disposition_id: int, now: datetime) -> list[str]:
    """Remove an object the store no longer has, its records, and every version/media that
    lived in it; items left with no version are deleted and tombstoned. Caller holds the
    transaction. Returns the ids of the items removed entirely."""
    conn = db.conn
    keys = json.dumps([r[0] for r in conn.execute("SELECT id FROM records WHERE object_key = ?", (key,))])
    in_obj = "(SELECT value FROM json_each(?))"
    # The items it holds, walked from its records through their indexes (not item_objects: the
    # view reads every link of the archive to find one object's).
    affected = [r[0] for r in conn.execute(
        "WITH r AS (SELECT id FROM records WHERE object_key = ?) SELECT DISTINCT item_rowid FROM"
        f" ({item_record_links('{item} AS item_rowid', walk_from='r')}) ORDER BY item_rowid", (key,))]
    conn.execute(f"DELETE FROM media WHERE record IN {in_obj}", (keys,))
    last_hash = {r[0]: r[1] for r in conn.execute(
        f"SELECT v.item_rowid, {hash_hex()} FROM versions v WHERE v.record IN {in_obj} ORDER BY v.n", (keys,))}
    conn.execute(f"DELETE FROM versions WHERE record IN {in_obj}", (keys,))
    conn.execute(f"UPDATE versions SET meta_record = NULL WHERE meta_record IN {in_obj}", (keys,))
    conn.execute(f"UPDATE events SET record = NULL WHERE record IN {in_obj}", (keys,))
    removed = []
    for rowid in affected:
        latest = conn.execute("SELECT n, text, record FROM versions WHERE item_rowid = ? ORDER BY n DESC LIMIT 1",
                              (rowid,)).fetchone()
        if latest is None:
            removed.append(_tombstone_item(conn, schedule, rowid, last_hash.get(rowid), disposition_id, now))
            continue
        n, text, record = latest
        fold_sighting(conn, rowid)  # the latest sighting is the row's own, to be checked below
        conn.execute(
            f"UPDATE items SET versions = ?, text = CASE WHEN versions > ? THEN ? ELSE text END,"
            f" record = CASE WHEN record IN {in_obj} THEN ? ELSE record END WHERE rowid = ?",
            (n, n, text, keys, record, rowid))
    conn.execute("DELETE FROM records WHERE object_key = ?", (key,))
    obj = conn.execute("SELECT sha256, size FROM objects WHERE key = ?", (key,)).fetchone()
    conn.execute("DELETE FROM objects WHERE key = ?", (key,))
    conn.execute("INSERT OR REPLACE INTO object_tombstones (key, sha256, size, destroyed_at, disposition_id)"
                 " VALUES (?,?,?,?,?)", (key, obj[0], obj[1], iso(now), disposition_id))
    return removed


def _tombstone_item(conn, schedule: Schedule, rowid: int, last_hash: str | None, disposition_id: int,
                    now: datetime) -> str:
    item = conn.execute("SELECT i.id, i.platform, i.account, i.platform_id, i.kind, i.created_at, r.series,"
                        " r.disposition_date FROM items i LEFT JOIN retention_items a ON a.item_rowid = i.rowid"
                        " LEFT JOIN retention_rules r ON r.id = a.rule_id"
                        " WHERE i.rowid = ?", (rowid,)).fetchone()
    item_id, series = item[0], item[6]
    authority = schedule.series[series].citation if series in schedule.series else schedule.authority
    conn.execute("INSERT OR REPLACE INTO tombstones (item_id, platform, account, platform_id, kind, created_at, hash,"
                 " series, disposition_date, destroyed_at, authority, disposition_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                 (*item[:6], last_hash, series, item[7], iso(now), authority, disposition_id))
    for table in ("events", "media", "item_sightings", "retention_items"):
        conn.execute(f"DELETE FROM {table} WHERE item_rowid = ?", (rowid,))
    for table in ("retention_overrides", "retention_event_dates"):
        conn.execute(f"DELETE FROM {table} WHERE item_id = ?", (item_id,))
    conn.execute("DELETE FROM items WHERE rowid = ?", (rowid,))
    return item_id
