"""The audit log for administrators: read and filter it (who, what, when) and run the chain
check (``archiver.audit.verify``, the same as ``archiver audit verify``). Reading it and
checking it are audited too."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request, url_for

from .. import audit as auditing
from ..errors import QueryError
from ..timefmt import day_range_utc
from .auth import requires
from .context import audit, db
from .pages import one_value, page_number

bp = Blueprint("auditlog", __name__)
PAGE = 200


def _filters(args) -> tuple[list[str], list, dict]:
    who = one_value(args, "who").strip()
    what = one_value(args, "what").strip()
    lo, hi = day_range_utc(one_value(args, "from").strip() or None, one_value(args, "to").strip() or None,
                           current_app.config["SETTINGS"].timezone)
    clauses, params = [], []
    if who:
        clauses.append("actor = ?")
        params.append(who)
    if what:  # an action or a family of them: "hold" finds hold.placed and hold.released
        clauses.append("(action = ? OR action LIKE ? ESCAPE '\\')")
        escaped = what.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params += [what, escaped + ".%"]
    if lo:
        clauses.append("at >= ?")
        params.append(lo)
    if hi:
        clauses.append("at < ?")
        params.append(hi)
    return clauses, params, {"who": who, "what": what}


def _page(check: list[str] | None = None, checked: bool = False):
    args = request.args
    error, rows, more, page = None, [], False, 1
    try:
        page = page_number(args)
        clauses, params, shown = _filters(args)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        cur = db().conn.execute(f"SELECT id, at, actor, action, detail FROM audit_log{where} ORDER BY id DESC "
                                "LIMIT ? OFFSET ?", [*params, PAGE + 1, (page - 1) * PAGE])
        rows = [dict(zip(("id", "at", "actor", "action", "detail"), r)) for r in cur]
        more = len(rows) > PAGE
        rows = rows[:PAGE]
        audit("web.audit.read", {**shown, "from": args.get("from"), "to": args.get("to"), "page": page})
    except QueryError as exc:
        error = str(exc)
    actions = [a for (a,) in db().conn.execute("SELECT DISTINCT action FROM audit_log ORDER BY action")]
    links = {key: url_for("auditlog.audit_log", **{**args.to_dict(), "page": n})
             for key, n in (("prev", page - 1), ("next", page + 1)) if (key == "prev" and page > 1) or (key == "next" and more)}
    return render_template("audit.html", rows=rows, args=args, error=error, links=links, actions=actions,
                           check=check, checked=checked), (400 if error else 200)


@bp.get("/audit")
@requires("admin")
def audit_log():
    return _page()


@bp.post("/audit/verify")
@requires("admin")
def verify():
    problems = auditing.verify(db())
    audit("web.audit.verify", {"intact": not problems, "problems": len(problems)})
    return _page(problems, checked=True)
