"""Mastodon: the collector against the instance simulator, then the nightly pipeline end to end."""

from __future__ import annotations

import html
from datetime import datetime, timedelta, timezone

import pytest

from archiver.collectors.mastodon import next_link
from archiver.errors import TokenError
from archiver.index import open_index
from archiver.replay.mastodon import MastodonSimulator, demo_account, next_night, sample_world
from archiver.replay.samples import HOSTILE
from tests.collectors.e2e_social import items, night, version_texts
from tests.helpers import files_containing

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
TOKEN = "mastodon-Zx9_token-/+=value"
HUGE = ("<p>" + "\u05e9\u05dc\u05d5\u05dd \U0001F469\u200D\U0001F692 " * 6000)[:100_000] + "</p>"
JANE = "109000000000000002"


@pytest.fixture
def masto(replay):
    sim = MastodonSimulator(page_size=2)
    replay.mount(sim)
    sim.add_account(JANE, "jane", "Jane")
    return sim


def _world(sim: MastodonSimulator):
    """Five department posts (three pages of two), comments and a reply chain, hostile and
    huge HTML, a boost, and a department reply in a stranger's thread."""
    posts = [sim.post(f"<p>Department post {n}</p>", NOW - timedelta(days=10 - n)) for n in range(5)]
    c1 = sim.post("<p>" + html.escape(HOSTILE[0]) + "</p>", NOW - timedelta(days=9, hours=-1), account=JANE,
                  reply_to=posts[1].id)
    r1 = sim.post("<p>Department answer</p>", NOW - timedelta(days=9, hours=-2), reply_to=c1.id)
    r2 = sim.post("<p>" + HOSTILE[2] + HOSTILE[3] + "</p>", NOW - timedelta(days=9, hours=-3), account=JANE,
                  reply_to=r1.id, spoiler_text="CW: \u202e")
    huge = sim.post(HUGE, NOW - timedelta(days=9, hours=-4), account=JANE, reply_to=posts[1].id)
    stranger = sim.post("<p>Who closed Main St?</p>", NOW - timedelta(days=2), account=JANE)
    sim.post("", NOW - timedelta(days=1, hours=12), reblog_of=stranger.id)
    answer = sim.post("<p>We did.</p>", NOW - timedelta(days=1), reply_to=stranger.id)
    return posts, c1, r1, r2, huge, stranger, answer


def _run(collector_run, sim, token=None, **kw):
    return collector_run("mastodon", sim.account_id, sim.api_base, token, now=NOW, page_limit=2, **kw)


def test_paging_context_boosts_and_hostile_html(masto, replay, collector_run):
    posts, c1, r1, r2, huge, stranger, answer = _world(masto)
    run = _run(collector_run, masto)
    assert run.error is None
    got = run.items
    # 6 statuses (boost excluded by the server), 2 per page, plus Mastodon's empty last page.
    assert len(replay.requests_matching(r"/accounts/\d+/statuses")) == 4
    assert all("exclude_reblogs=true" in t for t in replay.requests_matching(r"/accounts/\d+/statuses"))
    assert all(got[p.id].kind == "post" for p in posts)
    assert got[c1.id].kind == "comment" and got[c1.id].parent == posts[1].id
    assert got[r1.id].kind == "reply" and got[r1.id].is_department
    assert got[r2.id].kind == "reply" and got[r2.id].root == posts[1].id
    assert stranger.id not in got  # a boost is the stranger's words
    assert got[answer.id].kind == "comment" and got[answer.id].root == stranger.id
    # HTML exactly as sent; the search index gets text.
    assert got[c1.id].text == "<p>" + html.escape(HOSTILE[0]) + "</p>"
    assert got[c1.id].search_text == HOSTILE[0]
    assert got[r2.id].text == "<p>" + HOSTILE[2] + HOSTILE[3] + "</p>"
    assert got[r2.id].search_text.startswith("CW: \u202e\n")
    assert got[huge.id].text == HUGE
    assert got[c1.id].content == {"content": got[c1.id].text, "spoiler_text": "", "media": []}
    assert len(run.of("ThreadDone")) == 5 and len(run.of("PostsDone")) == 1 and not run.of("Problem")


