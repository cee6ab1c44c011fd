"""Retention enforced by the store itself (S3 Object Lock), so not even a bug here can destroy
a record early.

* Each stored object's retain-until is the latest disposition date of anything inside it
  (midnight, agency time, of that day), extended as dates move later and never shortened:
  ``Store.set_retention`` extends only, and this module asks only for later dates than the
  index already records. An item whose date is not known yet (an EVT series whose event has
  not happened, or a permanent series) counts as creation + ``storage.default_retain_years``
  -- a floor that is extended once the date is known.
* An object containing any item under an active hold gets an S3 legal hold; it is released
  only when no active hold needs it any more.

The index columns ``objects.retain_until`` / ``objects.legal_hold`` mirror what the store was
told. A store without Object Lock (the local directory) enforces nothing: retain_until stays
empty there, and the disposition planner's own checks are the only guard.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from ..errors import StoreError
from ..index.versions import first_seen
from ..sightings import item_record_links
from ..timefmt import iso, parse_platform_time, utcnow
from .dates import add_offset, local_day, today_in
from .holds import held_item_ids


def _midnight_utc(day: date, tz: str) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(tz)).astimezone(ZoneInfo("UTC"))


def _object_items(keys: list[str] | None) -> tuple[str, list[Any]]:
    """SQL of (object_key, rowid) for the items in each object (or each of ``keys``), and its
    parameters: the links of the item_objects view (``archiver.sightings.item_record_links``),
    walked from the objects' records through the record indexes of items, item_sightings,
    versions and media, so that the lock of the object just ingested costs what is in that
    object, not what is in the archive (and the whole archive costs less than through the
    view's UNION of every table)."""
    where, params = ("", []) if keys is None else (
        " WHERE object_key IN (SELECT value FROM json_each(?))", [json.dumps(keys)])
    return (f"WITH r AS (SELECT id, object_key FROM records{where or ' WHERE object_key IS NOT NULL'}) "
            + item_record_links("r.object_key, {item} AS rowid", walk_from="r"), params)


def wanted_retain_until(db, settings, keys: Iterable[str] | None = None) -> dict[str, date]:
    """For each object (or each of ``keys``): the day its content may first be destroyed."""
    floor_years = int(settings["storage.default_retain_years"])
    tz = settings.timezone
    links, params = _object_items(list(keys) if keys is not None else None)
    sql = (f"SELECT io.object_key, a.disposition_date, i.created_at, i.first_seen FROM ({links}) io"
           " JOIN items i ON i.rowid = io.rowid LEFT JOIN retention_items ai ON ai.item_rowid = i.rowid"
           " LEFT JOIN retention_rules a ON a.id = ai.rule_id")
    wanted: dict[str, date] = {}
    for key, disposal, created, first_seen in db.conn.execute(sql, params):
        if disposal:
            day = date.fromisoformat(disposal)
        else:
            start = local_day(created or first_seen, tz)
            if start is None:
                continue
            day = add_offset(start, years=floor_years)
        if key not in wanted or day > wanted[key]:
            wanted[key] = day
    for key, day in _edit_dates(db, settings, keys).items():
        if key in wanted and day > wanted[key]:
            wanted[key] = day
    return wanted


def _edit_dates(db, settings, keys: Iterable[str] | None) -> dict[str, date]:
    """Objects holding a later version (an edit) of an item: the day that version may go,
    counted from its own capture (``assign.version_trigger_day``) -- the lock follows the
    same rule as disposition. Edits are rare, so the schedule is read only when there are any."""
    where, params = ("", []) if keys is None else (
        " WHERE r.object_key IN (SELECT value FROM json_each(?))", [json.dumps(list(keys))])
    rows = db.conn.execute(
        f"SELECT r.object_key, i.id, a.series, MAX({first_seen()}) FROM records r"
        " JOIN versions v ON v.n >= 2 AND (v.record = r.id OR v.meta_record = r.id)"
        f" JOIN items i ON i.rowid = v.item_rowid JOIN retention_items ra ON ra.item_rowid = i.rowid"
        f" JOIN retention_rules a ON a.id = ra.rule_id{where}"
        " GROUP BY r.object_key, i.id", params).fetchall()
    if not rows:
        return {}
    from .assign import disposition_day, version_trigger_day
    from .schedule import load_schedule

    schedule, tz = load_schedule(settings), settings.timezone
    events: dict[str, dict[str, str]] = {}
    for item_id, event, day in db.conn.execute("SELECT item_id, event, date FROM retention_event_dates"):
        events.setdefault(item_id, {})[event] = day
    out: dict[str, date] = {}
    for key, item_id, code, captured in rows:
        series = schedule.series.get(code)
        if series is None:
            continue
        day = disposition_day(series, version_trigger_day(series, captured, schedule, tz, events.get(item_id, {})))
        if day and (key not in out or day > out[key]):
            out[key] = day
    return out


def held_object_keys(db, today: date, keys: list[str] | None = None) -> set[str]:
    """The objects (or those of ``keys``) holding an item under an active hold."""
    held = held_item_ids(db, today)
    if not held:
        return set()
    links, params = _object_items(keys)
    return {r[0] for r in db.conn.execute(
        f"SELECT DISTINCT io.object_key FROM ({links}) io JOIN items i ON i.rowid = io.rowid"
        " WHERE i.id IN (SELECT value FROM json_each(?))", (*params, json.dumps(sorted(held))))}


def sync_object_lock(db, store, settings, *, keys: Iterable[str] | None = None,
                     now: datetime | None = None) -> dict[str, Any]:
    """Bring the store's retain-until dates and legal holds in line with the index."""
    now = now or utcnow()
    tz = settings.timezone
    keys = list(keys) if keys is not None else None
    # A store without Object Lock takes no retain-until (set_retention answers None): nothing to work out.
    wanted = wanted_retain_until(db, settings, keys) if store.object_lock else {}
    held = held_object_keys(db, today_in(now, tz), keys)
    if keys is None:
        rows = db.conn.execute("SELECT key, retain_until, legal_hold FROM objects").fetchall()
    else:
        rows = db.conn.execute("SELECT key, retain_until, legal_hold FROM objects WHERE key IN"
                               " (SELECT value FROM json_each(?))", (json.dumps(keys),)).fetchall()
    summary = {"extended": 0, "holds_on": 0, "holds_off": 0, "errors": []}
    for key, current, hold in rows:
        try:
            if key in wanted:
                target = _midnight_utc(wanted[key], tz)
                known = parse_platform_time(current) if current else None
                if known is None or target > known:
                    in_force = store.set_retention(key, target)
                    if in_force is not None:
                        db.conn.execute("UPDATE objects SET retain_until = ? WHERE key = ?", (iso(in_force), key))
                        summary["extended"] += 1
            want_hold = key in held
            if want_hold != bool(hold):
                store.set_legal_hold(key, want_hold)
                db.conn.execute("UPDATE objects SET legal_hold = ? WHERE key = ?", (int(want_hold), key))
                summary["holds_on" if want_hold else "holds_off"] += 1
        except StoreError as exc:
            # One object's failure must not stop the others; the next sync retries it.
            summary["errors"].append(f"{key}: {exc}")
    return summary
