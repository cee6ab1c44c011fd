"""Recording why a comment was removed: append-only, audited, checked against the posted policy.

A reason is recorded for a comment or reply the archive saw hidden or deleted. It names the
category of the policy version in force on the day the removal was detected (agency
timezone), who decided the removal, who recorded the entry, and a note. Entries are never
changed: a correction is a new entry that supersedes the earlier one (``history`` keeps both).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from .. import audit
from ..errors import ModerationError
from ..index import transaction
from ..timefmt import iso, utcnow
from ..retention.dates import today_in
from .policy import Policy, remember

REMOVALS = ("hidden", "deleted")


def latest_removal(db, item_id: str) -> dict[str, Any] | None:
    """The item's most recent hide or deletion event, or None."""
    row = db.conn.execute(
        "SELECT i.id, i.kind, i.platform, i.account, e.event, e.at FROM items i "
        "LEFT JOIN events e ON e.item_rowid = i.rowid AND e.event IN ('hidden', 'deleted') "
        "WHERE i.id = ? ORDER BY e.at DESC, e.id DESC LIMIT 1", (item_id,)).fetchone()
    if row is None:
        raise ModerationError(f"no item with id {item_id!r} in the archive: copy the id from `archiver search` "
                              "or the web UI")
    keys = ("id", "kind", "platform", "account", "event", "at")
    return dict(zip(keys, row))


def record_reason(db, settings, policy: Policy, item_id: str, category: str, *, note: str = "",
                  decided_by: str | None = None, actor: str, now: datetime | None = None) -> dict[str, Any]:
    """Record the policy category under which a hidden or deleted comment was removed."""
    now = now or utcnow()
    removal = latest_removal(db, item_id)
    if removal["kind"] == "post":
        raise ModerationError(f"item {item_id} is one of the department's posts, not a visitor's comment: "
                              "reasons record why a comment or reply was removed")
    if not removal["event"]:
        raise ModerationError(f"item {item_id} was never seen hidden or deleted: a reason records why a "
                              "removal happened (see `archiver report moderation` for the removals)")
    day = today_in(datetime.fromisoformat(removal["at"].replace("Z", "+00:00")), settings.timezone)
    version = policy.in_force(day)
    found = version.category(category)
    if found is None:
        known = ", ".join(c.name for c in version.categories)
        raise ModerationError(f"{category!r} is not a category of the comment policy {policy.name!r} version "
                              f"{version.version} (in force {day.isoformat()}): use one of {known}")
    with transaction(db):
        policy_id = remember(db, policy, now=now)[version.version]
        previous = db.conn.execute("SELECT max(id) FROM moderation_reasons WHERE item_id = ?", (item_id,)).fetchone()[0]
        entry = {"item_id": item_id, "category": found.name, "category_title": found.title, "policy_id": policy_id,
                 "decided_by": (decided_by or actor).strip(), "note": note.strip(), "recorded_by": actor,
                 "recorded_at": iso(now), "supersedes": previous}
        entry["id"] = db.conn.execute(
            f"INSERT INTO moderation_reasons ({', '.join(entry)}) VALUES ({', '.join('?' * len(entry))})",
            list(entry.values())).lastrowid
        audit.append(db, actor, "moderation.reason",
                     {k: entry[k] for k in ("id", "item_id", "category", "decided_by", "note", "supersedes")},
                     now=now)
    entry.update(policy=policy.name, policy_version=version.version, removal=removal["event"],
                 removal_detected_at=removal["at"])
    return entry


def current_reasons(db, item_ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Item id -> its latest (current) reason entry, with the policy version it names."""
    sql = ("SELECT r.id, r.item_id, r.category, r.category_title, r.decided_by, r.note, r.recorded_by, "
           "r.recorded_at, r.supersedes, p.name, p.version, p.placeholder, "
           "(SELECT count(*) FROM moderation_reasons x WHERE x.item_id = r.item_id) AS entries "
           "FROM moderation_reasons r JOIN moderation_policies p ON p.id = r.policy_id "
           "WHERE r.id = (SELECT max(id) FROM moderation_reasons y WHERE y.item_id = r.item_id)")
    params: list[Any] = []
    if item_ids is not None:
        ids = list(dict.fromkeys(item_ids))
        if not ids:
            return {}
        out: dict[str, dict[str, Any]] = {}
        for n in range(0, len(ids), 500):
            chunk = ids[n:n + 500]
            out.update(_reason_rows(db, sql + f" AND r.item_id IN ({', '.join('?' * len(chunk))})", chunk))
        return out
    return _reason_rows(db, sql, params)


def _reason_rows(db, sql: str, params: list[Any]) -> dict[str, dict[str, Any]]:
    keys = ("id", "item_id", "category", "category_title", "decided_by", "note", "recorded_by", "recorded_at",
            "supersedes", "policy", "policy_version", "policy_placeholder", "entries")
    return {row[1]: dict(zip(keys, row)) for row in db.conn.execute(sql, params)}


def history(db, item_id: str) -> list[dict[str, Any]]:
    """Every entry recorded for an item, oldest first (corrections included)."""
    keys = ("id", "category", "category_title", "decided_by", "note", "recorded_by", "recorded_at", "supersedes",
            "policy", "policy_version")
    return [dict(zip(keys, r)) for r in db.conn.execute(
        "SELECT r.id, r.category, r.category_title, r.decided_by, r.note, r.recorded_by, r.recorded_at, "
        "r.supersedes, p.name, p.version FROM moderation_reasons r JOIN moderation_policies p ON p.id = r.policy_id "
        "WHERE r.item_id = ? ORDER BY r.id", (item_id,))]
