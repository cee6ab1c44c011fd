"""Mastodon's user stream and Bluesky's Jetstream on loopback: what is kept, resuming after a
drop, the status the morning check reads, and the targeted capture each event triggers."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from archiver.capture import collect
from archiver.capture.listen import Listener
from archiver.config import AccountConfig, load_settings
from archiver.health import check_health
from archiver.index import open_index
from archiver.listen.jetstream import JetstreamStream
from archiver.listen.mastodon import MastodonStream
from archiver.listen.streams import StatusBoard, stream_problems
from archiver.replay import bluesky as bsky
from archiver.replay import mastodon as masto
from archiver.replay.streaming import SimClock, StreamFeed

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
DEPT = "did:plc:examplepd7d2hbw5kvaoe3zx"
ROOT = f"at://{DEPT}/app.bsky.feed.post/3kdemo00001"


class Sink:
    def __init__(self):
        self.kept = []

    def __call__(self, account, targets, event):
        self.kept.append((account, targets, event))


def commit(did, rkey, operation="create", *, root=None, time_us=1_700_000_000_000_000, collection="app.bsky.feed.post"):
    record = {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2026-11-20T08:00:00Z"}
    if root:
        record["reply"] = {"root": {"uri": root, "cid": "bafy"}, "parent": {"uri": root, "cid": "bafy"}}
    body = {"rev": "3l", "operation": operation, "collection": collection, "rkey": rkey}
    if operation != "delete":
        body.update(record=record, cid="bafyrei")
    return json.dumps({"did": did, "time_us": time_us, "kind": "commit", "commit": body})


@pytest.fixture
def jetstream_server():
    """A Jetstream on loopback: each connection gets the next list of messages, then closes."""
    from websockets.sync.server import serve

    batches, queries = [], []

    def handler(ws):
        queries.append(parse_qs(urlparse(ws.request.path).query))
        for message in batches.pop(0) if batches else []:
            ws.send(message)

    server = serve(handler, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}/subscribe", batches, queries
    server.shutdown()


def test_jetstream_keeps_only_the_departments_threads_and_resumes_from_its_cursor(jetstream_server, tmp_path):
    url, batches, queries = jetstream_server
    known = {f"at://did:plc:jane/app.bsky.feed.post/old1": ROOT}
    batches.append([
        commit("did:plc:stranger", "a1", root="at://did:plc:other/app.bsky.feed.post/x", time_us=1),
        commit("did:plc:jane", "r1", root=ROOT, time_us=2),                       # a reply in our thread
        commit(DEPT, "newpost", time_us=3),                                       # the department posts
        commit("did:plc:jane", "old1", "delete", time_us=4),                     # a known comment deleted
        commit("did:plc:jane", "zzz", "delete", time_us=5),                      # an unknown deletion
        commit("did:plc:jane", "like", collection="app.bsky.feed.like", time_us=6),
        json.dumps({"did": "did:plc:jane", "time_us": 7_000_000, "kind": "identity", "identity": {}}),
        "not json",
    ])
    batches.append([commit("did:plc:jane", "r2", root=ROOT, time_us=8_000_000)])
    sink, board = Sink(), StatusBoard(tmp_path)
    stream = JetstreamStream(name="jetstream", board=board, sink=sink, sleep=lambda s: False, endpoint=url,
                             accounts={DEPT: "pd-bluesky"}, root_of=known.get)
    stream.run(threading.Event(), max_connections=2)
    kept = [(a, t) for a, t, _ in sink.kept]
    assert kept == [("pd-bluesky", [ROOT]), ("pd-bluesky", [f"at://{DEPT}/app.bsky.feed.post/newpost"]),
                    ("pd-bluesky", [ROOT]), ("pd-bluesky", [ROOT])]
    assert queries[0] == {"wantedCollections": ["app.bsky.feed.post"]}
    assert queries[1]["cursor"] == ["2000000"]  # 5 s before the last event read (7,000,000 µs)
    assert stream.delays == [1.0, 1.0]  # each connection worked: the backoff starts again
    state = json.loads((tmp_path / "streams.json").read_text())["jetstream"]
    assert state["connected"] is False and state["reconnects"] == 2 and state["resume"] == 8_000_000


class _Mastodon(BaseHTTPRequestHandler):
    """A Mastodon instance's user stream and notifications, on loopback."""
    streams: list[bytes] = []
    seen: list[tuple[str, str | None]] = []
    notifications: list[dict] = []
    redirect = False

    def do_GET(self):  # noqa: N802
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        if self.redirect:
            self.send_response(302)
            self.send_header("Location", "http://streaming.elsewhere.example/api/v1/streaming/user")
            self.end_headers()
            return
        if self.path.startswith("/api/v1/notifications"):
            body = json.dumps(self.notifications).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        else:
            body = self.streams.pop(0) if self.streams else b""
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def sse(event, data):
    return f"event: {event}\ndata: {json.dumps(data) if not isinstance(data, str) else data}\n\n".encode()


