"""The web UI's "Start request bundle": a 19.35 request bundle of exactly the search's result set.

The records officer fills in what identifies the request (its id, the requester, the day it
was received); everything else is the search on screen, every filter of it (dates, words,
platform, account, author, kind, status, media), carried by ``Selection.from_query`` into the
same ``archiver.search`` filter the export selects with. The bundle is not made in the web
request: ``start_request_bundle`` records a job and starts its process (``jobs.launch``); the
jobs page follows it. Without a redactions file (that needs the command line) the bundle is an
unredacted release with the original WARC records and a WACZ.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any, Mapping

from ..errors import ExportError
from ..search import SearchQuery, build_where
from . import jobs
from .request import RequestSpec
from .select import Selection

FILTER_FIELDS = ("date_from", "date_to", "text", "platform", "account", "author", "kind", "status", "has_media", "ids")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_TEXT = 200


def request_form(form: Mapping[str, str]) -> dict[str, str]:
    """The request's identity from the form, checked: a message naming the field otherwise."""
    request_id = (form.get("request_id") or "").strip()
    requester = " ".join((form.get("requester") or "").split())
    received = (form.get("received") or "").strip()
    if not _ID.match(request_id):
        raise ExportError("the request number must be 1-64 letters, digits, '.', '_' or '-' "
                          "(as logged, e.g. PRR-2024-017)")
    if not requester or len(requester) > MAX_TEXT:
        raise ExportError(f"say who made the request (the requester, up to {MAX_TEXT} characters)")
    try:
        date.fromisoformat(received)
    except ValueError:
        raise ExportError("the date the request was received must be a date (YYYY-MM-DD)") from None
    return {"request_id": request_id, "requester": requester, "received": received}


def start_request_bundle(db, settings, filters: Mapping[str, Any], form: Mapping[str, str], *, actor: str,
                         now: datetime) -> str:
    """Queue a request bundle of the result set ``filters`` (SearchQuery fields) and start it."""
    request = request_form(form)
    chosen = {k: v for k, v in filters.items() if k in FILTER_FIELDS and v not in (None, [], "")}
    if not chosen:
        raise ExportError("a request bundle needs a search to cover (at least a date range); "
                          "search first, then start the bundle from the results")
    selection = Selection.from_query(SearchQuery(**chosen), settings.timezone)
    build_where(selection.search_query(), selection.tz)  # a filter the export cannot run fails here, in the page
    _log_request(db, settings, request, chosen, selection, actor=actor, now=now)
    base = jobs.exports_dir(settings)
    job_id = jobs.create_job(db, "request", {"filters": chosen, **request},
                             lambda n: base / f"request-{request['request_id']}-job{n}", actor=actor, now=now)
    try:
        jobs.launch(settings, job_id)
    except ExportError as exc:
        jobs.fail(db, job_id, str(exc), now=now)
        raise
    return (f"Request bundle for {request['request_id']} ({request['requester']}) started as job {job_id}: "
            f"{selection.describe()}. Follow it on the jobs page, which offers it as a download when done.")


def _log_request(db, settings, request: dict[str, str], filters: Mapping[str, Any], selection: Selection, *,
                 actor: str, now: datetime) -> None:
    """A bundle started here logs its request (and the request's 19.35(5) hold) as
    ``archiver request log`` does, unless the request is in the log already."""
    from ..retention.holds import log_request, request_logged

    if not request_logged(db, request["request_id"]):
        log_request(db, settings, request["request_id"], requester=request["requester"],
                    received=date.fromisoformat(request["received"]),
                    description=f"request bundle started in the web UI: {selection.describe()}",
                    filters=dict(filters), actor=actor, now=now)


def request_spec(settings, job: dict[str, Any]) -> RequestSpec:
    """The job's parameters as the request exporter's spec (in the worker process)."""
    params = job["params"]
    query = SearchQuery(**{k: v for k, v in params["filters"].items() if k in FILTER_FIELDS})
    return RequestSpec(params["request_id"], params["requester"], params["received"],
                       Selection.from_query(query, settings.timezone), Path(job["output"]),
                       actor=job["requested_by"])


# Job kinds: the exporter (archiver.exporters.registry) and how a job's parameters become its spec.
JOB_KINDS = {"request": ("request", request_spec)}
