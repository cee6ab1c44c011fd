"""The "Start request bundle" button: the form, the job it starts in its own process, the
jobs page, and a bag that covers exactly the search's result set (every filter of it)."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import bagit
import pytest

from archiver.errors import ExportError
from archiver.exporters import jobs
from archiver.exporters.web import start_request_bundle
from archiver.index import open_index
from archiver.search import SearchQuery, iter_matches

FORM = {"request_id": "PRR-2024-017", "requester": "Jane Q. Public", "received": "2024-04-02"}


def _post_bundle(client, web, data):
    token = web.csrf_of(client.get("/").get_data(as_text=True))
    return client.post("/actions/bundle", data={"csrf_token": token, **data})


def wait_for_job(settings, job_id: int, timeout: float = 180) -> dict:
    db = open_index(settings.index_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = jobs.get_job(db, job_id)
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s")


def latest_job(settings) -> dict:
    return jobs.list_jobs(open_index(settings.index_path), limit=1)[0]


def test_form_shows_the_search_it_will_cover(as_role):
    html = as_role("records").get("/actions/bundle?q=closure&account=sample-facebook&kind=post").get_data(as_text=True)
    # the filter in words, not date_from='…'
    assert "Posts of any date, on sample-facebook, matching the words “closure”" in html
    assert "text=" not in html and "&#39;" not in html
    assert 'name="request_id"' in html and 'name="requester"' in html and 'type="date" name="received"' in html
    assert 'type="hidden" name="kind" value="post"' in html  # the filter rides along to the POST


@pytest.mark.parametrize("data,message", [
    ({"q": "closure", **FORM, "requester": " "}, "who made the request"),
    ({"q": "closure", **FORM, "request_id": "../etc"}, "request number"),
    ({"q": "closure", **FORM, "received": "April 2"}, "YYYY-MM-DD"),
    ({**FORM}, "needs a search"),
    ({"q": '"unclosed', **FORM}, "closing double quote"),
])
def test_bad_form_is_refused_and_starts_nothing(archive, as_role, web, data, message):
    before = len(jobs.list_jobs(open_index(archive.index_path)))
    resp = _post_bundle(as_role("records"), web, data)
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert len(jobs.list_jobs(open_index(archive.index_path))) == before


def test_bundle_runs_as_a_job_and_covers_exactly_the_result_set(archive, as_role, web, tmp_path):
    client = as_role("records")
    # Filters beyond dates/words/accounts: hidden or deleted comments only, on one platform.
    search = {"status": ["hidden", "deleted"], "kind": ["comment"], "platform": ["facebook"]}
    resp = _post_bundle(client, web, {**search, **FORM})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "started as job" in body and 'id="to-jobs"' in body, body
    job = latest_job(archive)
    assert job["requested_by"] == "records" and job["params"]["filters"]["status"] == ["hidden", "deleted"]
    job = wait_for_job(archive, job["id"])
    assert job["status"] == "done", job["error"]

    bag = bagit.Bag(job["output"])
    bag.validate()  # every payload file against its sha256 manifest
    assert bag.info["WI-Request-ID"] == FORM["request_id"] and bag.info["Requester"] == FORM["requester"]
    assert "status=hidden,deleted" in bag.info["Selection-Filter"] and "kind=comment" in bag.info["Selection-Filter"]
    with open(Path(job["output"]) / "data" / "index.csv", encoding="utf-8") as fh:
        shipped = list(csv.DictReader(fh))
    query = SearchQuery(status=["hidden", "deleted"], kind=["comment"], platform=["facebook"], limit=None)
    db = open_index(archive.index_path)
    matches = list(iter_matches(db, query, archive.timezone))
    assert matches, "the demo archive has hidden/deleted Facebook comments"
    roots = {(m["account"], db.conn.execute("SELECT root FROM items WHERE id = ?", (m["id"],)).fetchone()[0])
             for m in matches}
    whole = {i for i, a, root in db.conn.execute("SELECT id, account, root FROM items") if (a, root) in roots}
    assert {r["id"] for r in shipped} == whole  # whole threads of the result set, nothing else
    assert job["summary"]["items"] == len(whole)

    html = client.get("/jobs").get_data(as_text=True)
    assert f'id="job-{job["id"]}-status">done<' in html and f"{len(whole)} item(s)" in html
    # a download, never a server path
    assert job["output"] not in html and str(Path(archive.index_path).parent) not in html
    sha = re.search(rf'id="job-{job["id"]}-sha256">([0-9a-f]{{64}})<', html).group(1)
    resp = client.get(f"/jobs/{job['id']}/download")
    assert resp.status_code == 200 and resp.mimetype == "application/zip" and resp.is_streamed
    body = resp.get_data()
    assert hashlib.sha256(body).hexdigest() == sha and f"({len(body) / 1024:,.1f} KB)" in html
    assert resp.headers["Repr-Digest"] == f"sha-256=:{base64.b64encode(bytes.fromhex(sha)).decode()}:"
    unzipped = tmp_path / "unzipped"
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert all(not n.startswith("/") and ".." not in n for n in zf.namelist())
        zf.extractall(unzipped)
    bagit.Bag(str(unzipped / Path(job["output"]).name)).validate()  # the requester's copy checks out
    assert client.get(f"/jobs/{job['id']}/download").get_data() == body  # made once, the same bytes
    actions = [a for (a,) in db.conn.execute(
        "SELECT action FROM audit_log WHERE actor = 'records' AND action IN ('web.bundle', 'export.request')")]
    assert "web.bundle" in actions and "export.request" in actions
    # Logged as `archiver request log` would: the request, and a 19.35(5) hold on what the bundle released.
    logged = db.conn.execute("SELECT requester, received, status, hold_id FROM records_requests WHERE name = ?",
                             (FORM["request_id"],)).fetchone()
    assert logged[:3] == (FORM["requester"], FORM["received"], "open")
    held = {r[0] for r in db.conn.execute("SELECT item_id FROM hold_items WHERE hold_id = ?", (logged[3],))}
    assert held == whole
    assert bag.info["WI-Request-Log-Status"] == "open"


def test_a_failing_export_is_recorded_on_the_job(archive):
    db = open_index(archive.index_path)
    out = Path(archive.index_path).parent / "exports" / "occupied"
    out.mkdir(parents=True, exist_ok=True)
    (out / "something").write_text("earlier export")
    job_id = jobs.create_job(db, "request", {"filters": {"text": "closure"}, **FORM}, lambda n: out,
                             actor="records", now=jobs.utcnow())
    with pytest.raises(ExportError, match="not empty"):
        jobs.run_job(archive, db, None, job_id)
    job = jobs.get_job(db, job_id)
    assert job["status"] == "failed" and "not empty" in job["error"] and job["finished_at"]
    with pytest.raises(ExportError, match="runs only once"):
        jobs.run_job(archive, db, None, job_id)
    detail = db.conn.execute("SELECT detail FROM audit_log WHERE action = 'export.job.failed' ORDER BY id DESC"
                             " LIMIT 1").fetchone()[0]
    assert json.loads(detail)["job"] == job_id


def test_a_worker_that_died_is_marked_failed(archive):
    db = open_index(archive.index_path)
    job_id = jobs.create_job(db, "request", {"filters": {"text": "closure"}, **FORM},
                             lambda n: Path("/nonexistent"), actor="records", now=jobs.utcnow())
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    db.conn.execute("UPDATE export_jobs SET status = 'running', pid = ? WHERE id = ?", (dead.pid, job_id))
    assert jobs.reap(db, now=jobs.utcnow()) >= 1
    job = jobs.get_job(db, job_id)
    assert job["status"] == "failed" and "ended without finishing" in job["error"]


def test_start_request_bundle_refuses_without_a_config_file(archive):
    """The job process is started with the server's config file; without one, say so and mark the job."""
    from dataclasses import replace

    settings = replace(archive, config_path=None)
    db = open_index(archive.index_path)
    with pytest.raises(ExportError, match="without a config file"):
        start_request_bundle(db, settings, {"text": "closure"}, FORM, actor="records", now=jobs.utcnow())
    assert latest_job(archive)["status"] == "failed"