@pytest.fixture
def instance():
    handler = type("H", (_Mastodon,), {"streams": [], "seen": [], "notifications": [], "redirect": False})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v1", handler
    server.shutdown()


def test_mastodon_user_stream_keeps_mentions_edits_and_known_deletions(instance, tmp_path):
    api, h = instance
    mention = {"id": "41", "type": "mention", "status": {"id": "900", "in_reply_to_id": "800", "content": "<p>hi</p>"}}
    h.streams.append(b":thump\n\n" + sse("notification", mention)
                     + sse("notification", {"id": "42", "type": "favourite", "status": {"id": "800"}})
                     + sse("status.update", {"id": "800", "in_reply_to_id": None, "content": "<p>edited</p>"})
                     + sse("delete", "777") + sse("delete", "12345") + b"event: update\ndata: {torn\n\n")
    h.notifications.append({"id": "43", "type": "mention", "status": {"id": "901", "in_reply_to_id": "800"}})
    sink, board = Sink(), StatusBoard(tmp_path)
    stream = MastodonStream(name="mastodon:pd", board=board, sink=sink, sleep=lambda s: False,
                            account=AccountConfig("pd", "mastodon", "1"), token="tok+en/=", api_base=api,
                            root_of={"777": "800"}.get)
    stream.run(threading.Event(), max_connections=2)
    assert [(a, t) for a, t, _ in sink.kept] == [("pd", ["800"]), ("pd", ["800"]), ("pd", ["800"]), ("pd", ["800"])]
    paths = [p for p, _ in h.seen]
    assert paths[:2] == ["/api/v1/streaming/user", "/api/v1/streaming/user"]
    assert paths[2].startswith("/api/v1/notifications?") and "since_id=41" in paths[2]  # then the missed mentions
    assert all(auth == "Bearer tok+en/=" for _, auth in h.seen)
    assert board.get("mastodon:pd").resume == "43"


def test_the_token_never_follows_a_redirect_to_another_host(instance, tmp_path):
    api, h = instance
    h.redirect = True
    board = StatusBoard(tmp_path)
    stream = MastodonStream(name="mastodon:pd", board=board, sink=Sink(), sleep=lambda s: False,
                            account=AccountConfig("pd", "mastodon", "1"), token="secret-token", api_base=api)
    stream.run(threading.Event(), max_connections=1)
    assert "not followed with the token" in board.get("mastodon:pd").last_error
    assert len(h.seen) == 1  # nothing went to streaming.elsewhere.example


def test_a_stream_that_cannot_connect_backs_off_doubling_up_to_the_cap(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    stream = JetstreamStream(name="jetstream", board=StatusBoard(tmp_path), sink=Sink(), sleep=lambda s: False,
                             endpoint=f"ws://127.0.0.1:{port}/subscribe", accounts={DEPT: "pd"})
    stream.run(threading.Event(), max_connections=11)
    assert stream.delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 300.0, 300.0]
    state = stream.board.get("jetstream")
    assert state.connected is False and "Connection" in state.last_error


