"""Bluesky: the collector against the AppView simulator, then the nightly pipeline end to end."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from archiver.collectors.base import GONE_FROM_PUBLIC_VIEW, Gone, KnownItem
from archiver.collectors.bluesky import linked_text
from archiver.errors import TokenError
from archiver.index import open_index
from archiver.replay.bluesky import BlueskySimulator, demo_account, next_night, sample_world
from archiver.replay.samples import HOSTILE
from archiver.sightings import latest_sighting
from tests.collectors.e2e_social import items, night, version_texts
from tests.helpers import files_containing

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
TOKEN = "eyJhbGciOiJFUzI1NksifQ.pds-access-jwt.sig+/="
HUGE = ("\u05e9\u05dc\u05d5\u05dd \U0001F469\u200D\U0001F692 " * 6000)[:100_000]
JANE = "did:plc:resident000000000000001"


@pytest.fixture
def bsky(replay):
    sim = BlueskySimulator(page_size=2)
    replay.mount(sim)
    sim.add_profile(JANE, "jane.bsky.social", "Jane")
    return sim


def _world(sim: BlueskySimulator):
    """Five department posts (three feed pages of two), replies two deep, hostile and huge
    text, a repost of a stranger, and a department reply in that stranger's thread."""
    posts = [sim.post(f"3kpost{n}", f"Department post {n}", NOW - timedelta(days=10 - n)) for n in range(5)]
    c1 = sim.post("3kc1", HOSTILE[0], NOW - timedelta(days=9, hours=-1), author=JANE, reply_to=posts[1].uri)
    r1 = sim.post("3kr1", "Department answer", NOW - timedelta(days=9, hours=-2), reply_to=c1.uri)
    sim.post("3kr2", HOSTILE[2] + HOSTILE[3], NOW - timedelta(days=9, hours=-3), author=JANE, reply_to=r1.uri)
    sim.post("3khuge", HUGE, NOW - timedelta(days=9, hours=-4), author=JANE, reply_to=posts[1].uri)
    stranger = sim.post("3kstranger", "Who closed Main St?", NOW - timedelta(days=2), author=JANE)
    sim.repost(stranger.uri, NOW - timedelta(days=1))
    answer = sim.post("3kanswer", "We did, for a water main break.", NOW - timedelta(hours=30), reply_to=stranger.uri)
    return posts, c1, r1, stranger, answer


def _run(collector_run, sim, token=None, **kw):
    return collector_run("bluesky", sim.profiles[sim.did].handle, sim.base_url + "/xrpc", token,
                         now=NOW, page_limit=2, **kw)


def test_paging_replies_reposts_and_hostile_text(bsky, replay, collector_run):
    posts, c1, r1, stranger, answer = _world(bsky)
    run = _run(collector_run, bsky)
    assert run.error is None
    got = run.items
    assert len(replay.requests_matching(r"getAuthorFeed")) == 4  # 7 feed entries, 2 per page
    assert all(p.uri in got and got[p.uri].kind == "post" for p in posts)
    assert got[c1.uri].kind == "comment" and got[c1.uri].parent == posts[1].uri
    assert got[r1.uri].kind == "reply" and got[r1.uri].is_department
    deep = got[bsky.posts[f"at://{JANE}/app.bsky.feed.post/3kr2"].uri]
    assert deep.parent == r1.uri and deep.root == posts[1].uri
    # A repost is the stranger's words, not the department's: not a post of this account.
    assert stranger.uri not in got
    # The department's answer in the stranger's thread is kept, pointing into that thread.
    assert got[answer.uri].kind == "comment" and got[answer.uri].root == stranger.uri
    assert got[c1.uri].text == HOSTILE[0] and deep.text == HOSTILE[2] + HOSTILE[3]
    assert got[f"at://{JANE}/app.bsky.feed.post/3khuge"].text == HUGE
    assert [e.root for e in run.of("ThreadDone")] == [p.uri for p in reversed(posts)]
    assert len(run.of("PostsDone")) == 1 and run.of("Problem") == []
    assert "threads_done" not in run.ctx.checkpoint  # a complete run leaves nothing to resume


