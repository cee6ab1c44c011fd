"""Legal holds and public-records requests in the browser: the holds list, the items under a
hold, release with a reason; the request log, logging a request, starting its bundle, closing it.

Every change goes through the retention library (``archiver.retention.holds``), the same
functions as ``archiver hold`` and ``archiver request``, so the audit rows, the 19.35(5)
hold periods and the S3 legal holds (at the next ``retention recompute`` or ingest: the web
process holds no store credentials) are the library's. The ways a request can close are the
library's too (``close_outcomes``): what it offers is what the page offers.
"""

from __future__ import annotations

import json
from datetime import date

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for

from ..errors import ArchiverError, QueryError
from ..retention import holds as library
from ..retention.dates import today_in
from ..retention.selection import describe as describe_filters
from ..search import SearchQuery
from .auth import requires
from .context import audit, db, now
from .pages import one_value, page_number, query_from_args
from .words import query_in_words

bp = Blueprint("holds", __name__)
ITEMS_PAGE = 200
FIELD_FROM_FILTER = {"date_from": "from", "date_to": "to", "text": "q", "author": "author", "account": "account",
                     "platform": "platform", "kind": "kind", "status": "status"}


def close_outcomes() -> tuple[str, ...]:
    """How a request may close, as the library says (granted/denied, and any it adds)."""
    return tuple(getattr(library, "CLOSE_OUTCOMES", ("granted", "denied")))


def filters_in_words(filters: dict) -> str:
    """A stored hold selection in words (its ids as a count)."""
    fields = {k: v for k, v in filters.items() if k in SearchQuery.__dataclass_fields__}
    try:
        q = SearchQuery(**fields)
    except TypeError:
        return describe_filters(filters)
    return query_in_words(q, current_app.config["SETTINGS"].timezone)


def _hold_row(name: str) -> dict:
    row = db().conn.execute("SELECT id, name, kind, matter, filters, placed_by, placed_at, ends_on, released_at, "
                            "released_by FROM holds WHERE name = ?", (name,)).fetchone()
    if row is None:
        abort(404, f"no hold named {name!r}")
    keys = ("id", "name", "kind", "matter", "filters", "placed_by", "placed_at", "ends_on", "released_at", "released_by")
    hold = dict(zip(keys, row))
    hold["filters"] = json.loads(hold["filters"])
    return hold


@bp.get("/holds")
@requires("legal")
def holds():
    settings = current_app.config["SETTINGS"]
    rows = library.list_holds(db(), settings, now=now())
    stored = {name: json.loads(f) for name, f in db().conn.execute("SELECT name, filters FROM holds")}
    for row in rows:
        row["scope"] = filters_in_words(stored.get(row["name"], {}))
    audit("web.holds", {"holds": len(rows)})
    return render_template("holds.html", holds=rows)


@bp.get("/holds/<path:name>")
@requires("legal")
def hold(name: str):
    h = _hold_row(name)
    try:
        page = page_number(request.args)
    except QueryError as exc:
        abort(400, str(exc))
    conn = db().conn
    total = conn.execute("SELECT count(*) FROM hold_items WHERE hold_id = ?", (h["id"],)).fetchone()[0]
    cur = conn.execute(
        "SELECT i.id, i.kind, i.status, i.author, i.text, i.created_at, i.account, hi.added_at FROM hold_items hi "
        "JOIN items i ON i.id = hi.item_id WHERE hi.hold_id = ? ORDER BY i.date_key LIMIT ? OFFSET ?",
        (h["id"], ITEMS_PAGE + 1, (page - 1) * ITEMS_PAGE))
    names = [d[0] for d in cur.description]
    items = [dict(zip(names, r)) for r in cur]
    more = len(items) > ITEMS_PAGE
    audit("web.hold.view", {"hold": name, "page": page})
    return render_template("hold.html", h=h, scope=filters_in_words(h["filters"]), items=items[:ITEMS_PAGE],
                           total=total, page=page, more=more, first=(page - 1) * ITEMS_PAGE + 1)


