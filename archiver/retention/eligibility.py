"""What may be destroyed on a given day, and why the rest may not.

Destruction is by whole stored object (a WARC file cannot lose one record and keep its
digests), so an object is eligible only when *every* item with a record in it is eligible:

* the item has a series and a disposition date on or before the day (a permanent series, or
  an EVT series whose event was never recorded, has none);
* its series is disposed by destruction (``transfer`` series go to the State Archives and are
  only listed);
* no active hold (legal hold or records request, 19.35(5)) covers it;

and the object itself is not under an S3 legal hold or retain-until date past the day, and
no surviving object still needs its payloads (a ``revisit`` record elsewhere whose digest
points at a response stored in it).

Historical Society notice (19.21(4)(a)) is checked at apply time, in ``disposition``.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from ..index.versions import first_seen, hash_hex
from ..sightings import item_record_links
from ..timefmt import parse_platform_time
from .assign import disposition_day, later_due, version_trigger_day
from .holds import hold_names_by_item
from .schedule import Schedule

DESTROY = ("destroy", "destroy-confidential")

# (object, item) pairs with, per pair, the latest first capture of a *later* version (n >= 2)
# whose records are in that object: its source response, its metadata record, its media, or
# the item's latest sighting (which shows the latest version). The links are those of the
# item_objects view (``archiver.sightings.item_record_links``), with the version each link
# belongs to, every link at once (the whole archive is planned).
_LINKS = f"""
    SELECT r.object_key, i.id, i.rowid, i.platform, i.account, i.kind, i.platform_id, i.created_at,
           rr.series, rr.trigger_date, rr.disposition_date,
           (SELECT {hash_hex()} FROM versions v WHERE v.item_rowid = i.rowid ORDER BY n DESC LIMIT 1) AS hash,
           MAX(CASE WHEN link.n >= 2 THEN {first_seen()} END) AS edit_captured
    FROM ({item_record_links("{item} AS item_rowid, {record} AS record, {n} AS n")}) AS link
    JOIN records r ON r.id = link.record AND r.object_key IS NOT NULL
    JOIN items i ON i.rowid = link.item_rowid
    LEFT JOIN versions v ON v.item_rowid = link.item_rowid AND v.n = link.n
    LEFT JOIN retention_items ra ON ra.item_rowid = i.rowid
    LEFT JOIN retention_rules rr ON rr.id = ra.rule_id
    GROUP BY r.object_key, i.id
    ORDER BY r.object_key, i.created_at, i.id"""


def _item_rows(db, schedule: Schedule, tz: str) -> dict[str, list[dict[str, Any]]]:
    """Per object, its items with the day *this object's* records of them may go: the item's
    disposition date, or later when the object holds an edit first archived later
    (``assign.version_trigger_day``)."""
    events: dict[str, dict[str, str]] = {}
    for item_id, event, day in db.conn.execute("SELECT item_id, event, date FROM retention_event_dates"):
        events.setdefault(item_id, {})[event] = day
    cur = db.conn.execute(_LINKS)
    names = [d[0] for d in cur.description]
    by_object: dict[str, list[dict[str, Any]]] = {}
    for row in cur:
        item = dict(zip(names, row))
        captured = item.pop("edit_captured")
        series = schedule.series.get(item["series"]) if item["series"] else None
        if captured and series is not None:
            trigger = version_trigger_day(series, captured, schedule, tz, events.get(item["id"], {}))
            item["item_due"] = item["disposition_date"]
            item["disposition_date"] = later_due(item["disposition_date"], disposition_day(series, trigger), True)
            item["edit_captured"] = captured
        by_object.setdefault(item.pop("object_key"), []).append(item)
    return by_object


def item_block(item: dict[str, Any], schedule: Schedule, day: date, holds: dict[str, list[str]]) -> str | None:
    """Why this item's records in an object may not be destroyed on ``day`` (None: they may)."""
    if item["series"] is None:
        return "no series assigned (run `archiver retention recompute`)"
    series = schedule.series.get(item["series"])
    if series is None:
        return f"series {item['series']} is not in the current schedule (run `archiver retention recompute`)"
    if item["id"] in holds:
        return "under hold " + ", ".join(holds[item["id"]])
    if series.permanent:
        return f"series {series.code} is permanent"
    if item["disposition_date"] is None:
        if series.trigger == "EVT":
            return f"the {series.event!r} event of series {series.code} is not recorded"
        return f"no disposition date ({series.code})"
    if item["disposition_date"] > day.isoformat():
        edit = " (an edit first archived " + item["edit_captured"][:10] + ")" if item.get("item_due") and \
            item["item_due"] != item["disposition_date"] else ""
        return f"not due until {item['disposition_date']} ({series.code} {series.notation}){edit}"
    if series.disposition not in DESTROY:
        return f"series {series.code} is transferred to the archives, not destroyed"
    return None