def test_edit_hide_delete_and_confirmation(bsky, collector_run):
    posts, c1, r1, *_ = _world(bsky)
    first = _run(collector_run, bsky).items
    bsky.edit(posts[0].uri, "Department post 0 (corrected)")
    bsky.hide_reply(posts[1].uri, c1.uri)
    bsky.posts[r1.uri].deleted = True
    bsky.posts[posts[4].uri].deleted = True
    second = _run(collector_run, bsky)
    got = second.items
    assert got[posts[0].uri].content["cid"] != first[posts[0].uri].content["cid"]
    assert got[posts[0].uri].version_hash() != first[posts[0].uri].version_hash()
    assert got[c1.uri].hidden and not first[c1.uri].hidden
    # The real AppView leaves a deleted reply out (no notFoundPost node), its subtree with it.
    assert r1.uri not in got and got[c1.uri].counts["replies_not_found"] == 0
    assert second.confirm_gone(first[r1.uri]) == Gone(GONE_FROM_PUBLIC_VIEW)  # 400 {"error":"NotFound"}
    assert second.confirm_gone(first[posts[4].uri])
    # Absent from this run's listing (outside the window) but still there: not deleted.
    windowed = _run(collector_run, bsky, since=NOW - timedelta(days=8))
    assert posts[1].uri not in windowed.items
    assert windowed.confirm_gone(first[posts[1].uri]) is False


def _known(items):
    """``ctx.known`` as the pipeline gives it: what the archive holds of a thread."""
    return lambda root: [KnownItem(i.platform_id, i.kind, i.root, i.parent) for i in items.values() if i.root == root]


def test_replies_below_a_deleted_reply_are_read_by_their_own_uri(bsky, replay, collector_run):
    posts, c1, r1, *_ = _world(bsky)
    r2 = bsky.posts[f"at://{JANE}/app.bsky.feed.post/3kr2"]
    r3 = bsky.post("3kr3", "below the answer too", NOW - timedelta(days=8), author=JANE, reply_to=r2.uri)
    first = _run(collector_run, bsky).items
    assert {r1.uri, r2.uri, r3.uri} <= set(first)
    bsky.posts[r1.uri].deleted = True  # getPostThread of posts[1] now lacks r1, r2 and r3
    bsky.edit(r2.uri, "edited after its parent went")
    second = _run(collector_run, bsky, execute=False)
    second.ctx.known = _known(first)
    second.run()
    got = second.items
    assert r1.uri not in got
    assert got[r2.uri].text == "edited after its parent went" and got[r2.uri].root == posts[1].uri
    assert got[r2.uri].kind == "reply" and got[r2.uri].parent == r1.uri
    assert r3.uri in got  # r3 came with r2's own thread: one request for both
    asked = replay.requests_matching(r"getPostThread\?uri=at://[^&]*3kr[123]&")
    assert len(asked) == 2  # r1 (NotFound: left to the confirmation) and r2
    assert posts[1].uri in {e.root for e in second.of("ThreadDone")} and not second.of("Problem")
    assert second.confirm_gone(first[r1.uri]) == Gone(GONE_FROM_PUBLIC_VIEW)
    assert second.confirm_gone(first[r2.uri]) is False


def test_a_takedown_is_gone_from_public_view_not_deleted_by_its_author(bsky, collector_run):
    post = bsky.post("3kp", "post", NOW - timedelta(days=1))
    reply = bsky.post("3kt", "reported words", NOW - timedelta(hours=5), author=JANE, reply_to=post.uri)
    first = _run(collector_run, bsky).items
    bsky.posts[reply.uri].taken_down = True
    second = _run(collector_run, bsky)
    assert reply.uri not in second.items
    gone = second.confirm_gone(first[reply.uri])
    assert gone and gone.detail == "gone from public view (deleted or taken down)"