def test_bundle_of_ticked_results_covers_only_their_threads(archive, as_role, web):
    client = as_role("records")
    db = open_index(archive.index_path)
    ticked = db.conn.execute("SELECT id, account, root FROM items WHERE kind = 'comment' AND account = 'sample-mastodon' "
                             "LIMIT 1").fetchone()
    assert ticked, "the demo archive has Mastodon comments"
    token = web.csrf_of(client.get("/").get_data(as_text=True))
    form = client.post("/actions/bundle/prepare", data={"csrf_token": token, "from": "2000-01-01", "item": ticked[0]})
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and "only the 1 result ticked" in html
    assert f'type="hidden" name="item" value="{ticked[0]}"' in html
    resp = client.post("/actions/bundle", data={"csrf_token": token, "from": "2000-01-01", "item": ticked[0],
                                                 **{**FORM, "request_id": "PRR-TICKED-1"}})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    job = next(j for j in jobs.list_jobs(db) if j["params"]["request_id"] == "PRR-TICKED-1")
    assert job["params"]["filters"]["ids"] == [ticked[0]]
    job = wait_for_job(archive, job["id"])
    assert job["status"] == "done", job["error"]
    with open(Path(job["output"]) / "data" / "index.csv", encoding="utf-8") as fh:
        shipped = {r["id"] for r in csv.DictReader(fh)}
    thread = {i for (i,) in db.conn.execute("SELECT id FROM items WHERE account = ? AND root = ?", ticked[1:])}
    assert shipped == thread  # the ticked comment's whole thread, nothing else


