"""Instagram collector against the Graph API simulator (collector level)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from archiver.replay.samples import HOSTILE
from archiver.errors import TokenError
from archiver.replay.instagram import InstagramSimulator, next_night, sample_world, throttle_body, usage_header
from tests.collectors.e2e_social import items, night, version_texts
from tests.helpers import files_containing

TOKEN = "IGQVJ-secret-t0ken/with+chars="
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def replay(reused_replay):
    return reused_replay


@pytest.fixture
def sim(replay):
    simulator = InstagramSimulator(token=TOKEN, page_size=2, reply_page_size=2)
    replay.mount(simulator)
    sample_world(simulator)
    return simulator


@pytest.fixture
def collect(collector_run, sim):
    def run(**kw):
        kw.setdefault("page_limit", 2)
        return collector_run("instagram", sim.ig_user_id, sim.api_base, TOKEN, now=sim.now, **kw)
    return run


def test_pages_carousels_comments_and_paged_replies(collect, sim, replay):
    run = collect()
    assert run.error is None
    items = run.items
    posts = [i for i in items.values() if i.kind == "post"]
    assert len(posts) == 3
    assert len(replay.requests_matching(r"/media\?")) == 2  # three media, two per page
    album = next(p for p in posts if p.native["media_type"] == "CAROUSEL_ALBUM")
    assert len(album.content["children"]) == 3
    assert len([u for u in album.media if "/cdn/picnic-" in u]) == 3  # every child downloaded
    video = next(p for p in posts if p.native["media_type"] == "VIDEO")
    assert any("thumb-" in u for u in video.media)

    replies = [i for i in items.values() if i.kind == "reply"]
    assert len(replies) == 4  # two inline, two from /{comment-id}/replies
    assert replay.requests_matching(r"/\d+/replies\?")
    first = next(i for i in items.values() if i.text == "Great turnout this year!")
    assert {r.parent for r in replies} == {first.platform_id}
    assert all(r.root == album.platform_id for r in replies)
    own = next(r for r in replies if r.text == "Thanks for coming out!")
    assert own.is_department is True and first.is_department is False
    done = {e.root: e.expected for e in run.of("ThreadDone")}
    assert done[album.platform_id] == 5
    assert len(run.of("PostsDone")) == 1


def test_a_listing_cut_by_the_rescan_window_asks_for_no_further_page(collect, sim, replay):
    # Newest first, two to a page: the photo is inside the window and the video, next on the
    # same page, is not. The walk stops there; the next listing page is neither read nor read
    # ahead (the comments of the photo's thread are still read whole).
    run = collect(since=sim.now - timedelta(hours=22))
    assert run.error is None
    assert [i.text for i in run.items.values() if i.kind == "post"] == ["Road closure on Howell Ave tonight"]
    assert len(replay.requests_matching(rf"/{sim.ig_user_id}/media\?")) == 1


def test_second_night_edit_hide_delete(collect, sim):
    first = collect().items
    next_night(sim)
    second_run = collect()
    second = second_run.items

    edited = [pid for pid, item in second.items() if item.version_hash() != first[pid].version_hash()]
    assert len(edited) == 1 and "(Edited" in second[edited[0]].text
    # media_url changed for every post overnight (oe= token) but that is not an edit.
    assert all(a.media != first[a.platform_id].media for a in second.values() if a.kind == "post")

    hidden = [i for i in second.values() if i.hidden]
    assert [h.text for h in hidden] == ["Why was my comment removed?"]

    missing = [first[pid] for pid in first if pid not in second]
    assert [m.text for m in missing] == ["Until when?"]
    assert second_run.confirm_gone(missing[0]) is True
    # An item that is still there is not declared gone, nor is one behind a permission error.
    assert second_run.confirm_gone(hidden[0]) is False


def test_missing_but_unconfirmed_is_not_deleted(collect, replay):
    run = collect()
    comment = next(i for i in run.items.values() if i.kind == "comment")
    replay.inject(comment.platform_id, 400, {"error": {
        "message": "(#10) Application does not have permission for this action", "type": "OAuthException",
        "code": 10, "fbtrace_id": "x"}})
    assert run.confirm_gone(comment) is False
    replay.inject(comment.platform_id, 400, {"error": {"message": "Unsupported get request.",
                                                       "type": "GraphMethodException", "code": 100}})
    assert run.confirm_gone(comment) is False  # 100 without subcode 33 proves nothing


def test_throttle_then_success(collect, replay, sim):
    replay.inject(r"/media\?", 403, throttle_body(80002), usage_header(sim.ig_user_id, 100, regain_minutes=2))
    run = collect()
    assert run.error is None
    assert run.sleeps == [120.0]  # estimated_time_to_regain_access, in minutes
    assert len([i for i in run.items.values() if i.kind == "post"]) == 3


def test_expired_token_fails_the_account_with_a_remedy(collect, sim):
    sim.expired = True
    run = collect(name="ocpd-instagram")
    assert isinstance(run.error, TokenError)
    message = str(run.error)
    assert "ocpd-instagram" in message and "code 190" in message and "463" in message
    assert "TEST_TOKEN" in message and "instagram_manage_comments" in message
    assert TOKEN not in message


def test_malformed_pages_become_problems(collect, replay, sim):
    video = next(m for m in sim.media if m.video)
    replay.inject(rf"{video.id}/comments", 200, '{"data": [', times=20)
    run = collect()
    assert run.error is None
    problems = run.of("Problem")
    assert len(problems) == 1 and video.id in problems[0].message
    done = {e.root for e in run.of("ThreadDone")}
    assert video.id not in done and len(done) == 2  # its thread is incomplete: no candidates
    assert run.of("PostsDone")

    replay.inject(r"/media\?", 200, b"\xff\xfe not json", times=20)
    run = collect()
    assert run.of("Problem") and not run.of("PostsDone")


def test_hostile_text_stored_exactly_and_token_never_written(collect, sim):
    big = ("\u202e\U0001F468\u200D\U0001F469\u200D\U0001F467\u200b<script>x</script>" * 6000)[:100_000]
    photo = next(m for m in sim.media if m.caption.startswith("Road closure"))
    sim.add_comment(photo, big, sim.now - timedelta(hours=1))
    run = collect()
    texts = {i.text for i in run.items.values()}
    assert set(HOSTILE) <= texts and big in texts
    assert any(i.author == "troll0\u202eresu" for i in run.items.values())
    written = run.written()
    assert TOKEN.encode() not in written
    assert b"access_token=REDACTED" in written  # paging.next carried it; scrubbed


def test_two_nights_through_the_pipeline(replay, make_config, tmp_path):
    sim = InstagramSimulator(token=TOKEN, page_size=2, now=NOW - timedelta(hours=1))
    replay.mount(sim)
    sample_world(sim)
    env = {"OCPD_IG_TOKEN": TOKEN}
    cfg = make_config([{"name": "ocpd-instagram", "platform": "instagram", "id": sim.ig_user_id,
                        "token_env": "OCPD_IG_TOKEN", "api_base": sim.api_base}])
    settings, report = night(cfg, NOW, env)
    assert report.ok, report.results
    first = items(settings)
    assert len(first) == sim_items(sim) and {i["status"] for i in first.values()} == {"live"}

    next_night(sim)
    settings, report = night(cfg, NOW + timedelta(days=1), env)
    assert report.ok, report.results
    second = items(settings)
    status = {i["text"]: (i["status"], i["versions"]) for i in second.values()}
    album = next(i for i in second.values() if i["kind"] == "post" and "(Edited" in (i["text"] or ""))
    assert (album["status"], album["versions"]) == ("edited", 2)
    assert len(version_texts(settings, album["platform_id"])) == 2
    assert status["Why was my comment removed?"] == ("hidden", 1)
    assert status["Until when?"] == ("deleted", 1)
    assert status["Great turnout this year!"] == ("live", 1)  # new CDN tokens are not edits
    assert files_containing(tmp_path, TOKEN) == []


def sim_items(sim) -> int:
    return len(sim.media) + sum(len(m.comments) for m in sim.media)
