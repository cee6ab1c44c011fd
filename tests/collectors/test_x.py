"""X API v2 collector against the simulator (collector level)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from archiver.replay.samples import HOSTILE
from archiver.errors import QuotaError, TokenError
from archiver.replay.x import (
    LONG_ALERT, NOTE_AFTER, RATE_LIMIT_V1, TOO_MANY, USAGE_CAPPED, XSimulator, next_night, rate_headers, sample_world,
)
from tests.collectors.e2e_social import items, night, version_texts
from tests.helpers import files_containing

TOKEN = "AAAAAAAAAAAAAAAAAAAAAxSecret%2Fbearer%3Dtoken"
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def replay(reused_replay):
    return reused_replay


@pytest.fixture
def sim(replay):
    simulator = XSimulator(token=TOKEN, page_size=2)
    replay.mount(simulator)
    sample_world(simulator)
    return simulator


@pytest.fixture
def collect(collector_run, sim):
    def run(token=TOKEN, **kw):
        kw.setdefault("page_limit", 2)
        return collector_run("x", sim.user_id, sim.api_base, token, now=sim.now, **kw)
    return run


def test_timeline_and_conversation_paging(collect, sim, replay):
    run = collect()
    assert run.error is None
    items = run.items
    posts = [i for i in items.values() if i.kind == "post"]
    assert len(posts) == 3
    assert len(replay.requests_matching(r"/users/\d+/tweets\?")) == 2  # next_token -> pagination_token
    assert replay.requests_matching(r"search/recent\?.*next_token=")  # three replies, two per page
    alert = next(p for p in posts if p.text.startswith("Traffic alert"))
    thread = {i.text: i for i in items.values() if i.root == alert.platform_id and i.kind != "post"}
    question = thread["Is the ramp at 27th open?"]
    assert question.kind == "comment" and question.parent == alert.platform_id
    answer = thread["@driver27 Yes, the 27th St ramp is open."]
    assert answer.kind == "reply" and answer.parent == question.platform_id and answer.is_department
    assert question.author == "driver27" and question.url.endswith(f"/driver27/status/{question.platform_id}")
    photos = next(p for p in posts if p.media)
    assert len(photos.media) == 2 and photos.content["media"]
    assert {e.root for e in run.of("ThreadDone")} == {p.platform_id for p in posts}
    assert run.of("PostsDone")


@pytest.mark.parametrize("expand_history", [True, False])
def test_edit_keeps_every_version_under_the_first_id(collect, sim, replay, expand_history):
    sim.expand_history = expand_history
    first = collect().items
    next_night(sim)
    second = collect().items
    edited = next(i for i in second.values() if i.history)
    before = first[edited.platform_id]  # same record: keyed by the first id
    assert edited.native["id"] != before.native["id"]
    assert edited.native["edit_history_tweet_ids"] == [before.native["id"], edited.native["id"]]
    assert edited.history[0]["content"] == before.content
    assert "UPDATE: reopened" in edited.text and edited.version_hash() != before.version_hash()
    assert edited.url.endswith(edited.native["id"])
    # Without the expansion the earlier version is re-read with /tweets?ids=.
    assert bool(replay.requests_matching(r"/tweets\?ids=")) is (not expand_history)
    # The replies to the first version still hang under the same record.
    assert all(i.root == edited.platform_id for i in second.values() if i.text == "Is the ramp at 27th open?")


def test_long_post_is_archived_whole_and_an_edit_past_280_is_a_version(collect, sim, replay):
    first = collect()
    alert = next(i for i in first.items.values() if i.kind == "post" and i.text.startswith("Traffic alert"))
    assert alert.text == LONG_ALERT and len(alert.text) > NOTE_AFTER
    assert len(alert.native["text"]) == NOTE_AFTER  # what X sends as text is cut
    assert alert.content["text"] == LONG_ALERT
    # The field rides on the pages already read: no request is added to get the whole text.
    assert all("note_tweet" in r for r in replay.requests_matching(r"/(users/\d+/tweets|tweets/search/recent)\?"))
    next_night(sim)
    second = collect()
    assert not replay.requests_matching(r"/tweets\?ids=")
    edited = second.items[alert.platform_id]
    assert edited.native["text"] == alert.native["text"]  # the edit is past character 280
    assert edited.text.endswith("UPDATE: reopened at 5:10 pm.")
    assert edited.version_hash() != alert.version_hash()
    assert edited.history[0]["text"] == LONG_ALERT


def test_deletion_is_confirmed_only_by_resource_not_found(collect, sim, replay):
    first_run = collect()
    next_night(sim)
    second_run = collect()
    missing = [i for pid, i in first_run.items.items() if pid not in second_run.items]
    assert [m.text for m in missing] == ["See you there!"]
    assert second_run.confirm_gone(missing[0]) is True
    present = next(i for i in second_run.items.values() if i.kind == "comment")
    assert second_run.confirm_gone(present) is False
    # Protected/withheld: an error entry that is not resource-not-found proves nothing.
    replay.inject(r"/tweets\?ids=", 200, {"errors": [{
        "value": present.platform_id, "detail": "Sorry, you are not authorized to see the Tweet",
        "title": "Authorization Error", "resource_type": "tweet", "parameter": "ids",
        "resource_id": present.platform_id, "type": "https://api.twitter.com/2/problems/not-authorized-for-resource"}]})
    assert second_run.confirm_gone(present) is False


def test_replies_older_than_seven_days(collect, sim, replay):
    old = sim.post("Last month's announcement", sim.now - timedelta(days=10))
    sim.reply(old, "old reply", sim.now - timedelta(days=9), "early_bird")
    sim.reply(old, "fresh reply", sim.now - timedelta(days=1), "late_comer")
    run = collect(page_limit=100)
    texts = {i.text for i in run.items.values() if i.root == old.id}
    assert texts == {"Last month's announcement", "fresh reply"}
    assert old.id not in {e.root for e in run.of("ThreadDone")}  # absence proves nothing there
    problems = [p.message for p in run.of("Problem")]
    assert len(problems) == 1 and "7-day" in problems[0] and 'search = "all"' in problems[0]

    full = collect(page_limit=100, options={"search": "all"})
    assert {i.text for i in full.items.values() if i.root == old.id} >= {"old reply", "fresh reply"}
    assert old.id in {e.root for e in full.of("ThreadDone")} and not full.of("Problem")
    assert replay.requests_matching(r"search/all\?")


@pytest.mark.parametrize("body", [TOO_MANY, RATE_LIMIT_V1])
def test_rate_limit_then_success(collect, replay, body):
    replay.inject(r"/users/\d+/tweets", 429, body, rate_headers(remaining=0, reset_in=40))
    run = collect()
    assert run.error is None and len([i for i in run.items.values() if i.kind == "post"]) == 3
    assert len(run.sleeps) == 1 and 35 <= run.sleeps[0] <= 41  # until x-rate-limit-reset


def test_monthly_cap_stops_the_account(collect, replay):
    replay.inject(r"search/recent", 429, USAGE_CAPPED, rate_headers(remaining=0, reset_in=60))
    run = collect()
    assert isinstance(run.error, QuotaError)
    assert "month" in str(run.error) and run.sleeps == []


def test_bad_bearer_token_names_account_and_remedy(collect):
    run = collect(token="wrong-token-value", name="ocpd-x")
    assert isinstance(run.error, TokenError)
    message = str(run.error)
    assert "ocpd-x" in message and "401" in message and "Bearer Token" in message and "TEST_TOKEN" in message
    assert "wrong-token-value" not in message


def test_malformed_search_page_is_a_problem(collect, sim, replay):
    event = next(t for t in sim.tweets if t.media_keys)
    replay.inject(rf"conversation_id:{event.id}", 200, "<html>upstream error</html>", times=20)
    run = collect()
    assert run.error is None and run.of("PostsDone")
    assert [p for p in run.of("Problem") if event.id in p.message]
    assert event.id not in {e.root for e in run.of("ThreadDone")}
    assert len(run.of("ThreadDone")) == 2


def test_hostile_text_exact_and_token_never_written(collect, sim):
    big = ("\u202e\U0001F468\u200D\U0001F469\u200D\U0001F467\u200b<script>x</script>" * 6000)[:100_000]
    post = sim.tweets[0]
    sim.reply(post, big, sim.now - timedelta(hours=1), "long_writer")
    started = time.monotonic()
    run = collect(page_limit=100)
    assert time.monotonic() - started < 10
    texts = {i.text for i in run.items.values()}
    assert set(HOSTILE) <= texts and big in texts
    written = run.written()
    assert TOKEN.encode() not in written and b"AxSecret" not in written
    assert b"Authorization: REDACTED" in written


def test_two_nights_through_the_pipeline(replay, make_config, tmp_path):
    sim = XSimulator(token=TOKEN, page_size=2, expand_history=False, now=NOW)
    replay.mount(sim)
    sample_world(sim)
    env = {"OCPD_X_TOKEN": TOKEN}
    cfg = make_config([{"name": "ocpd-x", "platform": "x", "id": sim.user_id, "token_env": "OCPD_X_TOKEN",
                        "api_base": sim.api_base}])
    settings, report = night(cfg, NOW, env)
    assert report.ok, report.results
    first = items(settings)
    assert len(first) == len(sim.tweets) and {i["status"] for i in first.values()} == {"live"}

    next_night(sim)
    sim.now = NOW + timedelta(days=1)
    settings, report = night(cfg, sim.now, env)
    assert report.ok, report.results
    second = items(settings)
    assert set(second) == set(first)  # the edit's new tweet id did not make a new record
    alert = next(i for i in second.values() if (i["text"] or "").startswith("Traffic alert"))
    assert (alert["status"], alert["versions"]) == ("edited", 2)
    texts = version_texts(settings, alert["platform_id"])
    assert "UPDATE" not in texts[0] and "UPDATE" in texts[1]
    gone = next(i for i in second.values() if i["text"] == "See you there!")
    assert gone["status"] == "deleted"
    assert {i["status"] for i in second.values() if i["platform_id"] not in (alert["platform_id"], gone["platform_id"])} == {"live"}
    assert files_containing(tmp_path, TOKEN) == [] and files_containing(tmp_path, "AxSecret") == []
