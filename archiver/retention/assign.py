"""Which series governs each item, and the day it may first be destroyed.

Order of precedence: an override the records officer recorded for the item, then the first
matching rule (archiver.toml ``[[rules]]`` before the schedule's own), then the schedule's
``default_series``. Every item in the index gets a row in ``retention_assignments``.

The loaded schedule is recorded in ``retention_schedules`` whenever its content changes; a
change is written to the audit log and recomputes every item's dates (issue 4, point 2).
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from typing import Any, Iterable, Mapping

from .. import audit
from ..errors import RetentionError
from ..index import transaction
from ..sightings import item_record_links
from ..timefmt import iso, utcnow
from .dates import add_offset, fiscal_year_end, local_day, today_in
from .holds import holds_on_item, refresh_hold_items
from .objectlock import sync_object_lock
from .schedule import Schedule, Series, load_schedule
from .selection import describe, matching_item_ids

SYSTEM = "archiver"
log = logging.getLogger("archiver.capture")
# What rules and trigger dates read of an item (ingest hands the items it creates over with these).
ITEM_FIELDS = ("rowid", "id", "platform", "account", "kind", "is_department", "created_at", "first_seen")


def record_schedule(db, schedule: Schedule, *, actor: str = SYSTEM, now: datetime | None = None) -> tuple[int, bool]:
    """(schedule id, changed): store the schedule's text when it differs from the last one."""
    now = now or utcnow()
    row = db.conn.execute("SELECT id, sha256 FROM retention_schedules ORDER BY id DESC LIMIT 1").fetchone()
    if row and row[1] == schedule.sha256:
        return row[0], False
    with transaction(db):
        sid = db.conn.execute(
            "INSERT INTO retention_schedules (name, source, sha256, content, placeholder, loaded_at) VALUES (?,?,?,?,?,?)",
            (schedule.name, schedule.source, schedule.sha256, schedule.text, int(schedule.placeholder), iso(now)),
        ).lastrowid
        audit.append(db, actor, "retention.schedule_changed" if row else "retention.schedule_loaded", {
            "schedule": schedule.name, "version": schedule.version, "source": schedule.source,
            "sha256": schedule.sha256, "previous_id": row[0] if row else None, "placeholder": schedule.placeholder,
        }, now=now)
    return sid, True


def trigger_day(series: Series, item: Mapping[str, Any], schedule: Schedule, tz: str,
                events: Mapping[str, str]) -> date | None:
    """The day the retention clock starts for this item, or None (event not yet recorded / PERM)."""
    created = local_day(item.get("created_at") or item.get("first_seen"), tz)
    if series.trigger == "CR":
        return created
    if series.trigger == "FIS":
        return fiscal_year_end(created, schedule.fiscal_year_start) if created else None
    if series.trigger == "EVT":
        recorded = events.get(series.event)
        return date.fromisoformat(recorded) if recorded else None
    return None  # PERM


def disposition_day(series: Series, trigger: date | None) -> date | None:
    if trigger is None or series.permanent:
        return None
    return add_offset(trigger, series.years, series.months, series.days)


def version_trigger_day(series: Series, captured: str | None, schedule: Schedule, tz: str,
                        events: Mapping[str, str]) -> date | None:
    """The day the clock starts for a *later version* of an item (an edit), first archived at
    ``captured`` (or edited then, where the platform reports the edit time).

    An edit is a record created when it was made, not when the post was: a comment of 2017
    edited in 2024 keeps its 2024 text for the full period from 2024 -- never only until
    2017 + 7 (Wis. Stat. 19.21(4)(b) sets a minimum). The item's own date still applies too;
    the caller keeps the later of the two. For an EVT series the clock cannot start before
    the edit existed either: the later of the event and the capture."""
    day = local_day(captured, tz)
    if series.trigger == "CR":
        return day
    if series.trigger == "FIS":
        return fiscal_year_end(day, schedule.fiscal_year_start) if day else None
    if series.trigger == "EVT":
        recorded = events.get(series.event)
        if not recorded:
            return None
        event = date.fromisoformat(recorded)
        return max(event, day) if day else event
    return None  # PERM