def test_blocked_reply_is_a_problem_not_a_crash(bsky, collector_run):
    post = bsky.post("3kp", "post", NOW - timedelta(days=1))
    bsky.post("3kb", "hidden from the public view", NOW - timedelta(hours=5), author=JANE,
              reply_to=post.uri, blocked=True)
    run = _run(collector_run, bsky)
    assert run.error is None and len(run.items) == 1
    assert run.items[post.uri].counts["replies_blocked"] == 1
    assert any("3kb" in p.message and "blocked" in p.message for p in run.of("Problem"))
    assert [e.root for e in run.of("ThreadDone")] == [post.uri]


def test_depth_cap_is_read_from_the_cut_branch(replay, collector_run):
    sim = BlueskySimulator(max_depth=2)
    replay.mount(sim)
    sim.add_profile(JANE, "jane.bsky.social")
    node = post = sim.post("3kroot", "root", NOW - timedelta(days=1))
    for n in range(6):
        node = sim.post(f"3kd{n}", f"depth {n + 1}", NOW - timedelta(hours=20 - n), author=JANE, reply_to=node.uri)
    run = _run(collector_run, sim)
    assert len(run.items) == 7 and all(i.root == post.uri for i in run.items.values())
    assert len(replay.requests_matching(r"getPostThread")) == 3


def test_throttle_waits_for_ratelimit_reset(bsky, replay, collector_run):
    _world(bsky)
    reset = int(time.time()) + 30
    replay.inject(r"getAuthorFeed", 429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                  {"ratelimit-limit": "3000", "ratelimit-remaining": "0", "ratelimit-reset": str(reset),
                   "ratelimit-policy": "3000;w=300"}, times=1)
    run = _run(collector_run, bsky)
    assert run.error is None and len(run.of("PostsDone")) == 1
    assert len(run.sleeps) == 1 and 25 <= run.sleeps[0] <= 31
    assert 429 in [ex["status"] for ex in run.exchanges]  # the refusal is archived too


@pytest.mark.parametrize("expired", [False, True])
def test_bad_pds_token_names_account_and_remedy(replay, collector_run, expired):
    sim = BlueskySimulator(token="the-right-one")
    sim.expired = expired
    replay.mount(sim)
    sim.post("3kp", "post", NOW - timedelta(days=1))
    run = _run(collector_run, sim, token=TOKEN)
    assert isinstance(run.error, TokenError)
    message = str(run.error)
    assert "test-bluesky" in message and "TEST_TOKEN" in message and "createSession" in message
    assert ("ExpiredToken" if expired else "InvalidToken") in message
    assert TOKEN not in message and TOKEN.encode() not in run.written()


def test_token_never_recorded_on_success(replay, collector_run):
    sim = BlueskySimulator(token=TOKEN)
    replay.mount(sim)
    sim.post("3kp", f"someone pasted {TOKEN} into a post", NOW - timedelta(days=1))
    run = _run(collector_run, sim, token=TOKEN)
    assert run.error is None and len(run.items) == 1
    assert TOKEN.encode() not in run.written()
    assert any(("Authorization", "REDACTED") in ex["request_headers"] for ex in run.exchanges)


def test_malformed_thread_is_a_problem_and_the_run_goes_on(bsky, replay, collector_run):
    posts, *_ = _world(bsky)
    replay.inject(r"getPostThread\?uri=at://[^&]*3kpost1&", 200, '{"thread": {"$type": "app.bsk', times=10)
    run = _run(collector_run, bsky)
    assert run.error is None and len(run.of("PostsDone")) == 1
    assert any(posts[1].uri in p.message for p in run.of("Problem"))
    done = [e.root for e in run.of("ThreadDone")]
    assert posts[1].uri not in done and posts[2].uri in done
    assert posts[1].uri in run.items  # the post itself still archived from the listing


