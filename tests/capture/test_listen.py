"""The listen driver on loopback: the targeted capture each Graph delivery triggers, through the
nightly pipeline, against the simulator; deliveries that wait for the archive's lock; and the
command that serves the endpoint and flushes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta

import pytest

from archiver.capture import collect
from archiver.capture.listen import Listener
from archiver.health import check_health
from archiver.index import open_index
from archiver.lock import writer_lock
from archiver.reindex import reindex
from archiver.replay.facebook import FbComment
from archiver.store import open_store
from tests.helpers import files_containing, warc_files
from tests.listen.support import ENV, NOW, SECRET, TOKEN, VERIFY, archived_page, feed_change, sign


@pytest.fixture
def page(replay, make_config):
    return archived_page(replay, make_config)


def test_a_delivery_is_captured_through_the_nightly_pipeline_within_one_flush(page, replay):
    sim, settings = page
    post = sim.posts[0]
    hidden, removed = post.comments[0], post.comments[2]
    hidden.is_hidden = True
    removed.deleted = True
    post.comments.append(FbComment(id="101_8888", message="threat posted at 9:00", created_time=NOW,
                                   author_name="Angry Person", author_id="777"))
    listener = Listener(settings, ENV, now=lambda: NOW + timedelta(minutes=20))
    client = listener.receiver.app.test_client()
    for verb, comment in (("add", "101_8888"), ("hide", hidden.id), ("remove", removed.id)):
        body = feed_change(post.id, verb, comment)
        assert client.post("/webhooks/graph", data=body, headers={"X-Hub-Signature-256": sign(body)}).status_code == 200
    before = len(replay.requests_matching(r"/1000001/posts"))
    other = len(replay.requests_matching(r"1000001_103/comments"))
    report = listener.flush()
    assert report.captured == {"ocpd-facebook": "ok"} and report.waiting == 0
    assert listener.pending.waiting() == []
    db = open_index(settings.index_path)
    status = dict(db.conn.execute("SELECT platform_id, status FROM items"))
    assert status["101_8888"] == "live" and status[hidden.id] == "hidden" and status[removed.id] == "deleted"
    # Only the named thread was read: no listing of the page's posts, no other post's comments.
    assert len(replay.requests_matching(r"/1000001/posts")) == before
    assert len(replay.requests_matching(r"1000001_103/comments")) == other
    run = db.conn.execute("SELECT driver, status FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
    assert run == ("listen", "ok")
    # The three deliveries are in the WARC, exactly as received, beside the capture.
    notes = [n for p in warc_files(settings.index_path.parent) for n in _webhook_notes(p)]
    assert len(notes) == 3 and all(json.loads(n["body"])["object"] == "page" for n in notes)
    assert not files_containing(settings.index_path.parent, TOKEN)
    assert not files_containing(settings.index_path.parent, SECRET)


def test_the_moderation_record_gives_the_platforms_time_of_a_hide_a_webhook_told_of(page):
    from archiver.moderation.entries import moderation_rows
    from archiver.moderation.policy import load_policy
    from archiver.moderation.report import build_report, to_csv

    sim, settings = page
    post = sim.posts[0]
    posted, hidden_at = NOW + timedelta(hours=1), NOW + timedelta(hours=1, minutes=20)  # 09:00, 09:20 UTC
    threat = FbComment(id="101_9100", message="threat posted at 9:00", created_time=posted,
                       author_name="Angry Person", author_id="777")
    post.comments.append(threat)
    clock = [posted + timedelta(minutes=1)]
    listener = Listener(settings, ENV, now=lambda: clock[0])
    client = listener.receiver.app.test_client()

    def deliver(verb: str, at: datetime) -> None:
        body = json.dumps({"object": "page", "entry": [{"id": "1000001", "time": int(at.timestamp()) + 2, "changes": [
            {"field": "feed", "value": {"item": "comment", "verb": verb, "post_id": post.id, "comment_id": threat.id,
                                        "parent_id": post.id, "created_time": int(at.timestamp()),
                                        "from": {"id": "777", "name": "Angry Person"}}}]}]}).encode()
        assert client.post("/webhooks/graph", data=body, headers={"X-Hub-Signature-256": sign(body)}).status_code == 200

    deliver("add", posted)
    assert listener.flush().captured == {"ocpd-facebook": "ok"}
    threat.is_hidden = True
    deliver("hide", hidden_at)
    clock[0] = hidden_at + timedelta(minutes=1)  # the next flush, at 09:21
    assert listener.flush().captured == {"ocpd-facebook": "ok"}
    db = open_index(settings.index_path)
    report = build_report(db, settings, load_policy(None), date_from="2026-11-20", date_to="2026-11-20")
    (row,) = [r for r in report.rows if r["text"] == "threat posted at 9:00"]
    assert row["removal"] == "hidden" and row["posted_at"].startswith("2026-11-20T09:00")
    assert row["platform_time"] == "2026-11-20T09:20:00Z"  # the platform's time of the hide
    assert row["detected_at"] >= "2026-11-20T09:21"  # beside the capture that found it
    assert "2026-11-20T09:20:00Z" in to_csv(report)
    (entry,) = moderation_rows(db, [row["item_id"]])
    assert entry["platform_time"] == "2026-11-20T09:20:00Z"
    # The index is derived: rebuilt from the WARC alone, it gives the platform's time again
    # (the delivery's note carries the act it told of).
    rebuilt = settings.index_path.parent / "rebuilt.db"
    reindex(open_store(settings), settings.index_path, into=rebuilt)
    (again,) = moderation_rows(open_index(rebuilt), [row["item_id"]])
    assert again["platform_time"] == "2026-11-20T09:20:00Z"


def _webhook_notes(path):
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_headers.get_header("Archiver-Metadata") == "webhook/1":
                yield json.loads(rec.content_stream().read())


def test_deliveries_wait_while_the_nightly_job_holds_the_archive(page):
    sim, settings = page
    listener = Listener(settings, ENV)
    body = feed_change(sim.posts[1].id, "add", sim.posts[1].comments[0].id)
    listener.receiver.app.test_client().post("/webhooks/graph", data=body, headers={"X-Hub-Signature-256": sign(body)})
    with writer_lock(settings.index_path, "collect"):
        report = listener.flush()
    assert report.waiting == 1 and report.captured == {} and len(listener.pending.waiting()) == 1
    assert listener.flush().captured == {"ocpd-facebook": "ok"} and listener.pending.waiting() == []


def test_a_listener_run_never_hides_a_failed_night_from_the_morning_check(page):
    sim, settings = page
    sim.expired = True
    assert not collect(settings, environ=ENV, now=NOW + timedelta(days=1)).ok
    sim.expired = False
    listener = Listener(settings, ENV, now=lambda: NOW + timedelta(days=1, hours=1))
    body = feed_change(sim.posts[1].id, "add", sim.posts[1].comments[0].id)
    listener.receiver.app.test_client().post("/webhooks/graph", data=body, headers={"X-Hub-Signature-256": sign(body)})
    assert listener.flush().captured == {"ocpd-facebook": "ok"}
    health = check_health(open_index(settings.index_path), ["ocpd-facebook"], now=NOW + timedelta(days=1, hours=2))
    assert not health.ok and "failed" in health.accounts[0].message


def test_a_delivery_for_no_configured_account_is_set_aside(page):
    _, settings = page
    listener = Listener(settings, ENV)
    body = feed_change("555_1", "add", "1_2", page="555")
    listener.receiver.app.test_client().post("/webhooks/graph", data=body, headers={"X-Hub-Signature-256": sign(body)})
    report = listener.flush()
    assert report.unmatched == 1 and listener.pending.waiting() == []
    assert len(list(listener.pending.unmatched_dir.glob("*.json"))) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_command_serves_refuses_unsigned_and_stops_cleanly(page, tmp_path):
    _, settings = page
    port = _free_port()
    cfg = settings.config_path
    cfg.write_text(cfg.read_text() + f"\n[listen]\nport = {port}\nflush_seconds = 0.5\n")
    env = {**os.environ, **ENV}
    proc = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(cfg), "listen"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}/webhooks/graph"
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{url}?hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=77") as r:
                    assert r.read() == b"77"
                break
            except urllib.error.URLError:
                time.sleep(0.1)
        else:
            pytest.fail("the listener did not start")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url, data=b'{"object":"page"}', method="POST"))
        assert refused.value.code == 403
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "listener stopped" in err and TOKEN not in err and SECRET not in err