def later_due(item_due: str | None, version_due: date | None, has_edit: bool) -> str | None:
    """The day records of an item in one object may go: the item's own date, or the edit's
    when that is later. None (never / not known) when either is unknown."""
    if not has_edit:
        return item_due
    if item_due is None or version_due is None:
        return None
    return max(item_due, version_due.isoformat())


def choose_series(schedule: Schedule, item: Mapping[str, Any], override: str | None) -> tuple[Series, str, str]:
    """(series, source, rule label) for one item."""
    if override:
        return schedule.get(override), "override", "override"
    for rule in schedule.rules:
        if rule.matches(item):
            return schedule.get(rule.series), "rule", rule.label
    return schedule.get(schedule.default_series), "default", "default_series"


def assign_items(db, schedule: Schedule, schedule_id: int, tz: str, *, item_ids: Iterable[str] | None = None,
                 items: list[Mapping[str, Any]] | None = None, now: datetime | None = None) -> int:
    """(Re)compute the assignment of the given items (all when neither ``item_ids`` nor
    ``items``, the ITEM_FIELDS of items already in hand, is given); returns how many."""
    now = now or utcnow()
    params: list[Any] = []
    if items is not None:
        item_ids = [item["id"] for item in items]
    if item_ids is not None:
        ids = list(item_ids)
        if not ids:
            return 0
        params.append(_json(ids))
    if items is None:
        sql = f"SELECT {', '.join(ITEM_FIELDS)} FROM items"
        if params:
            sql += " WHERE id IN (SELECT value FROM json_each(?))"
        items = [dict(zip(ITEM_FIELDS, r)) for r in db.conn.execute(sql, params)]
    # Overrides and event dates of these items only (all of them when every item is recomputed).
    of_items = " WHERE item_id IN (SELECT value FROM json_each(?))" if params else ""
    overrides = dict(db.conn.execute(f"SELECT item_id, series FROM retention_overrides{of_items}", params))
    events: dict[str, dict[str, str]] = {}
    for item_id, event, day in db.conn.execute(f"SELECT item_id, event, date FROM retention_event_dates{of_items}",
                                               params):
        events.setdefault(item_id, {})[event] = day
    rows = []
    computed_at = iso(now)
    days: dict[tuple[str, date | None], tuple[str | None, str | None]] = {}  # a night's items share few days
    for item in items:
        series, source, label = choose_series(schedule, item, overrides.get(item["id"]))
        trigger = trigger_day(series, item, schedule, tz, events.get(item["id"], {}))
        day_key = (series.code, trigger)
        if day_key not in days:
            disposal = disposition_day(series, trigger)
            days[day_key] = (trigger.isoformat() if trigger else None, disposal.isoformat() if disposal else None)
        rows.append((item["rowid"], (series.code, source, label, *days[day_key])))
    with transaction(db):
        replaced = _rules_of(db.conn, [r[0] for r in rows] if params else None)
        # One retention_rules row per rule of this computation and the dates it gave
        # (m_retention_item_keys); an item's row says which.
        rule_ids = {rule: _rule_id(db.conn, *rule, schedule_id, computed_at) for rule in {r[1] for r in rows}}
        db.conn.executemany("INSERT OR REPLACE INTO retention_items (item_rowid, rule_id) VALUES (?,?)",
                            [(rowid, rule_ids[rule]) for rowid, rule in rows])
        if replaced - set(rule_ids.values()):
            prune_rules(db.conn)
    return len(rows)


def _rules_of(conn, rowids: list[int] | None) -> set[int]:
    """The rules the items (all when ``rowids`` is None) are assigned by now. A commit's new items
    have none, so the nightly path never prunes."""
    if rowids is None:
        return {r[0] for r in conn.execute("SELECT id FROM retention_rules")}
    return {r[0] for r in conn.execute("SELECT DISTINCT rule_id FROM retention_items"
                                       " WHERE item_rowid IN (SELECT value FROM json_each(?))", (_json(rowids),))}