def test_checkpoint_skips_a_finished_thread(bsky, replay, collector_run):
    posts, *_ = _world(bsky)
    run = _run(collector_run, bsky, checkpoint={"threads_done": [posts[1].uri]})
    assert not replay.requests_matching(r"getPostThread\?uri=at://[^&]*3kpost1&")
    assert posts[1].uri in run.items


def test_linked_text_slices_utf8_bytes():
    text = "🚧 Détour: example.gov/clos…"
    start = len("🚧 Détour: ".encode())
    facet = {"index": {"byteStart": start, "byteEnd": len(text.encode())},
             "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.gov/closures"}]}
    assert linked_text(text, [facet]) == "🚧 Détour: https://example.gov/closures"
    split = {"index": {"byteStart": 1, "byteEnd": 3}, "features": facet["features"]}  # inside the emoji
    assert linked_text(text, [split]) is None
    assert linked_text(text, [{"index": {"byteStart": 5, "byteEnd": 10_000}}, "junk"]) is None


def test_two_nights_end_to_end(replay, make_config, tmp_path):
    sim = BlueskySimulator()
    replay.mount(sim)
    sample_world(sim, NOW - timedelta(days=1))
    cfg = make_config([{"name": "ocpd-bluesky", "token_env": "BSKY_JWT", **demo_account(sim)}])
    sim.token = TOKEN
    env = {"BSKY_JWT": TOKEN}
    settings, report = night(cfg, NOW, env)
    # The blocked reply could not be archived: reported, the rest captured, the night partial.
    assert [r.status for r in report.results] == ["partial"] and not report.ok, report.results
    first = items(settings)
    assert len(first) == 7  # 2 posts, 4 replies in their threads (1 blocked), 1 answer elsewhere
    assert any("blocked" in p for p in report.results[0].problems)
    assert "blocked" in report.results[0].message
    next_night(sim)
    settings, report = night(cfg, NOW + timedelta(days=1), env)
    assert [r.status for r in report.results] == ["partial"], report.results
    got = items(settings)
    by_rkey = {pid.rsplit("/", 1)[-1]: row for pid, row in got.items()}
    assert by_rkey["3kdemo00006"]["status"] == "edited" and by_rkey["3kdemo00006"]["versions"] == 2
    assert version_texts(settings, f"at://{sim.did}/app.bsky.feed.post/3kdemo00006")[0] == "Coffee with a cop this Saturday ☕"
    assert by_rkey["3kdemo00004"]["status"] == "hidden"
    assert by_rkey["3kdemo00007"]["status"] == "deleted"  # taken down
    assert by_rkey["3kdemo00002"]["status"] == "deleted"  # deleted: its reply left the thread with it
    assert by_rkey["3kdemo00003"]["status"] == "live"  # still there, read by its own URI
    db = open_index(settings.index_path)
    details = dict(db.conn.execute(
        "SELECT substr(i.platform_id, -11), e.detail FROM events e JOIN items i ON i.rowid = e.item_rowid"
        " WHERE e.event = 'deleted'").fetchall())
    assert details == {"3kdemo00007": GONE_FROM_PUBLIC_VIEW, "3kdemo00002": GONE_FROM_PUBLIC_VIEW}
    seen_again = db.conn.execute(f"SELECT {latest_sighting('last_run')} FROM items i"
                                 " WHERE platform_id LIKE '%3kdemo00003'").fetchone()[0]
    assert seen_again == report.results[0].run_id
    assert by_rkey["3kdemo00009"]["status"] == "live"
    assert files_containing(tmp_path, TOKEN) == []


def test_thread_error_fails_the_thread_not_the_account(bsky, replay, collector_run):
    posts, *_ = _world(bsky)
    replay.inject(r"getPostThread\?uri=at://[^&]*3kpost2&", 400,
                  {"error": "InvalidRequest", "message": "odd uri"}, times=1)
    run = _run(collector_run, bsky)
    assert run.error is None and len(run.of("PostsDone")) == 1
    assert any("InvalidRequest: odd uri" in p.message for p in run.of("Problem"))
    assert posts[2].uri not in [e.root for e in run.of("ThreadDone")]
