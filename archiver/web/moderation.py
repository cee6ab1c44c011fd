"""The moderation record in the browser: the period's removals with attribution and reasons,
recording a reason (role ``records``), the consistency view, and the report as PDF/CSV/JSON.

Every page goes through the same library as ``archiver report moderation``
(``archiver.moderation``), so the browser and the command line cannot disagree.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, url_for

from ..errors import ArchiverError, QueryError
from ..moderation.bundle import period, render_report_pdf
from ..moderation.consistency import compare, suggested_words
from ..moderation.policy import load_policy
from ..moderation.reasons import record_reason
from ..moderation.report import METHOD, build_report, to_csv, to_json
from ..retention.dates import today_in
from .auth import requires
from .context import audit, db, now

bp = Blueprint("moderation", __name__)
DEFAULT_DAYS = 30


def _settings():
    return current_app.config["SETTINGS"]


def _policy():
    return load_policy(_settings()["moderation.policy"] or None)


def _period(args) -> dict[str, str | list[str]]:
    """The filters of the page: from/to (agency days; default the last 30) and accounts, checked."""
    settings = _settings()
    today = today_in(now(), settings.timezone)
    out = {"from": args.get("from") or (today - timedelta(days=DEFAULT_DAYS)).isoformat(),
           "to": args.get("to") or today.isoformat(),
           "account": [a for a in args.getlist("account") if a]}
    known = {a.name for a in settings.accounts}
    unknown = [a for a in out["account"] if a not in known]
    if unknown:
        abort(400, f"unknown account {', '.join(map(repr, unknown))}: use one of {', '.join(sorted(known))}")
    return out


def _report(p, policy):
    return build_report(db(), _settings(), policy, date_from=p["from"], date_to=p["to"], accounts=p["account"])


@bp.get("/moderation")
@requires("viewer")
def moderation():
    p = _period(request.args)
    error, report, policy = None, None, _policy()
    try:
        report = _report(p, policy)
    except QueryError as exc:
        error = str(exc)
    audit("web.moderation", {"from": p["from"], "to": p["to"], "accounts": p["account"],
                             "removals": len(report.rows) if report else 0})
    suggestions = {r["item_id"]: suggested_words(r["text"]) for r in report.rows} if report else {}
    return render_template("moderation.html", p=p, report=report, error=error, policy=policy,
                           categories=policy.latest.categories, suggestions=suggestions,
                           accounts=[a.name for a in _settings().accounts],
                           period=period(report) if report else "", method=METHOD), (400 if error else 200)


@bp.post("/moderation/reason/<item_id>")
@requires("records")
def reason(item_id: str):
    form = request.form
    p = _period(form)
    try:
        entry = record_reason(db(), _settings(), _policy(), item_id, form.get("category", ""),
                              note=form.get("note", ""), decided_by=form.get("decided_by") or None,
                              actor=g.user.name, now=now())
    except ArchiverError as exc:
        back = url_for("moderation.moderation", **{"from": p["from"], "to": p["to"], "account": p["account"]})
        return render_template("action.html", title="Moderation reason", message=str(exc), ok=False, jobs=False,
                               back=back), 400
    audit("web.moderation.reason", {"item": item_id, "entry": entry["id"]})
    return redirect(url_for("moderation.moderation", **{"from": p["from"], "to": p["to"], "account": p["account"]})
                    + f"#item-{item_id}", code=303)


@bp.get("/moderation/report.<fmt>")
@requires("viewer")
def report_file(fmt: str):
    if fmt not in ("pdf", "csv", "json"):
        abort(404)
    p = _period(request.args)
    try:
        report = _report(p, _policy())
    except QueryError as exc:
        abort(400, str(exc))
    audit("web.moderation.export", {"from": p["from"], "to": p["to"], "accounts": p["account"], "format": fmt})
    name = f"moderation-{p['from']}-to-{p['to']}.{fmt}"
    if fmt == "pdf":
        body, mime = render_report_pdf(report, agency=_settings().agency, now=now()), "application/pdf"
    elif fmt == "csv":
        body, mime = to_csv(report).encode("utf-8"), "text/csv; charset=utf-8"
    else:
        body, mime = to_json(report).encode("utf-8"), "application/json"
    return Response(body, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/moderation/consistency")
@requires("viewer")
def consistency():
    p = _period(request.args)
    words = (request.args.get("words") or "").strip()
    result, error = None, None
    if words:
        try:
            result = compare(db(), _settings(), words, date_from=p["from"], date_to=p["to"], accounts=p["account"])
        except QueryError as exc:
            error = str(exc)
        audit("web.moderation.consistency", {"words": words, "from": p["from"], "to": p["to"],
                                             "accounts": p["account"]})
    return render_template("consistency.html", p=p, words=words, result=result, error=error,
                           accounts=[a.name for a in _settings().accounts]), (400 if error else 200)
