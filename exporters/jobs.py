"""Exports started from the web UI, run as jobs outside the web request.

A job is a row of ``export_jobs``: queued -> running -> done | failed, with who asked, when it
started and finished, where the export is written and what went wrong. The web process only
records the job and starts ``archiver --config CONFIG jobs run ID`` as a process of its own
(``launch``): a bundle renders a PDF per thread for minutes and must neither hold up the page
nor compete for the web server's interpreter lock. That process claims the job (so it runs
once), runs the exporter and records the outcome. A worker that dies without recording one
(killed, out of memory) is noticed when its process is gone (``reap``) and marked failed.

An export made on the command line is recorded the same way (``run_recorded``), so the jobs
page lists every bundle and production with its download, wherever it was started.

    run_job(settings, db, store, job_id, now=...)   # what `archiver jobs run` calls
    run_recorded(kind, settings, db, store, spec, params, now=...)   # `archiver export ...`
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from .. import audit
from ..errors import ArchiverError, ExportError
from ..index import open_index, transaction
from ..timefmt import iso, utcnow
from . import registry

COLUMNS = ("id", "kind", "status", "requested_by", "requested_at", "params", "output", "pid", "started_at",
           "finished_at", "summary", "error")
ACTIVE = ("queued", "running")


def exports_dir(settings) -> Path:
    value = settings["web.exports_dir"]
    return Path(value) if value else settings.index_path.parent / "exports"


def create_job(db, kind: str, params: dict[str, Any], output: Callable[[int], Path], *, actor: str,
               now: datetime) -> int:
    """Record a queued job; ``output(job_id)`` names its (new) output directory."""
    with transaction(db):
        job_id = db.conn.execute(
            "INSERT INTO export_jobs (kind, status, requested_by, requested_at, params, output)"
            " VALUES (?, 'queued', ?, ?, ?, '')", (kind, actor, iso(now), json.dumps(params, sort_keys=True))).lastrowid
        db.conn.execute("UPDATE export_jobs SET output = ? WHERE id = ?", (str(output(job_id)), job_id))
    return job_id


def _row(r) -> dict[str, Any]:
    job = dict(zip(COLUMNS, r))
    job["params"] = json.loads(job["params"])
    job["summary"] = json.loads(job["summary"]) if job["summary"] else None
    return job


def get_job(db, job_id: int) -> dict[str, Any]:
    r = db.conn.execute(f"SELECT {', '.join(COLUMNS)} FROM export_jobs WHERE id = ?", (job_id,)).fetchone()
    if r is None:
        raise ExportError(f"no export job {job_id} (see `archiver jobs list`)")
    return _row(r)


def list_jobs(db, *, limit: int = 100) -> list[dict[str, Any]]:
    """The latest jobs, newest first."""
    cur = db.conn.execute(f"SELECT {', '.join(COLUMNS)} FROM export_jobs ORDER BY id DESC LIMIT ?", (limit,))
    return [_row(r) for r in cur]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, under another user
    return True


def reap(db, *, now: datetime, alive: Callable[[int], bool] = _alive) -> int:
    """Mark failed the running jobs whose worker process no longer exists."""
    gone = [(job_id, pid) for job_id, pid in db.conn.execute(
        "SELECT id, pid FROM export_jobs WHERE status = 'running' AND pid IS NOT NULL") if not alive(pid)]
    for job_id, pid in gone:
        fail(db, job_id, f"the worker process ({pid}) ended without finishing; start the export again", now=now)
    return len(gone)


def _claim(db, job_id: int, now: datetime) -> dict[str, Any]:
    with transaction(db):
        job = get_job(db, job_id)
        if job["status"] != "queued":
            raise ExportError(f"export job {job_id} is {job['status']}, not queued: it runs only once")
        db.conn.execute("UPDATE export_jobs SET status = 'running', started_at = ?, pid = ? WHERE id = ?",
                        (iso(now), os.getpid(), job_id))
    return job


def finish(db, job_id: int, summary: dict[str, Any], *, now: datetime) -> None:
    with transaction(db):
        db.conn.execute("UPDATE export_jobs SET status = 'done', finished_at = ?, summary = ? WHERE id = ?",
                        (iso(now), json.dumps(summary, sort_keys=True), job_id))


def fail(db, job_id: int, error: str, *, now: datetime) -> None:
    """Record the failure (only of a job still queued or running: an outcome is final)."""
    with transaction(db):
        db.conn.execute(
            "UPDATE export_jobs SET status = 'failed', finished_at = ?, error = ? WHERE id = ? AND status IN (?, ?)",
            (iso(now), error, job_id, *ACTIVE))


def run_job(settings, db, store, job_id: int, *, now: Callable[[], datetime] = utcnow) -> dict[str, Any]:
    """Claim a queued job, run its export, record and return the outcome. An error is recorded
    on the job (and audited with the user who started it) before it propagates."""
    from .web import JOB_KINDS  # the web form's parameters -> the exporter's spec

    job = _claim(db, job_id, now())
    exporter, build = JOB_KINDS[job["kind"]]
    _run_claimed(job, exporter, lambda: build(settings, job), settings, db, store, now=now)
    return get_job(db, job_id)


def run_recorded(kind: str, settings, db, store, spec, params: dict[str, Any], *,
                 now: Callable[[], datetime] = utcnow):
    """Run an export started on the command line as a job of its own: recorded, claimed at once
    by this process, its outcome kept, so the jobs page offers its download like a web job's.
    ``params`` says what identifies it (request number, matter) in the page."""
    job_id = create_job(db, kind, {**params, "source": "command line"}, lambda _: Path(spec.out).resolve(),
                        actor=spec.actor, now=now())
    job = _claim(db, job_id, now())
    return _run_claimed(job, kind, lambda: spec, settings, db, store, now=now)


def _run_claimed(job: dict[str, Any], exporter: str, build: Callable[[], Any], settings, db, store, *,
                 now: Callable[[], datetime]):
    job_id = job["id"]
    try:
        spec = build()
        result = registry.run(exporter, settings, db, store, spec, now=now())
    except BaseException as exc:
        # Recorded, then raised on: the job must not stay "running" after its process ends.
        message = str(exc) if isinstance(exc, ArchiverError) else f"{type(exc).__name__}: {exc}"
        fail(db, job_id, message or type(exc).__name__, now=now())
        with transaction(db):
            audit.append(db, job["requested_by"], "export.job.failed", {"job": job_id, "error": message}, now=now())
        raise
    finish(db, job_id, summarize(result), now=now())
    return result


def summarize(result) -> dict[str, Any]:
    """The numbers of an exporter's result worth showing on the jobs page."""
    keep = ("threads", "items", "records", "redactions", "pages", "denied", "fingerprint", "warnings",
            "documents", "families", "first_bates", "last_bates", "withheld")
    return {k: getattr(result, k) for k in keep if hasattr(result, k)}


