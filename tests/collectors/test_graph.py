"""What Facebook and Instagram share (collectors/graph.py), against the Graph simulators
answering in the shapes real pages recorded (shared/realworld/facebook, instagram)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from archiver.collectors.base import KnownItem
from archiver.errors import AccessError
from archiver.replay.facebook import FacebookSimulator, FbComment, http_throttle
from archiver.replay.instagram import InstagramSimulator, sample_world as ig_sample
from archiver.replay.samples import facebook_sample

TOKEN = "EAAGgraphTOKEN|odd/+chars=="
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def replay(reused_replay):
    return reused_replay


def _fb(replay, **kw):
    sim = FacebookSimulator("1000001", "Oak Creek Police Department", token=TOKEN, **kw)
    sim.prefix = f"fb{id(sim)}"
    base = replay.mount(sim)
    facebook_sample(sim, NOW - timedelta(days=1))
    return sim, f"{base}/{sim.version}"


def _run(collector_run, api, platform="facebook", account="1000001", **kw):
    return collector_run(platform, account, api, TOKEN, now=NOW, name="ocpd-graph", **kw)


def _known(item):
    return KnownItem(item.platform_id, item.kind, item.root, item.parent)


def test_http_429_without_a_graph_code_is_throttling(replay, collector_run):
    sim, api = _fb(replay)
    status, body, headers = http_throttle(retry_after=7)
    replay.inject(r"/1000001/posts", status, body, headers, times=1)
    run = _run(collector_run, api)
    assert run.error is None, run.error  # was: "Graph API error None", the account failed
    assert run.sleeps == [7.0]
    assert len([i for i in run.items.values() if i.kind == "post"]) == 3


def test_comments_without_id_from_and_parent_are_read_whole(replay, collector_run):
    """The real comment pages' shape: permalink_url only; replies name their parent there."""
    sim, api = _fb(replay, identity=False)
    run = _run(collector_run, api)
    assert run.error is None and not run.of("Problem")
    comments = [c for p in sim.posts for c in p.comments]
    assert {c.id for c in comments} <= set(run.items)
    reply = next(c for c in comments if c.parent)
    got = run.items[reply.id]
    assert got.kind == "reply" and got.parent == reply.parent and got.author is None
    assert all("id" not in i.native and "from" not in i.native for i in run.items.values() if i.kind != "post")


def test_a_comment_without_id_or_permalink_is_kept_and_reported(replay, collector_run):
    sim, api = _fb(replay, identity=False)
    post = sim.posts[0]
    replay.inject(rf"/{post.id}/comments", 200, {"data": [
        {"created_time": "2026-11-19T09:00:00+0000", "message": "no id, no permalink", "like_count": 0}]}, times=1)
    run = _run(collector_run, api)
    assert run.error is None  # was: the account failed ("comment without id or permalink")
    kept = [i for i in run.items.values() if i.text == "no id, no permalink"]
    assert len(kept) == 1 and kept[0].root == post.id
    again = _run(collector_run, api, execute=False)
    assert again.collector.parse_comment(kept[0].native, post.id).platform_id == kept[0].platform_id  # stable
    assert any("without an id or a permalink" in p.message for p in run.of("Problem"))


def test_100_33_for_a_comment_its_post_still_lists_is_a_permission_problem(replay, collector_run):
    sim, api = _fb(replay)
    restricted = sim.posts[1].comments[0]
    restricted.restricted = True  # listed, but GET /{id} answers 100/33
    run = _run(collector_run, api)
    item = run.items[restricted.id]
    with pytest.raises(AccessError) as err:
        run.confirm_gone(item)
    message = str(err.value)
    assert "ocpd-graph" in message and "pages_read_user_content" in message and restricted.id in message
    assert "not recorded as deleted" in message and TOKEN not in message


def test_100_33_is_a_deletion_only_when_the_listing_lacks_it_too(replay, collector_run):
    sim, api = _fb(replay)
    first = _run(collector_run, api)
    gone = sim.posts[2].comments[0]
    gone.deleted = True
    second = _run(collector_run, api)
    # The listing this run read (the last thread) or, for another thread, read again for it.
    assert second.confirm_gone(_known(first.items[gone.id])) is True
    assert replay.requests_matching(rf"/{sim.posts[2].id}/comments")
    live = first.items[sim.posts[0].comments[0].id]
    assert second.confirm_gone(_known(live)) is False  # GET answers: no 100/33 at all


def test_comments_of_a_deleted_post_go_with_it(replay, collector_run):
    sim, api = _fb(replay)
    first = _run(collector_run, api)
    post = sim.posts[0]
    post.deleted = True
    second = _run(collector_run, api)
    assert second.confirm_gone(_known(first.items[post.id])) is True
    comment = first.items[post.comments[0].id]
    assert second.confirm_gone(_known(comment)) is True  # its parent and the listing are gone


def test_instagram_comments_name_their_author_as_user_and_username(replay, collector_run):
    sim = InstagramSimulator(token=TOKEN)
    sim.prefix = f"ig{id(sim)}"
    replay.mount(sim)
    ig_sample(sim)
    run = collector_run("instagram", sim.ig_user_id, sim.api_base, TOKEN, now=sim.now)
    comments = [i for i in run.items.values() if i.kind != "post"]
    assert comments and all("user" in c.native and "from" not in c.native for c in comments)
    assert all(c.author and c.author_id for c in comments)
    own = [c for c in comments if c.author == sim.username]
    assert own and all(c.is_department for c in own)
    assert not any(c.is_department for c in comments if c.author != sim.username)
