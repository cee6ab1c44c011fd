"""The Graph API simulator's lookups stay right as a test grows its world between requests."""

from datetime import datetime, timedelta, timezone

from archiver.replay import Request
from archiver.replay.facebook import FacebookSimulator, FbComment

T0 = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)


def _get(sim: FacebookSimulator, path: str, **query: str):
    reply = sim.handle(Request("GET", path, query, {"Authorization": "Bearer fb-test-token"}, "http://sim/facebook"))
    return reply.status, reply.body


def _comment(cid: str, n: int, parent: str | None = None) -> FbComment:
    return FbComment(id=cid, message=f"comment {n}", created_time=T0 + timedelta(minutes=n), parent=parent)


def test_objects_appended_after_a_lookup_are_found():
    sim = FacebookSimulator("100")
    post = sim.add_post(1, "first", T0)
    post.comments.append(_comment("100_1_1", 1))
    assert _get(sim, "/v21.0/100_1_1")[1]["message"] == "comment 1"

    # The world grows the way tests grow it: straight onto the lists.
    post.comments.append(_comment("100_1_2", 2, parent="100_1_1"))
    later = sim.add_post(2, "second", T0 + timedelta(hours=1))
    later.comments.append(_comment("100_2_1", 3))

    assert _get(sim, "/v21.0/100_1_2")[1]["parent"] == {"id": "100_1_1"}
    assert _get(sim, "/v21.0/100_2_1")[1]["message"] == "comment 3"
    assert sim.find("100_2") is later
    assert sim.find("100_9") is None
    status, body = _get(sim, "/v21.0/100_9")
    assert (status, body["error"]["error_subcode"]) == (400, 33)


def test_reply_counts_and_deletions_follow_the_world():
    sim = FacebookSimulator("100")
    post = sim.add_post(1, "first", T0)
    post.comments += [_comment("100_1_1", 1), _comment("100_1_2", 2, parent="100_1_1"),
                      _comment("100_1_3", 3, parent="100_1_1")]
    _, page = _get(sim, "/v21.0/100_1/comments", filter="stream")
    assert [c["comment_count"] for c in page["data"]] == [2, 0, 0]

    post.comments[2].deleted = True
    _, page = _get(sim, "/v21.0/100_1/comments", filter="stream")
    assert [c["comment_count"] for c in page["data"]] == [1, 0]
    assert _get(sim, "/v21.0/100_1_1")[1]["comment_count"] == 1

    post.deleted = True  # a deleted post takes its comments with it
    assert _get(sim, "/v21.0/100_1_1")[0] == 400
    assert _get(sim, "/v21.0/100_1/comments")[0] == 400
