"""The web UI's "Start request bundle" and "Start production": a 19.35 request bundle or an
e-discovery production of exactly the search's result set.

The records officer fills in what identifies the request (its id, the requester, the day it
was received); everything else is the search on screen, every filter of it (dates, words,
platform, account, author, kind, status, media), carried by ``Selection.from_query`` into the
same ``archiver.search`` filter the export selects with. The bundle is not made in the web
request: ``start_request_bundle`` records a job and starts its process (``jobs.launch``); the
jobs page follows it. Without a redactions file (that needs the command line) the bundle is an
unredacted release with the original WARC records and a WACZ. A production is started the same
way from the matter, the Bates prefix, the page-image format and a confidentiality stamp; its
Bates numbers continue after the last ones issued under the prefix.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any, Mapping

from ..errors import ExportError
from ..search import SearchQuery, build_where
from . import jobs
from .ediscovery import EdiscoverySpec
from .pageimages import FORMATS as IMAGE_FORMATS
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


_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$")


def production_form(form: Mapping[str, str]) -> dict[str, str]:
    """The production's matter, Bates prefix, page images and stamp from the form, checked."""
    matter = " ".join((form.get("matter") or "").split())
    prefix = (form.get("bates_prefix") or "").strip()
    images = (form.get("images") or "pdf").strip()
    confidentiality = " ".join((form.get("confidentiality") or "").split())
    if not matter or len(matter) > MAX_TEXT:
        raise ExportError(f"name the matter (e.g. Doe v. City, up to {MAX_TEXT} characters)")
    if not _PREFIX.match(prefix):
        raise ExportError("the Bates prefix must be 1-20 letters, digits, '-' or '_', no spaces (e.g. PD-SM-)")
    if images not in IMAGE_FORMATS:
        raise ExportError(f"page images must be one of: {', '.join(IMAGE_FORMATS)}")
    if len(confidentiality) > 40:
        raise ExportError("the confidentiality stamp is at most 40 characters (e.g. CONFIDENTIAL)")
    return {"matter": matter, "bates_prefix": prefix, "images": images, "confidentiality": confidentiality}


def _selection(settings, filters: Mapping[str, Any], what: str) -> tuple[dict[str, Any], Selection]:
    chosen = {k: v for k, v in filters.items() if k in FILTER_FIELDS and v not in (None, [], "")}
    if not chosen:
        raise ExportError(f"a {what} needs a search to cover (at least a date range); "
                          f"search first, then start the {what} from the results")
    selection = Selection.from_query(SearchQuery(**chosen), settings.timezone)
    build_where(selection.search_query(), selection.tz)  # a filter the export cannot run fails here, in the page
    return chosen, selection


def _start(db, settings, kind: str, params: dict[str, Any], name: str, *, actor: str, now: datetime) -> int:
    base = jobs.exports_dir(settings)
    job_id = jobs.create_job(db, kind, params, lambda n: base / f"{name}-job{n}", actor=actor, now=now)
    try:
        jobs.launch(settings, job_id)
    except ExportError as exc:
        jobs.fail(db, job_id, str(exc), now=now)
        raise
    return job_id


def start_request_bundle(db, settings, filters: Mapping[str, Any], form: Mapping[str, str], *, actor: str,
                         now: datetime) -> str:
    """Queue a request bundle of the result set ``filters`` (SearchQuery fields) and start it."""
    request = request_form(form)
    chosen, selection = _selection(settings, filters, "request bundle")
    _log_request(db, settings, request, chosen, selection, actor=actor, now=now)
    job_id = _start(db, settings, "request", {"filters": chosen, **request}, f"request-{request['request_id']}",
                    actor=actor, now=now)
    return (f"Request bundle for {request['request_id']} ({request['requester']}) started as job {job_id}: "
            f"{selection.describe()}. Follow it on the jobs page, which offers it as a download when done.")


def start_production(db, settings, filters: Mapping[str, Any], form: Mapping[str, str], *, actor: str,
                     now: datetime) -> str:
    """Queue an e-discovery production of the result set ``filters`` and start it."""
    production = production_form(form)
    chosen, selection = _selection(settings, filters, "production")
    job_id = _start(db, settings, "ediscovery", {"filters": chosen, **production},
                    f"production-{production['bates_prefix'].rstrip('-_')}", actor=actor, now=now)
    return (f"Production for {production['matter']} (Bates prefix {production['bates_prefix']}) started as job "
            f"{job_id}: {selection.describe()}. Follow it on the jobs page, which offers it as a download when done.")


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


def production_spec(settings, job: dict[str, Any]) -> EdiscoverySpec:
    params = job["params"]
    query = SearchQuery(**{k: v for k, v in params["filters"].items() if k in FILTER_FIELDS})
    return EdiscoverySpec(params["matter"], params["bates_prefix"], Selection.from_query(query, settings.timezone),
                          Path(job["output"]), actor=job["requested_by"], images=params["images"],
                          confidentiality=params["confidentiality"])


# Job kinds: the exporter (archiver.exporters.registry) and how a job's parameters become its spec.
JOB_KINDS = {"request": ("request", request_spec), "ediscovery": ("ediscovery", production_spec)}