def prune_rules(conn) -> int:
    """Delete the retention_rules rows no assignment refers to (a recompute, override or event
    date replaced them, or their items were destroyed); how many. One pass over retention_items:
    there is no index on rule_id, and the prune runs only after an item's rule was replaced."""
    return conn.execute("DELETE FROM retention_rules WHERE id NOT IN (SELECT rule_id FROM retention_items)").rowcount


def _rule_id(conn, series: str, source: str, rule: str, trigger: str | None, disposal: str | None,
             schedule_id: int, computed_at: str) -> int:
    key = (series, schedule_id, source, rule, computed_at, trigger, disposal)
    found = conn.execute("SELECT id FROM retention_rules WHERE series = ? AND schedule_id = ? AND source = ?"
                         " AND rule IS ? AND computed_at = ? AND trigger_date IS ? AND disposition_date IS ?",
                         key).fetchone()
    if found is None:
        found = conn.execute("INSERT INTO retention_rules (series, schedule_id, source, rule, computed_at, trigger_date,"
                             " disposition_date) VALUES (?,?,?,?,?,?,?) RETURNING id", key).fetchone()
    return found[0]


def _json(values) -> str:
    return json.dumps(list(values))


def unassigned_item_ids(db, key: str | None = None) -> list[str]:
    """Items without an assignment: all of them, or (``key``) among the items that got a version
    from the object's metadata records — every item an ingest creates does — so the look is
    proportional to the object, not to the archive. (Not ``items.record_id``: an item's
    response can be in the file before the one its metadata record is in.)"""
    if key is None:
        return [r[0] for r in db.conn.execute(
            "SELECT i.id FROM items i LEFT JOIN retention_items a ON a.item_rowid = i.rowid WHERE a.item_rowid IS NULL")]
    return [r[0] for r in db.conn.execute(
        "SELECT DISTINCT i.id FROM records r JOIN versions v ON v.meta_record = r.id"
        " JOIN items i ON i.rowid = v.item_rowid WHERE r.object_key = ? AND r.type = 'metadata'"
        " AND NOT EXISTS (SELECT 1 FROM retention_items a WHERE a.item_rowid = i.rowid)", (key,))]


def recompute(db, settings, *, actor: str = SYSTEM, store=None, now: datetime | None = None) -> dict[str, Any]:
    """Reload the schedule and recompute every item (``retention recompute``); recorded."""
    now = now or utcnow()
    schedule = load_schedule(settings)
    schedule_id, changed = record_schedule(db, schedule, actor=actor, now=now)
    count = assign_items(db, schedule, schedule_id, settings.timezone, now=now)
    audit.append(db, actor, "retention.recomputed", {"schedule_id": schedule_id, "items": count,
                                                     "schedule_changed": changed}, now=now)
    held = refresh_hold_items(db, settings.timezone, now=now)
    locks = sync_object_lock(db, store, settings, now=now) if store is not None else None
    return {"schedule": schedule.name, "schedule_id": schedule_id, "schedule_changed": changed,
            "items": count, "newly_held": held, "object_lock": locks}


def assign_new_items(db, settings, *, store=None, keys: Iterable[str] | None = None,
                     now: datetime | None = None) -> dict[str, Any]:
    """Give each item without an assignment its series and date, put it under any active hold
    it matches, and extend the object locks — of ``keys`` or else of the objects holding the new
    items. A changed schedule file recomputes everything instead. (Each commit does the same
    per object through ``AfterIngest``.)"""
    now = now or utcnow()
    schedule = load_schedule(settings)
    schedule_id, changed = record_schedule(db, schedule, now=now)
    new_ids = None if changed else unassigned_item_ids(db)
    count = assign_items(db, schedule, schedule_id, settings.timezone, item_ids=new_ids, now=now)
    held = refresh_hold_items(db, settings.timezone, item_ids=new_ids, now=now)
    locks = None
    if store is not None:
        if new_ids is None:
            keys = None
        elif keys is None:
            keys = objects_of(db, new_ids)
        locks = sync_object_lock(db, store, settings, keys=keys, now=now)
    return {"assigned": count, "schedule_changed": changed, "newly_held": held, "object_lock": locks}