def test_the_morning_check_reports_a_stream_down_too_long(tmp_path):
    board = StatusBoard(tmp_path)
    board.update("jetstream", connected=False, since="2026-11-20T07:00:00Z", last_error="ConnectionRefusedError")
    assert stream_problems(tmp_path, now=NOW, max_down_minutes=15)[0].startswith("stream jetstream has been down")
    report = check_health(open_index(tmp_path / "index.db"), [], now=NOW, streams_dir=tmp_path)
    assert not report.ok and [(f.what, f.ok) for f in report.findings if f.what == "listener"] == [("listener", False)]
    assert stream_problems(tmp_path, now=NOW.replace(minute=0, hour=7) + timedelta(minutes=5)) == []
    board.update("jetstream", connected=True, since="2026-11-20T07:59:00Z")
    assert stream_problems(tmp_path, now=NOW) == []


@pytest.fixture
def bluesky_archive(replay, make_config):
    sim = bsky.BlueskySimulator()
    replay.mount(sim)
    bsky.sample_world(sim, NOW - timedelta(days=1))
    cfg = make_config([{"name": "pd-bluesky", **bsky.demo_account(sim)}])
    settings = load_settings(cfg, environ={})
    # The sample thread has a reply blocked for the public AppView: reported, so the night is partial.
    assert [r.status for r in collect(settings, environ={}, now=NOW).results] == ["partial"]
    return sim, settings


def test_a_jetstream_reply_is_archived_within_one_flush(bluesky_archive, jetstream_server):
    sim, settings = bluesky_archive
    url, batches, _ = jetstream_server
    root = sim.posts[ROOT]
    reply = sim.post("3klive0001", "posted and soon deleted", NOW + timedelta(minutes=1),
                     author="did:plc:resident000000000000001", reply_to=root.uri)
    batches.append([commit("did:plc:resident000000000000001", "3klive0001", root=root.uri, time_us=10)])
    listener = Listener(settings, {}, now=lambda: NOW + timedelta(minutes=2))
    [stream] = listener.receiver.streams()
    stream.endpoint, stream.sleep = url, (lambda s: False)
    stream.run(threading.Event(), max_connections=1)
    report = listener.flush()
    assert report.captured == {"pd-bluesky": "partial"}  # the blocked reply, reported again
    db = open_index(settings.index_path)
    assert db.conn.execute("SELECT text, status FROM items WHERE platform_id = ?", (reply.uri,)).fetchone() == \
        ("posted and soon deleted", "live")
    assert db.conn.execute("SELECT driver FROM runs ORDER BY started_at DESC LIMIT 1").fetchone() == ("listen",)
    # Other threads were not read again; no post became a deletion candidate.
    assert db.conn.execute("SELECT count(*) FROM items WHERE status = 'deleted'").fetchone()[0] == 0


def test_a_mastodon_mention_is_archived_with_its_whole_thread(replay, make_config):
    sim = masto.MastodonSimulator(token="masto-token")
    replay.mount(sim)
    masto.sample_world(sim, NOW - timedelta(days=1))
    cfg = make_config([{"name": "pd-mastodon", "token_env": "PD_MASTO", **masto.demo_account(sim)}])
    settings = load_settings(cfg, environ={})
    env = {"PD_MASTO": "masto-token"}
    assert collect(settings, environ=env, now=NOW).ok
    dog = next(s for s in sim.statuses.values() if s.content.startswith("<p>Lost dog"))
    comment = next(s for s in sim.statuses.values() if s.in_reply_to_id == dog.id)
    late = sim.post("<p>a reply to a reply, posted this morning</p>", NOW + timedelta(minutes=1),
                    account="109000000000000002", reply_to=comment.id)
    listener = Listener(settings, env, now=lambda: NOW + timedelta(minutes=2))
    assert listener.pending.put_targets("pd-mastodon", [comment.id], {"event": "notification"}, "2026-11-20T08:02:00Z")
    assert listener.flush().captured == {"pd-mastodon": "ok"}
    db = open_index(settings.index_path)
    row = db.conn.execute("SELECT root, status FROM items WHERE platform_id = ?", (late.id,)).fetchone()
    assert row == (dog.id, "live")