def test_edit_history_deletion_and_confirmation(masto, collector_run):
    posts, c1, r1, r2, *_ = _world(masto)
    first = _run(collector_run, masto).items
    masto.edit(posts[0].id, "<p>Department post 0, corrected</p>", NOW - timedelta(days=1))
    masto.edit(posts[0].id, "<p>Department post 0, corrected twice</p>", NOW - timedelta(hours=1))
    masto.statuses[r2.id].deleted = True
    masto.statuses[posts[4].id].deleted = True
    second = _run(collector_run, masto)
    edited = second.items[posts[0].id]
    assert edited.text == "<p>Department post 0, corrected twice</p>"
    assert [h["text"] for h in edited.history] == ["<p>Department post 0</p>", "<p>Department post 0, corrected</p>"]
    assert edited.history[0]["content"] == first[posts[0].id].content  # the original, same hash
    assert r2.id not in second.items and posts[4].id not in second.items
    assert second.confirm_gone(first[r2.id]) is True  # 404 {"error":"Not Found"}
    assert second.confirm_gone(first[posts[4].id]) is True
    assert second.confirm_gone(first[r1.id]) is False  # still there


@pytest.mark.parametrize("said", ["Not Found", "Record not found"])
def test_both_404_bodies_confirm_a_deletion(replay, collector_run, said):
    """Current servers answer a missing status {"error":"Not Found"}, older ones "Record not found"."""
    sim = MastodonSimulator(page_size=2, not_found_body=said)
    replay.mount(sim)
    sim.add_account(JANE, "jane", "Jane")
    posts, c1, *_ = _world(sim)
    run = _run(collector_run, sim)
    sim.statuses[c1.id].deleted = True
    assert run.confirm_gone(run.items[c1.id]) is True
    assert replay.log[-1][0] == "GET" and replay.log[-1][1].endswith(f"/statuses/{c1.id}")
    assert run.confirm_gone(run.items[posts[1].id]) is False


def _chain(sim: MastodonSimulator, length: int):
    """A post and a chain of ``length`` replies, each answering the one before."""
    post = sim.post("<p>Deep thread</p>", NOW - timedelta(days=2))
    chain, parent = [], post
    for n in range(length):
        parent = sim.post(f"<p>reply {n + 1}</p>", NOW - timedelta(days=2, minutes=-n - 1), account=JANE,
                          reply_to=parent.id)
        chain.append(parent)
    return post, chain


def test_anonymous_context_depth_limit_reports_the_thread_incomplete(masto, collector_run):
    post, chain = _chain(masto, 25)  # 25 replies deep, far fewer than 60 in all
    run = _run(collector_run, masto)
    assert run.error is None
    got = run.items
    assert all(r.id in got for r in chain[:20]) and not any(r.id in got for r in chain[20:])
    problems = [p.message for p in run.of("Problem")]
    assert len(problems) == 1 and f"thread {post.id} incomplete" in problems[0]
    assert "20 levels" in problems[0] and chain[19].id in problems[0] and "token_env" in problems[0]

    masto.token = TOKEN  # with a token the instance shows the whole thread
    whole = _run(collector_run, masto, TOKEN)
    assert all(r.id in whole.items for r in chain) and not whole.of("Problem")


def test_a_thread_of_exactly_twenty_levels_is_complete(masto, collector_run):
    _chain(masto, 20)
    run = _run(collector_run, masto)
    assert run.error is None and len(run.items) == 21 and not run.of("Problem")


def test_anonymous_ancestor_limit_is_reported_not_taken_for_the_root(masto, collector_run):
    stranger = masto.post("<p>Start</p>", NOW - timedelta(days=2), account=JANE)
    parent = stranger
    for n in range(45):
        parent = masto.post(f"<p>{n}</p>", NOW - timedelta(days=2, minutes=-n - 1), account=JANE, reply_to=parent.id)
    mine = masto.post("<p>Department answer deep down</p>", NOW - timedelta(days=1), reply_to=parent.id)
    run = _run(collector_run, masto)
    # The cap hid the real root: the first ancestor shown is not taken for it.
    assert run.items[mine.id].root == parent.id
    problems = [p.message for p in run.of("Problem")]
    assert any("40 replies up" in p for p in problems)


