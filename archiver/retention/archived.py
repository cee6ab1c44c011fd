"""Due dates worked out again from the archived records themselves, when destruction happens.

The index is derived data in a file anyone with write access can edit. An ``UPDATE`` of
``items.created_at``, ``retention_assignments.disposition_date`` or ``objects.retain_until``
must never make a record destroyable early -- on a local store nothing else enforces
retention. So ``dispose apply`` reads every object it is about to destroy from the store and
recomputes, from the ``items/1`` metadata records in it (the records ``reindex`` rebuilds the
index from, see ``archiver.sightings``), the day each item's records in it may go. The object
is destroyed only when every one of those days has come.

What the archived records decide: which items the object holds versions of (platform,
account, platform id, kind, department or public), when each was created, and whether the
object holds an edit archived later than the item was created (then the edit's own period
counts, ``assign.version_trigger_day``). What the index still supplies: the records
officer's own decisions -- series overrides and EVT event dates, each written to the audit
log when it was made.
"""

from __future__ import annotations

import zlib
from typing import Any, Mapping

from warcio.exceptions import ArchiveLoadFailed

from ..errors import StoreError
from ..index import item_id
from .assign import choose_series, disposition_day, later_due, trigger_day, version_trigger_day
from .schedule import Schedule

ITEMS_KIND = "items/1"


def officer_decisions(db) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """(overrides: item id -> series, events: item id -> {event: day}) from the index."""
    overrides = dict(db.conn.execute("SELECT item_id, series FROM retention_overrides"))
    events: dict[str, dict[str, str]] = {}
    for iid, event, day in db.conn.execute("SELECT item_id, event, date FROM retention_event_dates"):
        events.setdefault(iid, {})[event] = day
    return overrides, events


def archived_due(stream, schedule: Schedule, tz: str, *, overrides: Mapping[str, str],
                 events: Mapping[str, Mapping[str, str]]) -> dict[str, str | None]:
    """item id -> the first day this object's records of it may be destroyed (None: never, or
    not known), for every item with a version in the WARC ``stream``. Raises what warcio or
    JSON parsing raise on a damaged file (the caller refuses the object then)."""
    from ..ingest import iter_records
    from ..sightings import page_entries
    from ..textsafe import loads
    from ..warc import META_HEADER

    due: dict[str, str | None] = {}
    for record, _, _, payload in iter_records(stream):
        if payload is None or record.rec_headers.get_header(META_HEADER) != ITEMS_KIND:
            continue
        doc = loads(payload)
        captured = record.rec_headers.get_header("WARC-Date")
        for page in page_entries(doc, record.rec_headers.get_header("WARC-Refers-To")):
            for change in page.get("changes") or []:
                found = _change_due(doc, change, captured, schedule, tz, overrides, events)
                if found is None:
                    continue
                iid, day = found
                if iid in due and (due[iid] is None or day is None):
                    due[iid] = None
                elif iid in due:
                    due[iid] = max(due[iid], day)
                else:
                    due[iid] = day
    return due


def _change_due(doc: dict, change: dict, captured: str, schedule: Schedule, tz: str,
                overrides: Mapping[str, str], events: Mapping[str, Mapping[str, str]]):
    """(item id, due) for one archived change, or None when it carries no content of the item
    (a deletion or hide noticed, with no version)."""
    item = change.get("item") or {}
    history = change.get("history") or []
    if "version" not in change and not history:
        return None
    iid = item_id(doc["platform"], doc["account"], item["platform_id"])
    fields = {"id": iid, "platform": doc["platform"], "account": doc["account"], "kind": item.get("kind"),
              "is_department": item.get("is_department"), "created_at": item.get("created_at"),
              "first_seen": captured}
    series, _, _ = choose_series(schedule, fields, overrides.get(iid))
    item_events = events.get(iid, {})
    item_due = disposition_day(series, trigger_day(series, fields, schedule, tz, item_events))
    item_due_text = item_due.isoformat() if item_due else None
    if "new" in (change.get("events") or []) and not history:
        return iid, item_due_text  # the item's first version: its own creation date governs
    # An edit (or versions the platform reported): each is kept its period from when it existed.
    stamps = [h.get("created_at") or captured for h in history] + ([captured] if "version" in change else [])
    days = [disposition_day(series, version_trigger_day(series, s, schedule, tz, item_events)) for s in stamps]
    if any(d is None for d in days):
        return iid, None
    return iid, later_due(item_due_text, max(days), True)


def check_object(store, key: str, items: list[dict[str, Any]], schedule: Schedule, tz: str, today: str, *,
                 overrides: Mapping[str, str], events: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Why the archived records of ``key`` forbid destroying it today (empty: they allow it).
    ``items`` are the index's items of the object, for the message."""
    try:
        with store.open(key) as fh:
            due = archived_due(fh, schedule, tz, overrides=overrides, events=events)
    except (StoreError, OSError, EOFError, zlib.error, ArchiveLoadFailed, ValueError, KeyError, TypeError) as exc:
        # Unreadable or damaged: the dates cannot be confirmed, so the object is kept.
        return [f"its archived records cannot be read to confirm the dates ({type(exc).__name__}: {exc})"]
    said = {i["id"]: i["disposition_date"] for i in items}
    reasons = []
    for iid, day in sorted(due.items()):
        if day is None:
            reasons.append(f"item {iid}: its archived records give no disposition date")
        elif day > today:
            index = f"; the index said {said[iid]}" if said.get(iid) else "; the index did not list it"
            reasons.append(f"item {iid}: not due until {day} by its archived records{index} "
                           "(the index does not match the archive: run `archiver reindex`)")
    return reasons
