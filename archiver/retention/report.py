"""``retention report`` and ``retention show``: what the schedule governs, in numbers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..timefmt import utcnow
from .dates import today_in
from .holds import held_item_ids, list_holds
from .schedule import load_schedule


def series_report(db, settings, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """One row per series: items, bytes of the objects holding them, items due today, the next
    disposition date still to come, and items held."""
    now = now or utcnow()
    today = today_in(now, settings.timezone).isoformat()
    schedule = load_schedule(settings)
    held = held_item_ids(db, today_in(now, settings.timezone))
    rows: dict[str, dict[str, Any]] = {
        code: {"series": code, "title": s.title, "retention": s.notation, "disposition": s.disposition,
               "whs_notice": s.whs_notice, "items": 0, "bytes": 0, "due": 0, "next_date": None, "held": 0}
        for code, s in schedule.series.items()}
    for item_id, series, disposal in db.conn.execute(
            "SELECT i.id, r.series, r.disposition_date FROM retention_items a"
            " JOIN items i ON i.rowid = a.item_rowid JOIN retention_rules r ON r.id = a.rule_id"):
        row = rows.setdefault(series, {"series": series, "title": "(not in the current schedule)", "retention": "",
                                       "disposition": "", "whs_notice": "", "items": 0, "bytes": 0, "due": 0,
                                       "next_date": None, "held": 0})
        row["items"] += 1
        row["held"] += item_id in held
        if disposal and disposal <= today:
            row["due"] += 1
        elif disposal and (row["next_date"] is None or disposal < row["next_date"]):
            row["next_date"] = disposal
    for series, size in db.conn.execute(
            "SELECT a.series, sum(o.size) FROM objects o JOIN (SELECT DISTINCT io.object_key, a.series"
            " FROM item_objects io JOIN items i ON i.id = io.item_id JOIN retention_items ai ON ai.item_rowid = i.rowid"
            " JOIN retention_rules a ON a.id = ai.rule_id) a ON a.object_key = o.key"
            " GROUP BY a.series"):
        if series in rows:
            rows[series]["bytes"] = size or 0
    unassigned = db.conn.execute("SELECT count(*) FROM items i LEFT JOIN retention_items a"
                                 " ON a.item_rowid = i.rowid WHERE a.item_rowid IS NULL").fetchone()[0]
    out = [rows[k] for k in sorted(rows)]
    if unassigned:
        out.append({"series": "(unassigned)", "title": "run `archiver retention recompute`", "items": unassigned})
    return out


def full_report(db, settings, *, now: datetime | None = None) -> dict[str, Any]:
    schedule = load_schedule(settings)
    return {"schedule": {"name": schedule.name, "title": schedule.title, "version": schedule.version,
                         "source": schedule.source, "placeholder": schedule.placeholder,
                         "placeholder_note": schedule.placeholder_note},
            "series": series_report(db, settings, now=now),
            "holds": [h for h in list_holds(db, settings, now=now) if h["active"]]}


def schedule_rows(settings) -> tuple[Any, list[dict[str, Any]]]:
    """The loaded schedule and its series, for ``retention show``."""
    schedule = load_schedule(settings)
    rows = [{"code": s.code, "title": s.title, "retention": s.notation, "event": s.event or "",
             "disposition": s.disposition, "whs_notice": s.whs_notice, "citation": s.citation}
            for s in schedule.series.values()]
    return schedule, rows
