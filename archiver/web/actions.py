"""Actions started from a result set: place a legal hold, start a request bundle or a
production; the jobs page.

Both actions are POST forms carrying the search's own parameters (``pages.SEARCH_PARAMS``, and
nothing else), so the hold or bundle covers exactly the result set on screen (re-run through
``query_from_args``) -- or, when results are ticked, only those (``item`` fields). The fields
the user fills in (a hold's name, a request's number) are read once from the form: sent twice
they are refused (``typed_fields``). Each action is wired to its library (retention,
exporters) through ``ACTIONS``; when that library is not installed the button fails with a
message saying so -- it never pretends to have done something. A bundle or production runs as
a job in its own process (``archiver.exporters.jobs``); ``/jobs`` follows it, and lists the
exports made on the command line too.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, replace
from importlib import import_module
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, g, render_template, request, send_file, url_for
from werkzeug.datastructures import MultiDict

from .. import search as searching
from ..errors import ArchiverError, QueryError
from .auth import requires
from .bagzip import BagZip, bag_zip
from .context import audit, db, now
from .pages import SEARCH_PARAMS, one_value, query_from_args

bp = Blueprint("actions", __name__)
MAX_TICKED = 5_000


@dataclass(frozen=True)
class Action:
    title: str
    module: str      # the library module implementing it
    function: str    # its entry point: fn(db, settings, filters, form, actor, now) -> str
    what: str        # for the "not available" message
    instead: str     # what to do meanwhile
    fields: tuple[str, ...]  # what the user types on the form


ACTIONS = {
    "hold": Action("Legal hold", "archiver.retention.holds", "place_hold_from_web",
                   "legal holds (the retention feature)", "use `archiver hold add`", ("hold_name", "matter")),
    "bundle": Action("Request bundle", "archiver.exporters.web", "start_request_bundle",
                     "request bundles from the web UI", "use `archiver export request` on the server",
                     ("request_id", "requester", "received")),
    "production": Action("Production", "archiver.exporters.web", "start_production",
                         "productions from the web UI", "use `archiver export ediscovery` on the server",
                         ("matter", "bates_prefix", "images", "confidentiality")),
}
EXPORTS = ("bundle", "production")


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


def typed_fields(form, names) -> dict[str, str]:
    """The fields the user filled in, each read exactly once from the form body."""
    return {name: one_value(form, name) for name in names}


def ticked(form) -> list[str]:
    ids = sorted({v for v in form.getlist("item") if v})
    if len(ids) > MAX_TICKED:
        raise QueryError(f"more than {MAX_TICKED:,} results ticked; untick all to act on the whole search")
    return ids


def selection(form):
    """The search of the form plus the ticked results (none ticked: every match)."""
    return replace(query_from_args(form, paged=False), ids=ticked(form))


def _filters(q) -> dict:
    out = {k: v for k, v in asdict(q).items()
           if k in ("date_from", "date_to", "text", "platform", "account", "author", "kind", "status", "has_media")
           and v not in (None, [], "")}
    if q.ids:
        out["ids"] = list(q.ids)
    return out


def search_url(form) -> str:
    """The results page the action was started from (its search, not the ticks)."""
    args = MultiDict([(k, v) for k in SEARCH_PARAMS for v in form.getlist(k)])
    return url_for("pages.search", **args.to_dict(flat=False))


def _run(name: str):
    action = ACTIONS[name]
    q = selection(request.form)
    typed = typed_fields(request.form, action.fields)
    fn = _entry_point(action)
    try:
        message = fn(db(), current_app.config["SETTINGS"], _filters(q), typed, actor=g.user.name, now=now())
        ok = True
    except ArchiverError as exc:
        message, ok = str(exc), False
    audit(f"web.{name}", {"query": q.describe(), "ok": ok, "message": message})
    return render_template("action.html", title=action.title, message=message, ok=ok,
                           jobs=name in EXPORTS and ok, back=search_url(request.form)), (200 if ok else 400)


@bp.post("/actions/hold")
@requires("legal")
def hold():
    return _run("hold")


def _bundle_form(args, known: dict | None = None):
    q = selection(args)
    settings = current_app.config["SETTINGS"]
    count = searching.search(db(), replace(q, limit=1, sort="date"), settings.timezone)
    today = now().astimezone(ZoneInfo(settings.timezone)).date().isoformat()
    return render_template("bundle.html", args=args, ids=q.ids, query=describe_query(q), count=count,
                           back=search_url(args), known=known or {"received": today})


@bp.get("/actions/bundle")
@requires("records")
def bundle_form():
    """What identifies the request; the search itself rides along in hidden fields. From the
    request log (``?request=NAME``) the scope and the request's identity come from the index."""
    name = request.args.get("request")
    if name:
        from .holds import request_bundle_args

        fields, known = request_bundle_args(name)
        return _bundle_form(MultiDict([(k, v) for k, values in fields.items() for v in values]), known)
    return _bundle_form(request.args)