@pytest.mark.parametrize("change, expected", [
    ({"poll": ["Yes", "No"]}, "poll"),
    ({"sensitive": True}, "sensitive"),
    ({"spoiler_text": "CW: crash scene"}, "spoiler_text"),
    ({"descriptions": {"snowplow": "A plow clearing 5th St"}}, "media_descriptions"),
])
def test_edits_mastodon_records_are_versions(masto, collector_run, change, expected):
    """Mastodon keeps an edit in /history when a poll is added or the sensitive flag, the
    content warning or a media description changes, with the text unchanged."""
    post = masto.post("<p>Snow emergency</p>", NOW - timedelta(days=2), media=["snowplow"])
    first = _run(collector_run, masto).items[post.id]
    masto.edit(post.id, None, NOW - timedelta(hours=1), **change)
    second = _run(collector_run, masto).items[post.id]
    assert second.text == first.text
    assert second.version_hash() != first.version_hash()
    assert second.content.get(expected) not in (None, first.content.get(expected))
    assert [h["content"] for h in second.history] == [first.content]  # the earlier version, same hash


def test_a_poll_is_compared_by_its_options_not_its_votes(masto, collector_run):
    post = masto.post("<p>Which night for Coffee with a Cop?</p>", NOW - timedelta(days=2), poll=["Mon", "Tue"])
    first = _run(collector_run, masto).items[post.id]
    assert first.content["poll"] == ["Mon", "Tue"]
    assert first.native["poll"]["options"][0]["votes_count"] == 3  # votes are in native, not in content


def test_proxy_404_is_not_a_deletion(masto, replay, collector_run):
    """A proxy's 404 page is not Mastodon saying "Record not found"."""
    posts, *_ = _world(masto)
    run = _run(collector_run, masto)
    replay.inject(rf"/statuses/{posts[0].id}$", 404, "<html>Not Found</html>", times=1)
    assert run.confirm_gone(run.items[posts[0].id]) is False