@bp.post("/holds/<path:name>/release")
@requires("legal")
def release(name: str):
    reason = " ".join(one_value(request.form, "reason").split())
    if not reason:
        abort(400, "say why the hold is released (the reason is kept in the audit log)")
    h = _hold_row(name)
    try:
        library.release_hold(db(), current_app.config["SETTINGS"], name, actor=g.user.name, now=now())
    except ArchiverError as exc:
        audit("web.hold.release", {"hold": name, "reason": reason, "ok": False, "message": str(exc)})
        return render_template("action.html", title="Release hold", message=str(exc), ok=False,
                               jobs=False, back=url_for("holds.hold", name=name)), 400
    audit("web.hold.release", {"hold": name, "reason": reason, "ok": True, "matter": h["matter"]})
    return render_template("action.html", title="Release hold", ok=True, jobs=False, back=url_for("holds.holds"),
                           message=f"Hold {name!r} released. Reason recorded: {reason}")


@bp.get("/requests")
@requires("records")
def requests():
    rows = library.list_requests(db())
    scopes = {name[len("request:"):]: json.loads(f) for name, f in
              db().conn.execute("SELECT name, filters FROM holds WHERE kind = 'request'")}
    for row in rows:
        row["scope"] = filters_in_words(scopes.get(row["name"], {}))
        row["hold"] = f"request:{row['name']}"
    settings = current_app.config["SETTINGS"]
    audit("web.requests", {"requests": len(rows)})
    return render_template("requests.html", requests=rows, outcomes=close_outcomes(), args=request.args,
                           today=today_in(now(), settings.timezone).isoformat())


def _day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise QueryError(f"the {what} must be a date (YYYY-MM-DD)") from None


@bp.post("/requests")
@requires("records")
def log_request():
    form = request.form
    settings = current_app.config["SETTINGS"]
    name = one_value(form, "request_id").strip()
    requester = " ".join(one_value(form, "requester").split())
    description = one_value(form, "description").strip()
    received = _day(one_value(form, "received"), "date the request was received")
    committed = one_value(form, "committed") == "yes"
    q = query_from_args(form, paged=False)
    filters = {k: v for k, v in (("date_from", q.date_from), ("date_to", q.date_to), ("text", q.text),
                                 ("author", q.author), ("account", q.account), ("platform", q.platform),
                                 ("kind", q.kind), ("status", q.status)) if v not in (None, [], "")}
    if not name:
        raise QueryError("give the request its number (as logged, e.g. PRR-2024-017)")
    result = library.log_request(db(), settings, name, requester=requester, received=received,
                                 description=description, filters=filters, committed=committed,
                                 actor=g.user.name, now=now())
    audit("web.request.log", {"request": name, "items_held": result["items_held"]})
    return redirect(url_for("holds.requests", logged=name))


@bp.post("/requests/<path:name>/close")
@requires("records")
def close_request(name: str):
    outcome = one_value(request.form, "outcome")
    if outcome not in close_outcomes():
        abort(400, f"a request closes as {', '.join(close_outcomes())}")
    on = _day(one_value(request.form, "decided"), "date of the decision")
    result = library.close_request(db(), current_app.config["SETTINGS"], name, outcome, on,
                                   actor=g.user.name, now=now())
    audit("web.request.close", {"request": name, "outcome": outcome, "date": on.isoformat()})
    held = f" The responsive records stay held through {result['held_through']} (Wis. Stat. 19.35(5))." \
        if result.get("held_through") else ""
    return render_template("action.html", title="Close request", ok=True, jobs=False,
                           back=url_for("holds.requests"),
                           message=f"Request {name} closed as {outcome} on {on.isoformat()}.{held}")


def request_bundle_args(name: str) -> tuple[dict, dict]:
    """(search fields of the request's scope, the request's identity) from the index, for the
    bundle form: never from the address bar."""
    row = db().conn.execute(
        "SELECT r.name, r.requester, r.received, h.filters FROM records_requests r JOIN holds h ON h.id = r.hold_id "
        "WHERE r.name = ?", (name,)).fetchone()
    if row is None:
        abort(404, f"no request named {name!r}")
    filters = json.loads(row[3])
    fields: dict[str, list[str]] = {}
    for key, value in filters.items():
        if key in FIELD_FROM_FILTER:
            fields[FIELD_FROM_FILTER[key]] = value if isinstance(value, list) else [value]
    return fields, {"request_id": row[0], "requester": row[1], "received": row[2]}
