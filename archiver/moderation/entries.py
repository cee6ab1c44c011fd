"""The moderation record of exported comments: ``moderation.csv`` in request bundles and
e-discovery volumes.

Beside each exported comment or reply the archive saw hidden or deleted: what the platform
tells about the removal (``attribution``) and the reason records staff recorded (the latest
entry, with how many there are). Written only when an exported item has a removal or a reason.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable

from .attribution import attribute
from .reasons import current_reasons
from .report import add_platform_times

COLUMNS = ["item_id", "platform", "removal", "detected_at", "platform_time", "attribution", "attribution_text",
           "category", "category_title", "policy", "policy_version", "decided_by", "recorded_by", "recorded_at", "note",
           "reason_entries"]


def moderation_rows(db, item_ids: Iterable[str]) -> list[dict]:
    ids = list(dict.fromkeys(item_ids))
    removals: dict[str, tuple] = {}
    for n in range(0, len(ids), 500):
        chunk = ids[n:n + 500]
        for item_id, platform, event, at in db.conn.execute(
                "SELECT i.id, i.platform, e.event, e.at FROM events e JOIN items i ON i.rowid = e.item_rowid "
                f"WHERE e.event IN ('hidden', 'deleted') AND i.kind != 'post' AND i.id IN ({', '.join('?' * len(chunk))}) "
                "ORDER BY e.at, e.id", chunk):
            removals[item_id] = (platform, event, at)  # the latest removal
    reasons = current_reasons(db, ids)
    rows = []
    for item_id in ids:
        if item_id not in removals and item_id not in reasons:
            continue
        platform, event, at = removals.get(item_id, (None, None, None))
        row = {"item_id": item_id, "platform": platform, "removal": event, "detected_at": at}
        if event:
            row.update(attribute(platform, event).as_dict())
        reason = reasons.get(item_id, {})
        row.update(category=reason.get("category"), category_title=reason.get("category_title"),
                   policy=reason.get("policy"), policy_version=reason.get("policy_version"),
                   decided_by=reason.get("decided_by"), recorded_by=reason.get("recorded_by"),
                   recorded_at=reason.get("recorded_at"), note=reason.get("note"),
                   reason_entries=reason.get("entries", 0))
        rows.append(row)
    add_platform_times(db, rows)
    return rows


def write_moderation_csv(db, item_ids: Iterable[str], path: Path) -> int:
    """Write ``path`` when any exported item has a removal or a reason; returns the rows written."""
    rows = moderation_rows(db, item_ids)
    if not rows:
        return 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in COLUMNS})
    return len(rows)
