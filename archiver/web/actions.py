"""Actions started from a result set: place a legal hold, start a request bundle; the jobs page.

Both actions are POST forms carrying the search's own parameters, so the hold or bundle
covers exactly the result set on screen (re-run through ``query_from_args``). Each is wired
to its library (retention, exporters) through ``ACTIONS``; when that library is not installed
the button fails with a message saying so — it never pretends to have done something. A
bundle runs as a job in its own process (``archiver.exporters.jobs``); ``/jobs`` follows it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from importlib import import_module
from typing import Callable
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, g, render_template, request

from .. import search as searching
from ..errors import ArchiverError
from .auth import requires
from .context import audit, db, now
from .pages import query_from_args

bp = Blueprint("actions", __name__)


@dataclass(frozen=True)
class Action:
    title: str
    module: str      # the library module implementing it
    function: str    # its entry point: fn(db, settings, filters, form, actor, now) -> str
    what: str        # for the "not available" message
    instead: str     # what to do meanwhile


ACTIONS = {
    "hold": Action("Legal hold", "archiver.retention.holds", "place_hold_from_web",
                   "legal holds (the retention feature)", "use `archiver hold add`"),
    "bundle": Action("Request bundle", "archiver.exporters.web", "start_request_bundle",
                     "request bundles from the web UI", "use `archiver export request` on the server"),
}


def _entry_point(action: Action) -> Callable:
    try:
        module = import_module(action.module)
    except ModuleNotFoundError:
        module = None
    fn = getattr(module, action.function, None) if module else None
    if fn is None:
        abort(501, f"{action.title}: {action.what} is not available in this installation "
                   f"({action.module}.{action.function} is missing); nothing was done — {action.instead}.")
    return fn


def _filters(q) -> dict:
    return {k: v for k, v in asdict(q).items()
            if k in ("date_from", "date_to", "text", "platform", "account", "author", "kind", "status", "has_media")
            and v not in (None, [], "")}


def _run(name: str):
    action = ACTIONS[name]
    q = query_from_args(request.form, paged=False)
    fn = _entry_point(action)
    try:
        message = fn(db(), current_app.config["SETTINGS"], _filters(q), request.form, actor=g.user.name, now=now())
        ok = True
    except ArchiverError as exc:
        message, ok = str(exc), False
    audit(f"web.{name}", {"query": q.describe(), "ok": ok, "message": message})
    return render_template("action.html", title=action.title, message=message, ok=ok, jobs=name == "bundle" and ok), \
        (200 if ok else 400)


@bp.post("/actions/hold")
@requires("legal")
def hold():
    return _run("hold")


@bp.get("/actions/bundle")
@requires("records")
def bundle_form():
    """What identifies the request; the search itself rides along in hidden fields."""
    q = query_from_args(request.args, paged=False)
    settings = current_app.config["SETTINGS"]
    count = searching.search(db(), replace(q, limit=1, sort="date"), settings.timezone)
    return render_template("bundle.html", args=request.args, query=q.describe(), count=count,
                           today=now().astimezone(ZoneInfo(settings.timezone)).date().isoformat())


@bp.post("/actions/bundle")
@requires("records")
def bundle():
    return _run("bundle")


@bp.get("/jobs")
@requires("records")
def jobs():
    """Exports started here, newest first; the page reloads itself while any is unfinished."""
    from ..exporters.jobs import list_jobs, reap

    conn_db = db()
    reap(conn_db, now=now())
    rows = list_jobs(conn_db)
    return render_template("jobs.html", jobs=rows, busy=any(j["status"] in ("queued", "running") for j in rows))