class AfterIngest:
    """The retention step of every commit (``spool.commit_spool_file``, in collect or in its
    committer process), built once per process.

    ``indexed`` runs inside the ingest's transaction: the object's new items get their series,
    date and holds in the same commit as the items themselves, so a crash can never leave an
    item without an assignment, and a file costs one commit, not three. ``stored`` runs after
    it: the object gets the lock its contents need (new items, and new versions of old ones) —
    S3 calls are not made while holding the index's write lock.

    The schedule file is read once per process, and recorded in every commit's transaction (a
    lookup once it is there; a changed file recomputes every item). Until one commit of this
    process has gone through, each also assigns any item an older version left unassigned;
    after that, commits look only at the items of their own object."""

    def __init__(self, settings, store, now: datetime):
        self.settings, self.store, self.now = settings, store, now
        self.schedule: Schedule | None = None
        self.swept = False  # set once a commit with the archive-wide look has gone through

    def indexed(self, db, key: str, created: list[Mapping[str, Any]] | None = None) -> None:
        """``created``: the ITEM_FIELDS of the items this ingest created (``IngestStats.created``)."""
        if self.schedule is None:
            self.schedule = load_schedule(self.settings)
        # Recorded here, not once: a rolled-back commit takes the schedule's row with it.
        schedule_id, changed = record_schedule(db, self.schedule, now=self.now)
        items = None
        if changed:
            ids = None
        elif self.swept and created is not None:
            # After the sweep every item has its series from the commit that created it, so the
            # only ones without are those this ingest created: no need to look for them.
            items, ids = created, [item["id"] for item in created]
        else:
            ids = unassigned_item_ids(db, key if self.swept else None)
        assign_items(db, self.schedule, schedule_id, self.settings.timezone, item_ids=ids, items=items,
                     now=self.now)
        refresh_hold_items(db, self.settings.timezone, item_ids=ids, now=self.now)

    def stored(self, db, key: str) -> None:
        """After the commit: the object's lock."""
        self.swept = True
        if self.store is None:
            return
        result = sync_object_lock(db, self.store, self.settings, keys=[key], now=self.now)
        for error in result.get("errors", []):
            log.error("object lock: %s", error)


def objects_of(db, item_ids: Iterable[str]) -> list[str]:
    # The items' links alone, through each table's item key (item_objects reads every link).
    links = item_record_links("{record} AS record",
                              of_items="(SELECT rowid FROM items WHERE id IN (SELECT value FROM json_each(?1)))")
    return [r[0] for r in db.conn.execute(
        f"SELECT DISTINCT r.object_key FROM ({links}) link JOIN records r ON r.id = link.record"
        " WHERE r.object_key IS NOT NULL", (_json(item_ids),))]


def override(db, settings, filters: Mapping[str, Any], series: str | None, *, reason: str, actor: str,
             store=None, now: datetime | None = None) -> dict[str, Any]:
    """Put one item or a search result set under ``series`` (None: remove the override)."""
    now = now or utcnow()
    schedule = load_schedule(settings)
    if series is not None:
        schedule.get(series)  # refuses an unknown code before anything is written
    if not reason.strip():
        raise RetentionError("an override needs --reason (it is kept in the audit log)")
    schedule_id, _ = record_schedule(db, schedule, actor=actor, now=now)
    ids = matching_item_ids(db, filters, settings.timezone)
    if not ids:
        raise RetentionError(f"no item matches {describe(filters)}; nothing was overridden")
    with transaction(db):
        if series is None:
            db.conn.execute("DELETE FROM retention_overrides WHERE item_id IN (SELECT value FROM json_each(?))",
                            (_json(ids),))
        else:
            db.conn.executemany(
                "INSERT OR REPLACE INTO retention_overrides (item_id, series, reason, actor, at) VALUES (?,?,?,?,?)",
                [(i, series, reason, actor, iso(now)) for i in ids])
        audit.append(db, actor, "retention.override", {"series": series, "filters": dict(filters),
                                                       "items": len(ids), "reason": reason}, now=now)
        assign_items(db, schedule, schedule_id, settings.timezone, item_ids=ids, now=now)
    if store is not None:
        sync_object_lock(db, store, settings, keys=objects_of(db, ids), now=now)
    return {"series": series, "items": len(ids)}