@bp.post("/actions/bundle/prepare")
@requires("records")
def bundle_prepare():
    """The same form, reached from the results with some of them ticked (a POST: the ticks
    travel in the body, beside the CSRF token)."""
    return _bundle_form(request.form)


@bp.post("/actions/bundle")
@requires("records")
def bundle():
    return _run("bundle")


def describe_query(q) -> str:
    """The filter in words, as a records officer would say it (not ``date_from='…'``)."""
    from .words import query_in_words

    return query_in_words(q, current_app.config["SETTINGS"].timezone)


@bp.post("/actions/production")
@requires("legal")
def production():
    return _run("production")


def _production_form(args):
    from ..exporters.pageimages import FORMATS

    q = selection(args)
    settings = current_app.config["SETTINGS"]
    count = searching.search(db(), replace(q, limit=1, sort="date"), settings.timezone)
    return render_template("production.html", args=args, ids=q.ids, query=describe_query(q), count=count,
                           back=search_url(args), formats=list(FORMATS))


@bp.get("/actions/production")
@requires("legal")
def production_form():
    """Matter, Bates prefix, images and stamp; the search rides along in hidden fields."""
    return _production_form(request.args)


@bp.post("/actions/production/prepare")
@requires("legal")
def production_prepare():
    return _production_form(request.form)


# What marks a finished export's folder: a request bundle is a BagIt bag, a production a volume
# with its sha256 manifest.
FINISHED = ("bagit.txt", "manifest-sha256.txt")


def _download(job) -> BagZip | None:
    """A finished job's export as a zip (None when its output is gone or cannot be zipped)."""
    output = Path(job["output"])
    if job["status"] != "done" or not any((output / name).is_file() for name in FINISHED):
        return None
    try:
        return bag_zip(output)
    except OSError:  # a command-line export in a folder the web server may not write beside
        current_app.logger.warning("cannot zip export job %s", job["id"], exc_info=True)
        return None


def _no_paths(text: str | None, settings, output: str) -> str | None:
    """A message without the server's folders in it (the page is for people, not the server)."""
    from ..exporters.jobs import exports_dir

    if not text:
        return text
    for path, words in ((output, "the export's folder"), (str(exports_dir(settings)), "the exports folder"),
                        (str(Path(settings.index_path).parent), "the archive folder")):
        text = text.replace(path, words)
    return text


@bp.get("/jobs")
@requires("legal")
def jobs():
    """Every export (started here or on the command line), newest first, each finished one as a
    download; the page reloads itself while any is unfinished."""
    from ..exporters.jobs import list_jobs, reap

    conn_db = db()
    settings = current_app.config["SETTINGS"]
    reap(conn_db, now=now())
    rows = list_jobs(conn_db)
    for job in rows:
        job["download"] = _download(job)
        job["error"] = _no_paths(job["error"], settings, job["output"])
    return render_template("jobs.html", jobs=rows, busy=any(j["status"] in ("queued", "running") for j in rows))


@bp.get("/jobs/<int(max=4611686018427387904):job_id>/download")
@requires("legal")
def download(job_id: int):
    """The bag as one zip, streamed from disk, with its sha256 as ``Repr-Digest``."""
    from ..exporters.jobs import get_job

    try:
        job = get_job(db(), job_id)
    except ArchiverError as exc:
        abort(404, str(exc))
    bz = _download(job)
    if bz is None:
        abort(404, f"job {job_id} has no finished bag to download ({job['status']})")
    audit("web.download.bundle", {"job": job_id, "file": bz.name, "bytes": bz.size, "sha256": bz.sha256})
    resp = send_file(bz.path, mimetype="application/zip", as_attachment=True, download_name=bz.name,
                     conditional=False, etag=False)
    resp.headers["Repr-Digest"] = f"sha-256=:{base64.b64encode(bytes.fromhex(bz.sha256)).decode()}:"
    return resp
