"""Legal holds and records-request holds. A held item is never eligible for disposition.

A hold is a named selection (the ``search`` filters, see ``selection``). The items it holds
are materialised in ``hold_items`` when it is placed and again after every ingest, so a
comment captured after the hold was placed is held too; an item once held stays held until
the hold ends (an edit that stops it matching does not free it).

Records requests (Wis. Stat. 19.35(5), domain.md A11): once a request is received, the
responsive records may not be destroyed until the request is granted, or until 60 days after
a denial -- 90 when the requester is committed or incarcerated. 19.345 excludes Saturdays,
Sundays and legal holidays from every time period in ss. 19.33-19.39, so these are *business*
days (``dates.add_business_days``). A mandamus action extends the bar until the order is final;
record that with a legal hold (``hold add``), released when the order is final.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Iterable, Mapping

from .. import audit
from ..errors import RetentionError
from ..index import transaction
from ..timefmt import iso, utcnow
from .dates import add_business_days, today_in
from .selection import describe, matching_item_ids, require_some, thread_item_ids

# 19.35(5): business days after a denial before the responsive records may be destroyed.
DENIAL_HOLD_DAYS = 60
DENIAL_HOLD_DAYS_COMMITTED = 90
_ACTIVE = "released_at IS NULL AND (ends_on IS NULL OR ends_on >= ?)"


def request_hold_ends(denied_on: date, committed: bool) -> date:
    """The last day the records of a denied request stay held (destruction from the next day)."""
    return add_business_days(denied_on, DENIAL_HOLD_DAYS_COMMITTED if committed else DENIAL_HOLD_DAYS)


def _place(db, name: str, kind: str, matter: str, filters: Mapping[str, Any], tz: str, actor: str,
           now: datetime) -> tuple[int, int]:
    if db.conn.execute("SELECT 1 FROM holds WHERE name = ?", (name,)).fetchone():
        raise RetentionError(f"a hold named {name!r} already exists (names are never reused: pick another)")
    hold_id = db.conn.execute(
        "INSERT INTO holds (name, kind, matter, filters, placed_by, placed_at) VALUES (?,?,?,?,?,?)",
        (name, kind, matter, json.dumps(dict(filters), sort_keys=True), actor, iso(now))).lastrowid
    ids = _covered(db, kind, filters, tz)
    db.conn.executemany("INSERT OR IGNORE INTO hold_items (hold_id, item_id, added_at) VALUES (?,?,?)",
                        [(hold_id, i, iso(now)) for i in ids])
    return hold_id, len(ids)


def _covered(db, kind: str, filters: Mapping[str, Any], tz: str, only=None) -> list[str]:
    """The items a hold covers: a request's hold, the whole threads its export releases (a hold
    on named items -- what was withheld -- covers those items)."""
    if kind == "request" and set(filters) - {"ids"}:
        return thread_item_ids(db, filters, tz, only=only)
    return matching_item_ids(db, filters, tz, only=only)


def add_hold(db, settings, name: str, matter: str, filters: Mapping[str, Any], *, actor: str,
             store=None, now: datetime | None = None) -> dict[str, Any]:
    """Place a legal hold; the stored objects with held items get an S3 legal hold."""
    now = now or utcnow()
    if not name.strip() or not matter.strip():
        raise RetentionError("a hold needs a --name and a --matter (what it is for)")
    require_some(filters, "a hold")
    with transaction(db):
        hold_id, count = _place(db, name, "legal", matter, filters, settings.timezone, actor, now)
        audit.append(db, actor, "hold.placed", {"hold": name, "matter": matter, "filters": dict(filters),
                                                "items": count}, now=now)
    _sync(db, store, settings, now)
    return {"name": name, "id": hold_id, "items": count, "filters": describe(filters)}


def release_hold(db, settings, name: str, *, actor: str, store=None, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    row = db.conn.execute("SELECT id, kind, released_at FROM holds WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise RetentionError(f"no hold named {name!r} (see `archiver hold list`)")
    if row[1] == "request":
        raise RetentionError(f"{name!r} is a records-request hold: it ends with `archiver request close`")
    if row[2]:
        raise RetentionError(f"the hold {name!r} was already released at {row[2]}")
    with transaction(db):
        db.conn.execute("UPDATE holds SET released_at = ?, released_by = ? WHERE id = ?", (iso(now), actor, row[0]))
        audit.append(db, actor, "hold.released", {"hold": name}, now=now)
    _sync(db, store, settings, now)
    return {"name": name, "released_at": iso(now)}


def refresh_hold_items(db, tz: str, *, item_ids: Iterable[str] | None = None, now: datetime | None = None) -> int:
    """Add to every active hold the items (all, or ``item_ids``) that now match it."""
    now = now or utcnow()
    only = list(item_ids) if item_ids is not None else None
    if only == []:
        return 0
    added = 0
    holds = db.conn.execute(f"SELECT id, kind, filters FROM holds WHERE {_ACTIVE}",
                            (today_in(now, tz).isoformat(),)).fetchall()
    with transaction(db):
        for hold_id, kind, filters in holds:
            ids = _covered(db, kind, json.loads(filters), tz, only=only)
            cur = db.conn.executemany(
                "INSERT OR IGNORE INTO hold_items (hold_id, item_id, added_at) VALUES (?,?,?)",
                [(hold_id, i, iso(now)) for i in ids])
            added += max(cur.rowcount, 0)
    return added


def held_item_ids(db, today: date) -> set[str]:
    return {r[0] for r in db.conn.execute(
        f"SELECT DISTINCT hi.item_id FROM hold_items hi JOIN holds h ON h.id = hi.hold_id WHERE {_ACTIVE}",
        (today.isoformat(),))}


def hold_names_by_item(db, today: date) -> dict[str, list[str]]:
    """item id -> the names of the active holds on it (for messages that name the hold)."""
    names: dict[str, list[str]] = {}
    for item_id, name in db.conn.execute(
            f"SELECT hi.item_id, h.name FROM hold_items hi JOIN holds h ON h.id = hi.hold_id WHERE {_ACTIVE}"
            " ORDER BY h.id", (today.isoformat(),)):
        names.setdefault(item_id, []).append(name)
    return names


def holds_on_item(db, item_id: str, today: date) -> list[dict[str, Any]]:
    cur = db.conn.execute(
        f"SELECT h.name, h.kind, h.matter, h.ends_on FROM hold_items hi JOIN holds h ON h.id = hi.hold_id"
        f" WHERE hi.item_id = ? AND {_ACTIVE} ORDER BY h.id", (item_id, today.isoformat()))
    return [dict(zip(("name", "kind", "matter", "ends_on"), r)) for r in cur]


def list_holds(db, settings, *, include_ended: bool = True, now: datetime | None = None) -> list[dict[str, Any]]:
    today = today_in(now or utcnow(), settings.timezone).isoformat()
    rows = []
    for r in db.conn.execute(
        "SELECT h.id, h.name, h.kind, h.matter, h.filters, h.placed_by, h.placed_at, h.ends_on, h.released_at,"
        " (SELECT count(*) FROM hold_items WHERE hold_id = h.id) FROM holds h ORDER BY h.id"
    ):
        hold_id, name, kind, matter, filters, by, at, ends_on, released, count = r
        active = released is None and (ends_on is None or ends_on >= today)
        if active or include_ended:
            rows.append({"name": name, "kind": kind, "matter": matter, "filters": describe(json.loads(filters)),
                         "items": count, "placed_by": by, "placed_at": at, "ends_on": ends_on,
                         "released_at": released, "active": active})
    return rows


def log_request(db, settings, name: str, *, requester: str, received: date, description: str,
                filters: Mapping[str, Any], committed: bool = False, actor: str, store=None,
                now: datetime | None = None) -> dict[str, Any]:
    """Record a 19.35 request; its scope (``filters``) holds the responsive records at once."""
    now = now or utcnow()
    if not requester.strip() or not description.strip():
        raise RetentionError("a request needs --requester and --description")
    require_some(filters, "a records request")
    if db.conn.execute("SELECT 1 FROM records_requests WHERE name = ?", (name,)).fetchone():
        raise RetentionError(f"a request named {name!r} is already logged")
    with transaction(db):
        hold_id, count = _place(db, f"request:{name}", "request", f"Wis. Stat. 19.35 request {name}: {description}",
                                filters, settings.timezone, actor, now)
        db.conn.execute(
            "INSERT INTO records_requests (name, requester, received, description, committed, status, hold_id,"
            " logged_by, logged_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (name, requester, received.isoformat(), description, int(committed), "open", hold_id, actor, iso(now)))
        audit.append(db, actor, "request.logged", {"request": name, "requester": requester,
                                                   "received": received.isoformat(), "description": description,
                                                   "filters": dict(filters), "committed": committed,
                                                   "items": count}, now=now)
    _sync(db, store, settings, now)
    return {"name": name, "items_held": count}


OUTCOMES = ("granted", "denied", "partly-denied")
CLOSE_OUTCOMES = OUTCOMES  # what the web UI's requests page offers


def close_request(db, settings, name: str, outcome: str, on: date, *, actor: str, store=None,
                  withheld: Iterable[str] = (), now: datetime | None = None) -> dict[str, Any]:
    """Granted: the hold ends now. Denied: it lasts 60 (committed/incarcerated: 90) business
    days after ``on`` (19.35(5), 19.345). Partly denied: the withheld part is held that long --
    the items ``withheld`` (archive ids: what was withheld or redacted) under a hold of their
    own, the released rest freed now; with no ids, the whole scope stays held that long."""
    now = now or utcnow()
    if outcome not in OUTCOMES:
        raise RetentionError(f"a request closes as {', '.join(OUTCOMES[:-1])} or {OUTCOMES[-1]}")
    withheld = sorted(set(withheld))
    if withheld and outcome != "partly-denied":
        raise RetentionError("withheld items are named only when a request is partly denied")
    row = db.conn.execute("SELECT id, hold_id, committed, status, received FROM records_requests WHERE name = ?",
                          (name,)).fetchone()
    if row is None:
        raise RetentionError(f"no request named {name!r} (see `archiver request list`)")
    req_id, hold_id, committed, status, received = row
    if status != "open":
        raise RetentionError(f"request {name!r} was already closed ({status})")
    if on.isoformat() < received:
        raise RetentionError(f"the {outcome} date {on} is before the request was received ({received})")
    if withheld:
        scope = {r[0] for r in db.conn.execute("SELECT item_id FROM hold_items WHERE hold_id = ?", (hold_id,))}
        outside = [i for i in withheld if i not in scope]
        if outside:
            raise RetentionError(f"item(s) {', '.join(outside[:5])} are not among the records of request {name!r} "
                                 "(see `archiver show ID`); name the withheld items by their archive id")
    ends_on = None
    with transaction(db):
        if outcome == "granted":
            db.conn.execute("UPDATE holds SET released_at = ?, released_by = ? WHERE id = ?", (iso(now), actor, hold_id))
        else:
            ends_on = request_hold_ends(on, bool(committed)).isoformat()
            if withheld:
                # The released part is free now; the withheld part keeps its own 19.35(5) hold.
                db.conn.execute("UPDATE holds SET released_at = ?, released_by = ? WHERE id = ?",
                                (iso(now), actor, hold_id))
                hold_id, _ = _place(db, f"request:{name}:withheld", "request",
                                    f"Wis. Stat. 19.35(5): records withheld from request {name}",
                                    {"ids": withheld}, settings.timezone, actor, now)
                db.conn.execute("UPDATE records_requests SET hold_id = ? WHERE id = ?", (hold_id, req_id))
            db.conn.execute("UPDATE holds SET ends_on = ? WHERE id = ?", (ends_on, hold_id))
        db.conn.execute("UPDATE records_requests SET status = ?, decided = ? WHERE id = ?",
                        (outcome, on.isoformat(), req_id))
        audit.append(db, actor, f"request.{outcome}", {"request": name, "date": on.isoformat(),
                                                       "hold_ends_on": ends_on, "committed": bool(committed),
                                                       "withheld": withheld}, now=now)
    _sync(db, store, settings, now)
    return {"name": name, "status": outcome, "held_through": ends_on, "withheld": len(withheld)}


def request_logged(db, name: str) -> bool:
    return db.conn.execute("SELECT 1 FROM records_requests WHERE name = ?", (name,)).fetchone() is not None


def list_requests(db) -> list[dict[str, Any]]:
    cur = db.conn.execute(
        "SELECT r.name, r.requester, r.received, r.description, r.committed, r.status, r.decided, h.ends_on,"
        " (SELECT count(*) FROM hold_items WHERE hold_id = r.hold_id) FROM records_requests r"
        " JOIN holds h ON h.id = r.hold_id ORDER BY r.id")
    names = ("name", "requester", "received", "description", "committed", "status", "decided", "held_through", "items")
    return [dict(zip(names, r)) for r in cur]


def _sync(db, store, settings, now: datetime) -> None:
    if store is not None:
        from .objectlock import sync_object_lock

        sync_object_lock(db, store, settings, now=now)


def place_hold_from_web(db, settings, filters: Mapping[str, Any], form: Mapping[str, str], *, actor: str,
                        now: datetime | None = None) -> str:
    """The web UI's "place legal hold on these results" (archiver.web.actions). The store's
    S3 legal holds follow at the next ``retention recompute`` or ingest (the web process does
    not hold store credentials)."""
    name = (form.get("hold_name") or "").strip()
    matter = (form.get("matter") or "").strip() or name
    result = add_hold(db, settings, name, matter, filters, actor=actor, now=now)
    return f"Legal hold {name!r} placed on {result['items']} item(s) ({result['filters']})."