def record_event(db, settings, filters: Mapping[str, Any], event: str, on: date, *, actor: str,
                 store=None, now: datetime | None = None) -> dict[str, Any]:
    """Record the day an EVT trigger happened ("case closed") for the selected items."""
    now = now or utcnow()
    ids = matching_item_ids(db, filters, settings.timezone)
    if not ids:
        raise RetentionError(f"no item matches {describe(filters)}; no event was recorded")
    schedule = load_schedule(settings)
    schedule_id, _ = record_schedule(db, schedule, actor=actor, now=now)
    with transaction(db):
        db.conn.executemany(
            "INSERT OR REPLACE INTO retention_event_dates (item_id, event, date, actor, at) VALUES (?,?,?,?,?)",
            [(i, event, on.isoformat(), actor, iso(now)) for i in ids])
        audit.append(db, actor, "retention.event", {"event": event, "date": on.isoformat(),
                                                    "filters": dict(filters), "items": len(ids)}, now=now)
        assign_items(db, schedule, schedule_id, settings.timezone, item_ids=ids, now=now)
    if store is not None:
        sync_object_lock(db, store, settings, keys=objects_of(db, ids), now=now)
    return {"event": event, "date": on.isoformat(), "items": len(ids)}


def retention_for_item(db, item_rowid: int, *, now: datetime | None = None, tz: str = "America/Chicago") -> dict[str, Any]:
    """What ``show ID`` prints about retention: series, dates, and the holds on the item."""
    row = db.conn.execute("SELECT id FROM items WHERE rowid = ?", (item_rowid,)).fetchone()
    if row is None:
        return {}
    item_id = row[0]
    a = db.conn.execute(
        "SELECT r.series, r.source, r.rule, r.trigger_date, r.disposition_date, s.name, s.placeholder, s.content"
        " FROM retention_items a JOIN retention_rules r ON r.id = a.rule_id"
        " LEFT JOIN retention_schedules s ON s.id = r.schedule_id WHERE a.item_rowid = ?",
        (item_rowid,)).fetchone()
    today = today_in(now or utcnow(), tz)
    holds = holds_on_item(db, item_id, today)
    if a is None:
        return {"series": None, "disposition_date": None, "holds": holds,
                "note": "not assigned yet: run `archiver retention recompute`"}
    series, source, rule, trigger, disposal, sched_name, placeholder, content = a
    from .schedule import parse_schedule

    citation = None
    if content:
        citation = parse_schedule(content, sched_name).series.get(series)
        citation = citation.citation if citation else None
    return {"series": series, "assigned_by": source, "rule": rule, "trigger_date": trigger,
            "disposition_date": disposal, "schedule": sched_name, "placeholder_schedule": bool(placeholder),
            "citation": citation, "holds": holds, "held": bool(holds)}


def show_section(db, settings, detail: Mapping[str, Any]) -> dict[str, Any]:
    """The retention part of ``archiver show ID`` (an entry for ``cli.core._show_extras``)."""
    row = db.conn.execute("SELECT rowid FROM items WHERE id = ?", (detail["item"]["id"],)).fetchone()
    return {"retention": retention_for_item(db, row[0], tz=settings.timezone) if row else {}}