def test_throttle_waits_until_iso_reset(masto, replay, collector_run):
    _world(masto)
    reset = (datetime.now(timezone.utc) + timedelta(seconds=40)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    replay.inject(r"/context", 429, {"error": "Too many requests"},
                  {"x-ratelimit-limit": "300", "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}, times=1)
    run = _run(collector_run, masto)
    assert run.error is None and len(run.of("ThreadDone")) == 5
    assert len(run.sleeps) == 1 and 35 <= run.sleeps[0] <= 41


def test_invalid_token_names_account_and_remedy(replay, collector_run):
    sim = MastodonSimulator(token="the-right-one")
    replay.mount(sim)
    sim.post("<p>post</p>", NOW - timedelta(days=1))
    run = _run(collector_run, sim, token=TOKEN)
    assert isinstance(run.error, TokenError)
    message = str(run.error)
    assert "test-mastodon" in message and "TEST_TOKEN" in message and "The access token is invalid" in message
    assert "read:statuses" in message and TOKEN not in message
    assert TOKEN.encode() not in run.written()


def test_instance_requiring_a_token(replay, collector_run):
    sim = MastodonSimulator(require_auth=True)
    replay.mount(sim)
    run = _run(collector_run, sim)
    assert isinstance(run.error, TokenError) and "requires an access token" in str(run.error)


def test_token_never_recorded_and_lookup_by_handle(replay, collector_run):
    sim = MastodonSimulator(token=TOKEN, require_auth=True)
    replay.mount(sim)
    sim.post(f"<p>pasted {TOKEN}</p>", NOW - timedelta(days=1))
    run = collector_run("mastodon", "@examplepd", sim.api_base, TOKEN, now=NOW)
    assert run.error is None and len(run.items) == 1
    assert replay.requests_matching(r"/accounts/lookup\?acct=examplepd")
    assert TOKEN.encode() not in run.written()


def test_malformed_context_is_a_problem_and_the_run_goes_on(masto, replay, collector_run):
    posts, c1, *_ = _world(masto)
    replay.inject(rf"/statuses/{posts[1].id}/context", 200, '{"ancestors": [], "descendants": [{"id"', times=10)
    run = _run(collector_run, masto)
    assert run.error is None and len(run.of("PostsDone")) == 1
    assert any(posts[1].id in p.message for p in run.of("Problem"))
    assert posts[1].id not in [e.root for e in run.of("ThreadDone")]
    assert c1.id not in run.items and posts[2].id in run.items


def test_unknown_account_fails_with_the_platform_words(replay, collector_run):
    sim = MastodonSimulator()
    replay.mount(sim)
    run = collector_run("mastodon", "123", sim.api_base, None, now=NOW)
    assert run.error is not None and "Record not found" in str(run.error) and "'123'" in str(run.error)


def test_next_link():
    header = ('<https://h/api/v1/accounts/1/statuses?limit=5&max_id=117>; rel="next", '
              '<https://h/api/v1/accounts/1/statuses?limit=5&min_id=118>; rel="prev"')
    assert next_link(header) == "https://h/api/v1/accounts/1/statuses?limit=5&max_id=117"
    assert next_link(header.split(", ")[1]) is None and next_link(None) is None


def test_two_nights_end_to_end(replay, make_config, tmp_path):
    sim = MastodonSimulator(token=TOKEN)
    replay.mount(sim)
    sample_world(sim, NOW - timedelta(days=1))
    cfg = make_config([{"name": "ocpd-mastodon", "token_env": "MASTO_TOKEN", **demo_account(sim)}])
    env = {"MASTO_TOKEN": TOKEN}
    settings, report = night(cfg, NOW, env)
    assert report.ok, report.results
    assert len(items(settings)) == 7  # 2 posts, 4 in their threads, 1 answer elsewhere
    next_night(sim, NOW + timedelta(hours=12))
    settings, report = night(cfg, NOW + timedelta(days=1), env)
    assert report.ok, report.results
    got = items(settings)
    lost = next(s for s in sim.statuses.values() if s.content.startswith("<p>Lost dog"))
    assert got[lost.id]["status"] == "edited" and got[lost.id]["versions"] == 2
    assert version_texts(settings, lost.id) == ["<p>Lost dog found near the library 🐕</p>", lost.content]
    gone = next(s for s in sim.statuses.values() if s.deleted)
    assert got[gone.id]["status"] == "deleted"
    assert sum(row["status"] == "live" for row in got.values()) == 5
    assert files_containing(tmp_path, TOKEN) == []


def test_history_versions_point_at_the_history_response(replay, make_config):
    """A status first captured already edited: its earlier version is evidenced by the
    /history response it was read from, the current one by the listing."""
    sim = MastodonSimulator(token=TOKEN)
    replay.mount(sim)
    sample_world(sim, NOW - timedelta(days=1))
    next_night(sim, NOW - timedelta(hours=1))  # the edit happens before the first capture
    cfg = make_config([{"name": "ocpd-mastodon", "token_env": "MASTO_TOKEN", **demo_account(sim)}])
    settings, report = night(cfg, NOW, {"MASTO_TOKEN": TOKEN})
    assert report.ok, report.results
    lost = next(s for s in sim.statuses.values() if s.content.startswith("<p>Lost dog"))
    db = open_index(settings.index_path)
    uris = [r[0] for r in db.conn.execute(
        "SELECT r.target_uri FROM versions v JOIN items i ON i.rowid = v.item_rowid JOIN records r"
        " ON r.id = v.record WHERE i.platform_id = ? ORDER BY v.n", (lost.id,))]
    assert len(uris) == 2
    assert uris[0].endswith(f"/statuses/{lost.id}/history") and "/history" not in uris[1]
