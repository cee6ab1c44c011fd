"""Facebook Pages end to end: Graph-shaped replay -> capture -> WARC -> store -> index."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from archiver.capture import collect
from archiver.config import load_settings
from archiver.index import open_index
from archiver.replay.facebook import FacebookSimulator, FbComment, throttle_body
from archiver.replay.samples import HOSTILE, facebook_next_night, facebook_sample
from tests.helpers import files_containing, versions_of, warc_files, warcio_check

TOKEN = "EAAGtestPAGEtoken|with/odd+chars=="
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def page(replay):
    sim = FacebookSimulator("1000001", "Oak Creek Police Department", token=TOKEN)
    base = replay.mount(sim)
    facebook_sample(sim, NOW - timedelta(days=1))
    return sim, f"{base}/{sim.version}"


def _account(api_base, name="ocpd-facebook", **extra):
    return {"name": name, "platform": "facebook", "id": "1000001", "token_env": "OCPD_FB_TOKEN",
            "api_base": api_base, **extra}


def _run(cfg, now=NOW, environ=None, **kw):
    settings = load_settings(cfg, environ={})
    return settings, collect(settings, environ={"OCPD_FB_TOKEN": TOKEN} if environ is None else environ,
                             now=now, **kw)


def _items(settings):
    db = open_index(settings.index_path)
    cur = db.conn.execute("SELECT platform_id, kind, parent, status, versions, text, author FROM items")
    return {r[0]: dict(zip(("platform_id", "kind", "parent", "status", "versions", "text", "author"), r)) for r in cur}


def test_two_nights_new_edit_hide_delete(page, make_config, tmp_path):
    sim, api = page
    p3 = sim.posts[2]
    p3.comments.append(FbComment(id="103_7777", message="still here, just not listed", created_time=NOW - timedelta(hours=5)))
    cfg = make_config([_account(api)])
    settings, report = _run(cfg)
    assert report.ok, report.results
    items = _items(settings)
    assert len(items) == 3 + 9  # posts + comments (incl. the one we unlist tomorrow)
    reply = next(i for i in items.values() if i["kind"] == "reply")
    assert reply["parent"] == sim.posts[0].comments[0].id
    # Hostile text is stored exactly as the platform sent it.
    assert {i["text"] for i in items.values()} >= set(HOSTILE[:4])

    facebook_next_night(sim, NOW)
    p3.comments[-1].unlisted = True  # absent from the list, but GET /{id} still answers
    settings, report = _run(cfg, now=NOW + timedelta(days=1))
    assert report.ok
    items = _items(settings)
    assert items[sim.posts[0].id]["status"] == "edited" and items[sim.posts[0].id]["versions"] == 2
    assert items[sim.posts[0].comments[2].id]["status"] == "hidden"
    assert items[sim.posts[2].comments[1].id]["status"] == "deleted"
    assert items["103_7777"]["status"] == "live", "absence alone must never mean deletion"
    assert items[sim.posts[1].comments[-1].id]["kind"] == "reply"
    db = open_index(settings.index_path)
    # Every version is kept, nothing overwritten: the original post text is still there.
    texts = [v["text"] for v in versions_of(settings, sim.posts[0].id)]
    assert texts[0].endswith("5am.") and texts[1].endswith("reopened at 4am.")
    events = {r[0] for r in db.conn.execute("SELECT event FROM events")}
    assert events == {"edited", "hidden", "deleted"}  # "new" is each item's first sighting, not a row
    # The deletion is tied to the Graph 100/33 answer, archived.
    rec = db.conn.execute(
        "SELECT r.http_status, r.target_uri FROM events e JOIN records r ON r.id = e.record"
        " WHERE e.event = 'deleted'").fetchone()
    assert rec[0] == 400 and rec[1].endswith("fields=id&access_token=REDACTED")


@pytest.mark.parametrize("paging", ["time", "cursor"])
def test_both_paging_styles(replay, make_config, paging):
    sim = FacebookSimulator("1000001", token=TOKEN, post_paging=paging, page_size=2)
    base = replay.mount(sim)
    facebook_sample(sim, NOW - timedelta(days=1))
    settings, report = _run(make_config([_account(f"{base}/{sim.version}")]))
    assert report.ok
    assert len(_items(settings)) == 11
    key = "__paging_token=" if paging == "time" else "after="
    assert any(key in target for target in replay.requests_matching(r"/1000001/posts"))
    assert len(replay.requests_matching(r"/1000001/posts")) == 2  # 3 posts, 2 per page


def test_throttle_then_success_and_502(page, replay, make_config):
    sim, api = page
    replay.inject(r"/comments", 403, throttle_body(4), times=1)
    replay.inject(r"/1000001/posts", 502, "<html>Bad Gateway</html>", times=1)
    settings, report = _run(make_config([_account(api)]))
    r = report.results[0]
    assert r.status == "ok" and len(_items(settings)) == 11
    db = open_index(settings.index_path)
    statuses = [row[0] for row in db.conn.execute("SELECT http_status FROM records WHERE type = 'response'")]
    assert 403 in statuses and 502 in statuses  # the failed attempts are archived too
    run = db.conn.execute("SELECT throttled, retries FROM runs").fetchone()
    assert run[0] == 1 and run[1] >= 2


def test_persistent_throttle_checkpoints_and_resumes(page, replay, make_config):
    sim, api = page
    replay.inject(r"1000001_102/comments", 400, throttle_body(613), times=50)
    cfg = make_config([_account(api)])
    settings, report = _run(cfg)
    r = report.results[0]
    assert r.status == "throttled" and report.ok  # deferred, not failed
    db = open_index(settings.index_path)
    checkpoint = json.loads(db.conn.execute("SELECT data FROM checkpoints").fetchone()[0])
    assert checkpoint["threads_done"] == ["1000001_103"]  # newest first; 102 was cut short
    replay.faults.clear()
    before = replay.requests_matching(r"1000001_103/comments")
    settings, report = _run(cfg, now=NOW + timedelta(hours=1))
    assert report.results[0].status == "ok"
    assert replay.requests_matching(r"1000001_103/comments") == before, "finished thread is not re-read"
    assert len(_items(settings)) == 11
    assert db.conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0] == 0
    assert db.conn.execute("SELECT count(*) FROM versions").fetchone()[0] == 11


def test_expired_token_fails_that_account_only(replay, page, make_config, tmp_path):
    sim, api = page
    expired = FacebookSimulator("1000001", token=TOKEN)
    expired.prefix = "fbexpired"
    expired.expired = True
    exp_base = replay.mount(expired)
    cfg = make_config([_account(api), _account(f"{exp_base}/v21.0", name="ocpd-expired")])
    settings, report = _run(cfg)
    by = {r.account: r for r in report.results}
    assert by["ocpd-facebook"].status == "ok"
    bad = by["ocpd-expired"]
    assert bad.status == "failed" and not report.ok
    assert "ocpd-expired" in bad.message and "463" in bad.message and "OCPD_FB_TOKEN" in bad.message
    assert "expired" in bad.message
    assert files_containing(tmp_path, TOKEN) == []


def test_missing_token_variable(page, make_config):
    sim, api = page
    settings, report = _run(make_config([_account(api)]), environ={})
    r = report.results[0]
    assert r.status == "failed" and "OCPD_FB_TOKEN" in r.message and "ocpd-facebook" in r.message


def test_malformed_page_is_kept_and_reported(page, replay, make_config):
    sim, api = page
    replay.inject(r"1000001_102/comments", 200, '{"data": [ {"id": "broken"', times=20)
    settings, report = _run(make_config([_account(api)]))
    r = report.results[0]
    # Kept in the WARC and reported: the rest is captured, but the night is not "ok".
    assert r.status == "partial" and not report.ok and any("1000001_102" in p for p in r.problems)
    assert "1000001_102" in r.message and "malformed" in r.message
    items = _items(settings)
    assert sim.posts[0].comments[0].id in items  # other threads still captured
    db = open_index(settings.index_path)
    kept = db.conn.execute("SELECT count(*) FROM records WHERE target_uri LIKE '%1000001_102/comments%'"
                           " AND type = 'response' AND http_status = 200").fetchone()[0]
    assert kept >= 1
    # The thread was incomplete, so none of its comments became deletion candidates.
    assert db.conn.execute("SELECT count(*) FROM thread_scans WHERE root = '1000001_102'").fetchone()[0] == 0
    assert db.conn.execute("SELECT status FROM runs").fetchone()[0] == "partial"


def test_hostile_and_huge_text_stored_exactly(replay, make_config):
    sim = FacebookSimulator("1000001", token=TOKEN)
    base = replay.mount(sim)
    huge = ("\u05e9\u05dc\u05d5\u05dd \U0001F469\u200D\U0001F692 " * 6000)[:100_000]
    lone = "broken surrogate \ud83d here"
    post = sim.add_post(1, "<b>post</b>", NOW - timedelta(days=2))
    for n, text in enumerate(HOSTILE + [huge, lone, "zero\u200b\u200cwidth\ufeff"]):
        post.comments.append(FbComment(id=f"1_{n}", message=text, created_time=NOW - timedelta(days=1, minutes=n)))
    settings, report = _run(make_config([_account(f"{base}/{sim.version}")]))
    assert report.ok
    items = _items(settings)
    for n, text in enumerate(HOSTILE + [huge]):
        assert items[f"1_{n}"]["text"] == text
    # A lone surrogate cannot be UTF-8: the index shows U+FFFD, the native JSON keeps the escape.
    assert items[f"1_{len(HOSTILE) + 1}"]["text"] == "broken surrogate \ufffd here"
    db = open_index(settings.index_path)
    native = versions_of(settings, f"1_{len(HOSTILE) + 1}")[0]["native"]
    assert json.loads(native)["message"] == lone


def test_object_lock_bucket_gets_retain_until(page, make_config, s3_bucket):
    sim, api = page
    url, endpoint, client = s3_bucket
    settings, report = _run(make_config([_account(api)], storage=url, endpoint=endpoint))
    assert report.ok, report.results[0].message
    db = open_index(settings.index_path)
    objects = db.conn.execute("SELECT key, sha256, retain_until FROM objects").fetchall()
    assert objects
    bucket = url[5:].split("/")[0]
    for key, sha, retain in objects:
        head = client.head_object(Bucket=bucket, Key=f"records/{key}")
        assert head["ObjectLockMode"] == "GOVERNANCE"
        years = (head["ObjectLockRetainUntilDate"] - datetime.now(timezone.utc)).days / 365.25
        assert 6.9 < years < 7.1 and retain is not None
        assert head["Metadata"]["sha256"] == sha
    assert list((settings.spool_dir).rglob("*.warc.gz")) == []


def test_unchanged_rerun_writes_revisits(page, make_config, tmp_path):
    sim, api = page
    cfg = make_config([_account(api)])
    settings, _ = _run(cfg)
    settings, _ = _run(cfg, now=NOW + timedelta(days=1))
    db = open_index(settings.index_path)
    sizes = [r[0] for r in db.conn.execute("SELECT size FROM objects ORDER BY stored_at, key")]
    kinds = dict(db.conn.execute(
        "SELECT type, count(*) FROM records WHERE object_key = (SELECT key FROM objects ORDER BY stored_at DESC,"
        " key DESC LIMIT 1) GROUP BY type").fetchall())
    assert kinds.get("revisit", 0) >= 4 and "response" not in kinds
    assert sizes[1] < sizes[0]
    for path in warc_files(tmp_path / "data" / "store"):
        res = warcio_check(path)
        assert res.returncode == 0, res.stdout + res.stderr


def test_a_failing_next_listing_page_still_lets_the_read_post_finish(replay, make_config):
    # The walk takes the next post before reading a thread (to read its comments ahead); when
    # that needs a listing page the platform refuses, the post already read keeps its thread.
    sim = FacebookSimulator("1000001", token=TOKEN, post_paging="cursor", page_size=2)
    base = replay.mount(sim)
    facebook_sample(sim, NOW - timedelta(days=1))
    replay.inject(r"/1000001/posts\?.*after=", 400, throttle_body(613), times=50)
    settings, report = _run(make_config([_account(f"{base}/{sim.version}")]))
    assert report.results[0].status == "throttled"
    db = open_index(settings.index_path)
    checkpoint = json.loads(db.conn.execute("SELECT data FROM checkpoints").fetchone()[0])
    newest = sorted(sim.posts, key=lambda p: p.created_time, reverse=True)[:2]  # the listing's first page
    first_page = [p.id for p in newest]
    assert sorted(checkpoint["threads_done"]) == sorted(first_page)
    items = _items(settings)
    assert {i["platform_id"] for i in items.values() if i["kind"] == "post"} == set(first_page)
    assert len(items) == 2 + sum(len(p.comments) for p in newest)
    # Each comment page was read once, ahead of its turn or not.
    pages = replay.requests_matching(r"/comments")
    assert pages and len(pages) == len(set(pages))


def test_comments_known_only_by_permalink_get_their_id_and_parent_from_it():
    # Page Public Content Access answers comments without id/parent: both come from the permalink.
    from archiver.collectors.facebook import FacebookCollector
    from archiver.config import AccountConfig

    fb = FacebookCollector(AccountConfig("ocpd", "facebook", "1000001"), token=None)
    base = "https://www.facebook.com/1000001/posts/10000/?comment_id="
    comment = fb.parse_comment({"permalink_url": base + "555", "message": "a comment"}, "1000001_10000")
    reply = fb.parse_comment({"permalink_url": base + "555&reply_comment_id=777", "message": "a reply"},
                             "1000001_10000")
    assert (comment.platform_id, comment.kind, comment.parent) == ("10000_555", "comment", "1000001_10000")
    assert (reply.platform_id, reply.kind, reply.parent) == ("10000_777", "reply", "10000_555")


def test_a_thread_that_keeps_failing_costs_that_thread_not_the_night(page, replay, make_config):
    """Persistent 500 on one comments edge: that thread is a problem and is read again next
    night; the rest of the account is captured, and the night ends partial (exit 1), not failed."""
    sim, api = page
    p1, p2, p3 = sim.posts[:3]
    replay.inject(rf"{p2.id}/comments", 500, {"error": {"message": "An unexpected error has occurred.",
                                                          "type": "OAuthException", "code": 1}}, times=50)
    cfg = make_config([_account(api)])
    settings, report = _run(cfg, sleep=lambda s: None)
    r = report.results[0]
    assert r.status == "partial" and not report.ok, r.message
    assert p2.id in r.message and "read again next run" in r.message
    items = _items(settings)
    assert {c.id for c in p1.comments + p3.comments} <= set(items)  # threads after it were read
    assert not {c.id for c in p2.comments} & set(items)
    db = open_index(settings.index_path)
    checkpoint = json.loads(db.conn.execute("SELECT data FROM checkpoints").fetchone()[0])
    assert list(checkpoint["threads_failed"]) == [p2.id]
    assert db.conn.execute("SELECT status FROM runs").fetchone()[0] == "partial"

    # Next night, long after: the re-scan window (90 days) no longer covers the post, but the
    # failed thread is read all the same.
    replay.faults.clear()
    later = NOW + timedelta(days=100)
    settings, report = _run(cfg, now=later, sleep=lambda s: None)
    assert report.ok and report.results[0].status == "ok", report.results[0].message
    assert {c.id for c in p2.comments} <= set(_items(settings))
    assert db.conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0] == 0


def test_threads_failing_one_after_another_stop_the_account(page, replay, make_config):
    """Every thread failing is the platform failing: the account stops (checkpointed) rather than
    spend every thread's retries."""
    sim, api = page
    replay.inject(r"/comments", 500, {"error": {"message": "down", "type": "OAuthException", "code": 2}}, times=500)
    settings, report = _run(make_config([_account(api)]), sleep=lambda s: None)
    r = report.results[0]
    assert r.status == "failed" and "persisted after" in r.message and len(r.problems) == 2