def launch(settings, job_id: int, *, python: str = sys.executable) -> subprocess.Popen:
    """Start ``archiver jobs run`` for the job in its own process and session (it outlives a
    restart of the web server), logging to ``<exports dir>/jobs/<id>.log``. A thread waits
    for it, so it does not linger as a zombie, and records a failure it could not."""
    if settings.config_path is None:
        raise ExportError("the web server was started without a config file, so an export process "
                          "cannot be started with the same settings; run `archiver serve --config PATH`")
    logs = exports_dir(settings) / "jobs"
    try:
        logs.mkdir(parents=True, exist_ok=True)
        log = open(logs / f"{job_id}.log", "ab")
    except OSError as exc:
        raise ExportError(f"cannot write the job log under {logs}: {exc.strerror}") from None
    with log:
        proc = subprocess.Popen(
            [python, "-m", "archiver", "--config", str(settings.config_path), "jobs", "run", str(job_id)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True)
    threading.Thread(target=_watch, args=(settings, job_id, proc), daemon=True,
                     name=f"export-job-{job_id}").start()
    return proc


def _watch(settings, job_id: int, proc: subprocess.Popen) -> None:
    code = proc.wait()
    if code != 0:
        db = open_index(settings.index_path)
        try:
            fail(db, job_id, f"the export process exited with status {code}; see "
                             f"{exports_dir(settings) / 'jobs' / f'{job_id}.log'}", now=utcnow())
        finally:
            db.conn.close()