def summarize(blocks: list[str]) -> list[str]:
    """Item reasons grouped: "3 items: not due until 2027-01-01 (...)" instead of one line each."""
    counts = Counter(blocks)
    return [f"{n} item{'s' if n != 1 else ''}: {why}" for why, n in sorted(counts.items(), key=lambda kv: -kv[1])]


def evaluate(db, schedule: Schedule, day: date, tz: str, *, keys: list[str] | None = None) -> dict[str, Any]:
    """{"eligible": [object...], "blocked": [object...]} for ``day``; objects with at least one
    item past its date but held back (by a hold, another item, a lock) are "blocked"; the rest
    are simply not due and not reported. A blocked object's ``reasons`` are grouped by kind."""
    holds = hold_names_by_item(db, day)
    objects = {r[0]: dict(zip(("key", "sha256", "size", "retain_until", "legal_hold", "account", "first_date",
                                "last_date"), r))
               for r in db.conn.execute("SELECT key, sha256, size, retain_until, legal_hold, account, first_date,"
                                        " last_date FROM objects")}
    day_start = datetime.combine(day, time.min, tzinfo=ZoneInfo(tz))
    eligible, blocked = {}, []
    for key, items in _item_rows(db, schedule, tz).items():
        if key not in objects or (keys is not None and key not in keys):
            continue
        obj = dict(objects[key], items=items)
        blocks = []
        for item in items:
            item["block"] = item_block(item, schedule, day, holds)
            if item["block"]:
                blocks.append(item["block"])
        reasons = summarize(blocks)
        if obj["legal_hold"]:
            reasons.append("the object is under an S3 legal hold")
        until = parse_platform_time(obj["retain_until"]) if obj["retain_until"] else None
        if until and until > day_start:
            reasons.append(f"the store's Object Lock retains it until {obj['retain_until']}")
        obj["reasons"] = reasons
        if not reasons:
            eligible[key] = obj
        elif any((i.get("item_due") or i["disposition_date"] or "9999") <= day.isoformat() for i in items):
            # Something in it is past its own date but held back (a hold, another item, a
            # later edit, a lock): listed, so the officer sees why it stays.
            blocked.append(obj)
    for key in _needed_by_survivors(db, list(eligible)):
        obj = eligible.pop(key)
        obj["reasons"] = ["a revisit record in an object that is kept refers to its payloads"]
        blocked.append(obj)
    return {"eligible": [eligible[k] for k in sorted(eligible)], "blocked": sorted(blocked, key=lambda o: o["key"])}


def _needed_by_survivors(db, candidates: list[str]) -> set[str]:
    """Candidates whose response payloads a revisit in a non-candidate object depends on;
    repeated until stable, since dropping one candidate can make another needed."""
    needed: set[str] = set()
    while True:
        going = [k for k in candidates if k not in needed]
        if not going:
            return needed
        rows = db.conn.execute(
            "SELECT DISTINCT r.object_key FROM records r JOIN records v ON v.payload_digest = r.payload_digest"
            " WHERE r.type = 'response' AND v.type = 'revisit'"
            " AND r.object_key IN (SELECT value FROM json_each(?1))"
            " AND v.object_key NOT IN (SELECT value FROM json_each(?1))", (json.dumps(going),)).fetchall()
        more = {r[0] for r in rows} - needed
        if not more:
            return needed
        needed |= more
