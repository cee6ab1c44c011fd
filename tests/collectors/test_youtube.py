"""YouTube Data API v3 collector against the simulator (collector level)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from archiver.replay.samples import HOSTILE
from archiver.errors import QuotaError, TokenError
from archiver.replay.youtube import YouTubeSimulator, google_error, next_night, sample_world
from tests.collectors.e2e_social import items, night
from tests.helpers import files_containing

KEY = "AIzaSyD-secret_key-0123456789abcdefghij"
OAUTH = "ya29.a0AfH6SMsecretOAuthToken"
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def replay(reused_replay):
    return reused_replay


@pytest.fixture
def sim(replay):
    simulator = YouTubeSimulator(token=KEY, oauth_token=OAUTH, page_size=2, inline_replies=2)
    replay.mount(simulator)
    sample_world(simulator)
    return simulator


@pytest.fixture
def collect(collector_run, sim):
    def run(token=KEY, **kw):
        kw.setdefault("page_limit", 2)
        return collector_run("youtube", sim.channel_id, sim.api_base, token, now=sim.now, **kw)
    return run


def test_call_chain_paging_and_replies(collect, sim, replay):
    run = collect()
    assert run.error is None
    items = run.items
    videos = [i for i in items.values() if i.kind == "post"]
    assert len(videos) == 3
    assert len(replay.requests_matching(r"/playlistItems\?")) == 2 and replay.requests_matching(r"pageToken=")
    top = next(i for i in items.values() if i.text == "Thank you for the transparency.")
    replies = [i for i in items.values() if i.parent == top.platform_id]
    # totalReplyCount 4 > 2 inline: every reply read through comments?parentId= (two pages)
    assert len(replies) == 4 and all(r.kind == "reply" for r in replies)
    assert len(replay.requests_matching(rf"/comments\?.*parentId={top.platform_id}")) == 2
    assert next(r for r in replies if r.text == "We appreciate it.").is_department is True
    assert top.native["snippet"]["textDisplay"] != top.text or "<" not in top.text  # textDisplay kept in native
    briefing = next(v for v in videos if v.text.startswith("Press briefing"))
    assert briefing.media and briefing.counts["comments"] == 9  # 5 threads (3 pages) + 4 replies
    assert {e.root: e.expected for e in run.of("ThreadDone")}[briefing.platform_id] == 9
    assert len(replay.requests_matching(rf"commentThreads\?.*videoId={briefing.platform_id}")) == 3
    assert run.of("PostsDone")


def test_comments_disabled_is_not_an_error(collect, sim):
    run = collect()
    k9 = next(i for i in run.items.values() if i.text.startswith("K-9"))
    assert k9.platform_id in {e.root for e in run.of("ThreadDone")}
    assert not run.of("Problem")
    assert not [i for i in run.items.values() if i.root == k9.platform_id and i.kind != "post"]


def test_second_night_edit_and_deleted_video(collect, sim):
    first = collect()
    next_night(sim)
    second = collect()
    edited = [i for pid, i in second.items.items() if i.version_hash() != first.items[pid].version_hash()]
    assert len(edited) == 1 and "(edited" in edited[0].text
    snippet = edited[0].native["snippet"]
    assert snippet["updatedAt"] != snippet["publishedAt"]

    missing = [i for pid, i in first.items.items() if pid not in second.items]
    video = next(m for m in missing if m.kind == "post")
    assert video.text.startswith("We're hiring")
    assert second.confirm_gone(video) is True  # "Deleted video" in the playlist, videos?id= empty
    still_there = next(i for i in second.items.values() if i.kind == "reply")
    assert second.confirm_gone(still_there) is False


def test_private_video_and_unconfirmed_absence(collect, sim, replay):
    run = collect()
    video = next(v for v in sim.videos if v.title.startswith("Press"))
    video.private = True
    again = collect()
    assert video.id not in again.items
    post = run.items[video.id]
    denied = google_error(403, "SERVICE_UNAVAILABLE", "The caller does not have permission", status="PERMISSION_DENIED")
    replay.inject(r"/videos\?part=id", 403, denied.body)
    assert again.confirm_gone(post) is False  # a refusal proves nothing
    assert again.confirm_gone(post) is True
    comment = next(i for i in run.items.values() if i.kind == "comment" and i.root == video.id)
    comment_row = next(c for c in video.comments if c.id == comment.platform_id)
    comment_row.deleted = True
    video.private = False
    assert again.confirm_gone(comment) is True


def test_quota_exceeded_stops_the_account_for_the_day(collect, sim):
    sim.quota = 4
    run = collect(name="ocpd-youtube")
    assert isinstance(run.error, QuotaError)
    assert "ocpd-youtube" in str(run.error) and "today" in str(run.error)
    assert run.sleeps == []  # no retry against a daily quota
    assert run.items  # what was read before the quota ran out is kept


def test_rate_limit_then_success(collect, replay):
    replay.inject(r"/commentThreads", 403, google_error(403, "rateLimitExceeded", "Rate limit").body)
    run = collect()
    assert run.error is None and len(run.sleeps) == 1 and run.of("PostsDone")


@pytest.mark.parametrize("token,needle", [("AIzaBADBADBAD", "API key"), ("ya29.expired-oauth", "OAuth")])
def test_bad_credentials(collect, token, needle):
    run = collect(token=token, name="ocpd-youtube")
    assert isinstance(run.error, TokenError)
    message = str(run.error)
    assert "ocpd-youtube" in message and needle in message and "TEST_TOKEN" in message
    assert token not in message


def test_oauth_bearer_works_and_is_never_written(collect):
    run = collect(token=OAUTH)
    assert run.error is None and len(run.of("ThreadDone")) == 3
    written = run.written()
    assert OAUTH.encode() not in written and b"Authorization: REDACTED" in written


def test_malformed_thread_page_is_a_problem(collect, sim, replay):
    briefing = next(v for v in sim.videos if v.title.startswith("Press"))
    replay.inject(rf"commentThreads\?.*videoId={briefing.id}", 200, '{"items": [{"id"', times=20)
    run = collect()
    assert run.error is None and run.of("PostsDone")
    assert [p for p in run.of("Problem") if briefing.id in p.message]
    assert briefing.id not in {e.root for e in run.of("ThreadDone")}


def test_hostile_text_exact_and_key_never_written(collect, sim):
    big = ("\u202e\U0001F468\u200D\U0001F469\u200D\U0001F467\u200b<script>x</script>" * 6000)[:100_000]
    recruit = next(v for v in sim.videos if v.title.startswith("We're hiring"))
    sim.add_comment(recruit, big, sim.now - timedelta(hours=2))
    run = collect(page_limit=50)
    texts = {i.text for i in run.items.values()}
    assert set(HOSTILE) <= texts and big in texts
    hostile = next(i for i in run.items.values() if i.text == HOSTILE[0])
    assert "&lt;script&gt;" in hostile.native["snippet"]["textDisplay"]
    assert hostile.author == "Troll0\u202eresU"
    written = run.written()
    assert KEY.encode() not in written and b"key=REDACTED" in written


def test_two_nights_through_the_pipeline(replay, make_config, tmp_path):
    sim = YouTubeSimulator(token=KEY, page_size=2, inline_replies=2, now=NOW - timedelta(hours=1))
    replay.mount(sim)
    sample_world(sim)
    env = {"OCPD_YT_KEY": KEY}
    cfg = make_config([{"name": "ocpd-youtube", "platform": "youtube", "id": sim.channel_id,
                        "token_env": "OCPD_YT_KEY", "api_base": sim.api_base}])
    settings, report = night(cfg, NOW, env)
    assert report.ok, report.results
    first = items(settings)
    assert len(first) == len(sim.videos) + sum(len(v.comments) for v in sim.videos)

    next_night(sim)
    settings, report = night(cfg, NOW + timedelta(days=1), env)
    assert report.ok, report.results
    second = items(settings)
    edited = [i for i in second.values() if i["status"] == "edited"]
    assert len(edited) == 1 and edited[0]["versions"] == 2 and "(edited" in edited[0]["text"]
    gone = {i["platform_id"] for i in second.values() if i["status"] == "deleted"}
    hiring = next(v for v in sim.videos if v.deleted)
    assert gone == {hiring.id} | {c.id for c in hiring.comments}  # the video took its comment with it
    assert files_containing(tmp_path, KEY) == []


def test_quota_fails_only_that_account(replay, make_config, tmp_path):
    sim = YouTubeSimulator(token=KEY, now=NOW)
    replay.mount(sim)
    sample_world(sim)
    sim.quota = 2
    cfg = make_config([{"name": "ocpd-youtube", "platform": "youtube", "id": sim.channel_id,
                        "token_env": "OCPD_YT_KEY", "api_base": sim.api_base}])
    settings, report = night(cfg, NOW, {"OCPD_YT_KEY": KEY})
    result = report.results[0]
    assert result.status == "failed" and "quota" in result.message and "today" in result.message
    assert files_containing(tmp_path, KEY) == []