PRODUCTION = {"matter": "Doe v. City", "bates_prefix": "WEB-", "images": "pdf", "confidentiality": "CONFIDENTIAL"}


def _unzip(body: bytes, into: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert all(not n.startswith("/") and ".." not in n for n in zf.namelist())
        zf.extractall(into)


def test_production_runs_as_a_job_from_the_results(archive, as_role, web, tmp_path):
    from archiver.exporters.verify import verify

    client = as_role("legal")  # legal staff produce; a request bundle needs the records role
    form = client.get("/actions/production?platform=mastodon").get_data(as_text=True)
    assert "Items of any date, on mastodon" in form  # the filter in words
    assert 'name="matter"' in form and 'name="bates_prefix"' in form and '<option value="tiff">' in form
    token = web.csrf_of(client.get("/").get_data(as_text=True))
    resp = client.post("/actions/production", data={"csrf_token": token, "platform": "mastodon", **PRODUCTION})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "started as job" in body and 'id="to-jobs"' in body, body
    job = wait_for_job(archive, latest_job(archive)["id"])
    assert job["kind"] == "ediscovery" and job["status"] == "done", job["error"]
    assert job["requested_by"] == "legal" and job["params"]["filters"] == {"platform": ["mastodon"]}

    report = verify(job["output"])
    assert report.ok and report.kind == "e-discovery volume", report.problems
    with open(Path(job["output"]) / "DATA" / "VOL001.dat", encoding="utf-8") as fh:
        dat = fh.read()
    db = open_index(archive.index_path)
    mastodon = db.conn.execute("SELECT count(*) FROM items WHERE platform = 'mastodon'").fetchone()[0]
    assert mastodon and dat.count("\u00feWEB-") >= 2 * mastodon  # BEGBATES and ENDBATES of every item
    assert "CONFIDENTIAL" in dat and "facebook" not in dat.lower().split("\u00fePLATFORM")[0]

    html = client.get("/jobs").get_data(as_text=True)
    assert f'id="job-{job["id"]}-status">done<' in html and "Doe v. City" in html and "Bates prefix WEB-" in html
    assert f"Bates {job['summary']['first_bates']}–{job['summary']['last_bates']}" in html
    assert job["output"] not in html
    sha = re.search(rf'id="job-{job["id"]}-sha256">([0-9a-f]{{64}})<', html).group(1)
    zipped = client.get(f"/jobs/{job['id']}/download").get_data()
    assert hashlib.sha256(zipped).hexdigest() == sha
    _unzip(zipped, tmp_path / "copy")
    assert verify(tmp_path / "copy" / Path(job["output"]).name).ok  # the recipient's copy checks out


@pytest.mark.parametrize("change,message", [
    ({"matter": " "}, "name the matter"),
    ({"bates_prefix": "PD SM"}, "no spaces"),
    ({"images": "bmp"}, "page images must be one of"),
    ({"confidentiality": "X" * 41}, "at most 40"),
])
def test_bad_production_form_is_refused_and_starts_nothing(archive, as_role, web, change, message):
    before = len(jobs.list_jobs(open_index(archive.index_path)))
    client = as_role("legal")
    token = web.csrf_of(client.get("/").get_data(as_text=True))
    resp = client.post("/actions/production", data={"csrf_token": token, "q": "closure", **PRODUCTION, **change})
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert len(jobs.list_jobs(open_index(archive.index_path))) == before


def test_viewers_neither_produce_nor_see_exports(as_role, web):
    client = as_role("viewer")
    assert client.get("/jobs").status_code == 403
    assert client.get("/actions/production?q=closure").status_code == 403
    assert "start-production" not in client.get("/?q=closure").get_data(as_text=True)
    assert "start-production" in as_role("legal").get("/?q=closure").get_data(as_text=True)


def test_exports_made_on_the_command_line_are_on_the_jobs_page(archive, as_role, tmp_path):
    from tests.helpers import run_cli

    out = tmp_path / "cli-volume"
    made = run_cli("--config", str(archive.config_path), "export", "ediscovery", "--matter", "Roe v. County",
                   "--bates-prefix", "CLI-", "--from", "2000-01-01", "--to", "2100-12-31", "--account",
                   "sample-mastodon", "--out", str(out), "--actor", "clerk")
    assert made.returncode == 0, made.stderr
    bundle = tmp_path / "cli-bundle"
    made = run_cli("--config", str(archive.config_path), "export", "request", "--request-id", "PRR-CLI-1",
                   "--requester", "John Roe", "--received", "2024-05-01", "--from", "2000-01-01", "--to",
                   "2100-12-31", "--account", "sample-mastodon", "--out", str(bundle), "--actor", "clerk")
    assert made.returncode == 0, made.stderr
    again = run_cli("--config", str(archive.config_path), "export", "request", "--request-id", "PRR-CLI-1",
                    "--requester", "John Roe", "--received", "2024-05-01", "--from", "2000-01-01", "--to",
                    "2100-12-31", "--out", str(bundle), "--actor", "clerk")
    assert again.returncode != 0 and "not empty" in again.stderr

    db = open_index(archive.index_path)
    rows = [j for j in jobs.list_jobs(db) if j["params"].get("source") == "command line"]
    failed, request, production = rows[:3]  # newest first
    assert production["kind"] == "ediscovery" and production["status"] == "done"
    assert production["output"] == str(out.resolve()) and production["requested_by"] == "clerk"
    assert request["kind"] == "request" and request["status"] == "done" and request["summary"]["items"] > 0
    assert failed["status"] == "failed" and "not empty" in failed["error"]
    listed = json.loads(run_cli("--config", str(archive.config_path), "jobs", "list", "--format", "json").stdout)
    assert {"id": production["id"], "for": "Roe v. County", "from": "command line", "status": "done"}.items() <= next(
        j for j in listed if j["id"] == production["id"]).items()

    client = as_role("legal")
    html = client.get("/jobs").get_data(as_text=True)
    assert "Roe v. County" in html and "PRR-CLI-1" in html and "on the command line" in html
    assert str(out) not in html and str(tmp_path) not in html
    for job, check in ((production, lambda p: (p / "manifest-sha256.txt").is_file()),
                       (request, lambda p: bagit.Bag(str(p)).validate())):
        sha = re.search(rf'id="job-{job["id"]}-sha256">([0-9a-f]{{64}})<', html).group(1)
        zipped = client.get(f"/jobs/{job['id']}/download").get_data()
        assert hashlib.sha256(zipped).hexdigest() == sha
        copy = tmp_path / f"copy-{job['id']}"
        _unzip(zipped, copy)
        assert check(copy / Path(job["output"]).name) is not False