def _follow(stream, clock):
    stop = threading.Event()
    thread = threading.Thread(target=stream.run, args=(stop,), daemon=True)
    thread.start()
    clock.settle(1)

    def finish():
        stop.set()
        clock.close()
        thread.join(timeout=10)
    return finish


def test_the_simulated_jetstream_replays_from_the_cursor_after_an_outage(tmp_path):
    clock = SimClock(NOW)
    sim = bsky.BlueskySimulator()
    sim.jetstream = StreamFeed(clock)
    root = sim.post("3kroot", "a department post", NOW)  # before the client connects: not replayed
    sink = Sink()
    stream = JetstreamStream(name="jetstream", board=StatusBoard(tmp_path), sink=sink, sleep=clock.sleep,
                             connect=sim.jetstream_connect, accounts={sim.did: "pd"})
    finish = _follow(stream, clock)
    sim.post("3kreply1", "first", NOW + timedelta(minutes=1), author="did:plc:jane", reply_to=root.uri)
    clock.settle(1)
    assert len(sink.kept) == 1
    clock.set(NOW + timedelta(minutes=2))
    sim.jetstream.drop(NOW + timedelta(minutes=22))
    sim.post("3kreply2", "while the stream is down", NOW + timedelta(minutes=3), author="did:plc:jane",
             reply_to=root.uri)
    clock.settle(1)
    assert len(sink.kept) == 1 and stream.board.get("jetstream").connected is False
    for minute in range(3, 30):
        clock.set(NOW + timedelta(minutes=minute))
        clock.settle(1)
    finish()
    rkeys = [event["event"]["commit"]["rkey"] for _, _, event in sink.kept]
    # Resumed 5 s before the last event read: that one again (a capture is idempotent), then the missed one.
    assert rkeys == ["3kreply1", "3kreply1", "3kreply2"]
    assert stream.delays[:6] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]  # refused while down, backing off in simulated time


def test_the_simulated_mastodon_stream_and_the_mentions_missed_while_it_was_down(replay, tmp_path):
    clock = SimClock(NOW)
    sim = masto.MastodonSimulator(token="masto-token")
    replay.mount(sim)
    sim.stream = StreamFeed(clock)
    sim.add_account("2", "jane")
    post = sim.post("<p>a department post</p>", NOW)
    sink = Sink()
    stream = MastodonStream(name="mastodon:pd", board=StatusBoard(tmp_path), sink=sink, sleep=clock.sleep,
                            account=AccountConfig("pd", "mastodon", sim.account_id), token="masto-token",
                            api_base=sim.api_base, session=sim.streaming_session(), root_of={}.get)
    finish = _follow(stream, clock)
    first = sim.post("<p>first</p>", NOW + timedelta(minutes=1), account="2", reply_to=post.id)
    sim.edit(post.id, "<p>a department post (updated)</p>", NOW + timedelta(minutes=1))
    clock.settle(1)
    clock.set(NOW + timedelta(minutes=2))
    sim.stream.drop(NOW + timedelta(minutes=22))
    missed = sim.post("<p>while the stream is down</p>", NOW + timedelta(minutes=3), account="2", reply_to=post.id)
    gone = sim.post("<p>posted and deleted while it is down</p>", NOW + timedelta(minutes=4), account="2",
                    reply_to=post.id)
    sim.delete(gone.id, NOW + timedelta(minutes=5))
    for minute in range(3, 30):
        clock.set(NOW + timedelta(minutes=minute))
        clock.settle(1)
    finish()
    assert stream.delays[:6] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]  # the REST API answering resets nothing
    kept = [(event["event"]["event"], event["event"]["data"]["id"]) for _, _, event in sink.kept]
    assert kept[:2] == [("notification", "1"), ("status.update", post.id)]
    # After the drop, the missed mention is read from /notifications; the deleted one took its notification along.
    assert kept[2:] == [("notification", "2")] and sink.kept[2][1] == [post.id]
    assert missed.id == sink.kept[2][2]["event"]["data"]["status"]["id"]
