"""A Bluesky AppView simulator (``shared/research/platforms.md`` §5).

Shapes follow the recorded atproto.dart fixtures: ``app.bsky.feed.getAuthorFeed`` pages of
``feedViewPost`` (with ``reply{root,parent}`` for replies and ``reason#reasonRepost`` for
reposts) paged by a timestamp ``cursor`` that is absent on the last page;
``app.bsky.feed.getPostThread`` as a nested ``threadViewPost`` tree whose blocked replies are
``blockedPost``, with the author's ``threadgate`` (``hiddenReplies``) at the top level. As
the real AppView does (``shared/realworld/bluesky/snap``: "handles deleted posts correctly",
"takedown blocks replies by record"), a deleted or taken-down reply is left out of the tree
with its whole subtree (no ``notFoundPost`` node), and a deleted or taken-down post answers
``NotFound`` alike; a reply below a vanished one is still answered by its own URI. Errors use the XRPC envelope
``{"error": "<Name>", "message": ...}`` (400 NotFound, 400 ExpiredToken, 401 InvalidToken,
429 RateLimitExceeded) and every answer carries the ``ratelimit-*`` headers.

With a ``StreamFeed`` attached (``jetstream``), every post created or deleted is also published
as Jetstream sends it (``{"did", "time_us", "kind": "commit", "commit": {"operation",
"collection", "rkey", "record", "cid"}}``), and ``jetstream_connect`` is a transport for
``JetstreamStream.connect``: it replays from the ``cursor`` of the URL (``time_us``), as
Jetstream does, or follows from now without one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

from . import Reply, Request, Simulator, json_reply
from . import images
from .samples import HOSTILE
from .streaming import StreamFeed


def bsky_time(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def xrpc_error(name: str, message: str, status: int = 400) -> Reply:
    return json_reply({"error": name, "message": message}, status)


def rate_headers(remaining: int = 2999, reset: float | None = None) -> dict[str, str]:
    reset = reset if reset is not None else time.time() + 300
    return {"ratelimit-limit": "3000", "ratelimit-remaining": str(max(remaining, 0)),
            "ratelimit-reset": str(int(reset)), "ratelimit-policy": "3000;w=300"}


@dataclass
class Profile:
    did: str
    handle: str
    display_name: str = ""


@dataclass
class BskyPost:
    author: str  # did
    rkey: str
    text: str
    created: datetime
    parent: str | None = None  # at:// uri
    root: str | None = None
    facets: list = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    deleted: bool = False
    blocked: bool = False  # shown to the public AppView as blockedPost
    taken_down: bool = False  # removed by moderation: answers like a deleted post
    likes: int = 0

    @property
    def uri(self) -> str:
        return f"at://{self.author}/app.bsky.feed.post/{self.rkey}"


@dataclass
class Repost:
    by: str  # did
    subject: str  # uri
    at: datetime


class BlueskySimulator(Simulator):
    prefix = "bluesky"

    def __init__(
        self,
        did: str = "did:plc:examplepd7d2hbw5kvaoe3zx",
        handle: str = "examplepd.bsky.social",
        display_name: str = "Example Police Department",
        *,
        token: str | None = None,  # when set, a Bearer header must carry exactly this
        page_size: int | None = None,
        max_depth: int = 1000,  # the AppView's own cap on reply depth
    ):
        self.did = did
        self.profiles: dict[str, Profile] = {did: Profile(did, handle, display_name)}
        self.posts: dict[str, BskyPost] = {}
        self.reposts: list[Repost] = []
        self.hidden: dict[str, list[str]] = {}  # root uri -> hidden reply uris (threadgate)
        self.token = token
        self.expired = False
        self.page_size = page_size
        self.max_depth = max_depth
        self.revisions: dict[str, int] = {}
        self.calls = 0
        self.base_url = ""
        self.jetstream: StreamFeed | None = None
        self.last_time_us = 0

    # -- world helpers ------------------------------------------------------------------------
    def add_profile(self, did: str, handle: str, display_name: str = "") -> Profile:
        self.profiles[did] = Profile(did, handle, display_name)
        return self.profiles[did]

    def post(self, rkey: str, text: str, created: datetime, *, author: str | None = None,
             reply_to: str | None = None, **kw) -> BskyPost:
        parent = self.posts.get(reply_to) if reply_to else None
        post = BskyPost(author or self.did, rkey, text, created, parent=reply_to,
                        root=(parent.root or parent.uri) if parent else None, **kw)
        self.posts[post.uri] = post
        self._publish(post, "create", created)
        return post

    def delete(self, uri: str, at: datetime) -> None:
        """The author deletes the record (``deleteRecord``): gone from the AppView and the firehose says so."""
        self.posts[uri].deleted = True
        self._publish(self.posts[uri], "delete", at)

    def edit(self, uri: str, text: str) -> None:
        """A ``putRecord`` rewrite: same uri, new record, so a new cid."""
        self.posts[uri].text = text
        self.revisions[uri] = self.revisions.get(uri, 0) + 1

    def repost(self, subject: str, at: datetime, by: str | None = None) -> None:
        self.reposts.append(Repost(by or self.did, subject, at))

    def hide_reply(self, root: str, reply: str) -> None:
        self.hidden.setdefault(root, []).append(reply)

    def media_url(self, did: str, name: str) -> str:
        return f"{self.base_url}/img/feed_fullsize/plain/{did}/{name}@jpeg"

    # -- rendering ----------------------------------------------------------------------------
    def _record(self, post: BskyPost) -> dict:
        record: dict = {"$type": "app.bsky.feed.post", "createdAt": bsky_time(post.created),
                        "langs": ["en"], "text": post.text}
        if post.facets:
            record["facets"] = post.facets
        if post.images:
            record["embed"] = {"$type": "app.bsky.embed.images", "images": [
                {"alt": "", "image": {"$type": "blob", "ref": {"$link": _cid(name)}, "mimeType": "image/jpeg",
                                      "size": 2116}} for name in post.images]}
        if post.parent:
            parent, root = self.posts[post.parent], self.posts[post.root or post.parent]
            record["reply"] = {"root": {"cid": self._cid(root), "uri": root.uri},
                               "parent": {"cid": self._cid(parent), "uri": parent.uri}}
        return record

    def _cid(self, post: BskyPost) -> str:
        blob = json.dumps([post.uri, post.text, post.facets, post.images, self.revisions.get(post.uri, 0)])
        return _cid(blob)

    def _author(self, did: str) -> dict:
        p = self.profiles[did]
        return {"did": p.did, "handle": p.handle, "displayName": p.display_name,
                "avatar": f"https://cdn.bsky.app/img/avatar/plain/{p.did}/{_cid(p.did)}@jpeg",
                "associated": {"chat": {"allowIncoming": "all"}}, "labels": [],
                "createdAt": "2023-04-27T16:46:45.754Z"}

    def _children(self, post: BskyPost) -> list[BskyPost]:
        return sorted((p for p in self.posts.values() if p.parent == post.uri), key=lambda p: p.created)

    @staticmethod
    def _gone(post: BskyPost | None) -> bool:
        return post is None or post.deleted or post.taken_down

    def _view(self, post: BskyPost) -> dict:
        view = {"uri": post.uri, "cid": self._cid(post), "author": self._author(post.author),
                "record": self._record(post),
                "replyCount": sum(1 for c in self._children(post) if not c.deleted),
                "repostCount": sum(1 for r in self.reposts if r.subject == post.uri),
                "likeCount": post.likes, "quoteCount": 0,
                "indexedAt": bsky_time(post.created + timedelta(milliseconds=250)), "labels": []}
        if post.images:
            view["embed"] = {"$type": "app.bsky.embed.images#view", "images": [
                {"thumb": self.media_url(post.author, name).replace("feed_fullsize", "feed_thumbnail"),
                 "fullsize": self.media_url(post.author, name), "alt": ""} for name in post.images]}
        return view

    def _ref(self, uri: str) -> dict:
        post = self.posts.get(uri)
        if self._gone(post):
            return {"$type": "app.bsky.feed.defs#notFoundPost", "uri": uri, "notFound": True}
        if post.blocked:
            return {"$type": "app.bsky.feed.defs#blockedPost", "uri": uri, "blocked": True,
                    "author": {"did": post.author, "viewer": {"blockedBy": True}}}
        return {"$type": "app.bsky.feed.defs#postView", **self._view(post)}

    # -- Jetstream -------------------------------------------------------------------------------
    def _publish(self, post: BskyPost, operation: str, at: datetime) -> None:
        if self.jetstream is None:
            return
        self.last_time_us = max(self.last_time_us + 1, int(at.timestamp() * 1_000_000))
        commit: dict = {"rev": f"3l{self.last_time_us:x}", "operation": operation, "collection": "app.bsky.feed.post",
                        "rkey": post.rkey}
        if operation != "delete":
            commit.update(record=self._record(post), cid=self._cid(post))
        self.jetstream.publish({"did": post.author, "time_us": self.last_time_us, "kind": "commit", "commit": commit},
                               at)

    def jetstream_connect(self, url: str, **_options) -> "_JetstreamConnection":
        feed = self.jetstream
        if feed is None or feed.down:
            raise ConnectionRefusedError(f"{url}: Jetstream is not reachable")
        cursor = (parse_qs(urlsplit(url).query).get("cursor") or [None])[0]
        if cursor is None:
            start = len(feed.items)  # no cursor: live events only
        else:
            start = next((i for i, (_, m) in enumerate(feed.items) if m["time_us"] >= int(cursor)), len(feed.items))
        return _JetstreamConnection(feed, start)

    # -- HTTP ---------------------------------------------------------------------------------
    def handle(self, request: Request) -> Reply:
        self.calls += 1
        parts = [p for p in request.path.split("/") if p]
        if parts[:1] == ["img"]:
            return Reply(200, _jpeg(parts[-1]), {"Content-Type": "image/jpeg"})
        header = request.headers.get("Authorization", "")
        if header:
            if self.expired:
                reply = xrpc_error("ExpiredToken", "Token has expired")
            elif self.token is None or header != f"Bearer {self.token}":
                reply = xrpc_error("InvalidToken", "Bad token scope", 401)
            else:
                reply = None
        else:
            reply = None
        method = parts[1] if parts[:1] == ["xrpc"] and len(parts) > 1 else ""
        if reply is None:
            handler = {"app.bsky.feed.getAuthorFeed": self._author_feed,
                       "app.bsky.feed.getPostThread": self._thread,
                       "app.bsky.actor.getProfile": self._profile,
                       "com.atproto.identity.resolveHandle": self._resolve_handle}.get(method)
            reply = handler(request) if handler else xrpc_error("MethodNotImplemented", "Method Not Implemented", 501)
        reply.headers.update(rate_headers(3000 - self.calls))
        return reply

    def _actor(self, request: Request) -> Profile | None:
        actor = request.param("actor") or ""
        return next((p for p in self.profiles.values() if actor in (p.did, p.handle)), None)

    def _profile(self, request: Request) -> Reply:
        p = self._actor(request)
        if p is None:
            return xrpc_error("InvalidRequest", "Profile not found")
        return json_reply({**self._author(p.did), "postsCount": sum(1 for x in self.posts.values()
                                                                    if x.author == p.did and not x.deleted)})

    def _resolve_handle(self, request: Request) -> Reply:
        handle = request.param("handle") or ""
        p = next((p for p in self.profiles.values() if p.handle == handle), None)
        if p is None:
            return xrpc_error("InvalidRequest", "Unable to resolve handle")
        return json_reply({"did": p.did})

    def _author_feed(self, request: Request) -> Reply:
        profile = self._actor(request)
        if profile is None:
            return xrpc_error("InvalidRequest", "Profile not found")
        mode = request.param("filter") or "posts_with_replies"
        rows: list[tuple[datetime, dict]] = []
        for post in self.posts.values():
            if post.author != profile.did or self._gone(post):
                continue
            if post.parent and mode == "posts_no_replies":
                continue
            entry: dict = {"post": self._view(post)}
            if post.parent:
                root = self.posts[post.root or post.parent]
                if mode == "posts_and_author_threads" and root.author != profile.did:
                    continue
                entry["reply"] = {"root": self._ref(root.uri), "parent": self._ref(post.parent)}
            rows.append((post.created, entry))
        for rp in self.reposts:
            subject = self.posts.get(rp.subject)
            if rp.by == profile.did and not self._gone(subject):
                rows.append((rp.at, {"post": self._view(subject), "reason": {
                    "$type": "app.bsky.feed.defs#reasonRepost", "by": self._author(rp.by),
                    "indexedAt": bsky_time(rp.at)}}))
        rows.sort(key=lambda r: r[0], reverse=True)
        cursor = request.param("cursor")
        if cursor:
            rows = [r for r in rows if bsky_time(r[0]) < cursor]
        limit = min(int(request.param("limit") or 50), 100, self.page_size or 100)
        page = rows[:limit]
        body: dict = {"feed": [entry for _, entry in page]}
        if len(rows) > limit:
            body["cursor"] = bsky_time(page[-1][0])
        return json_reply(body)

    def _thread(self, request: Request) -> Reply:
        uri = request.param("uri") or ""
        post = self.posts.get(uri)
        if self._gone(post):
            return xrpc_error("NotFound", f"Post not found: {uri}")
        depth = min(int(request.param("depth") or 6), self.max_depth)
        body: dict = {"thread": self._node(post, depth)}
        root = post.root or post.uri
        if root in self.hidden:
            root_post = self.posts[root]
            body["threadgate"] = {
                "uri": f"at://{root_post.author}/app.bsky.feed.threadgate/{root_post.rkey}",
                "cid": _cid("gate" + root), "lists": [],
                "record": {"$type": "app.bsky.feed.threadgate", "post": root, "allow": None,
                           "createdAt": bsky_time(root_post.created), "hiddenReplies": list(self.hidden[root])}}
        return json_reply(body)

    def _node(self, post: BskyPost, depth: int) -> dict:
        node: dict = {"$type": "app.bsky.feed.defs#threadViewPost", "post": self._view(post)}
        if depth > 0:
            replies = []
            for child in self._children(post):
                if self._gone(child):
                    continue  # its whole subtree goes with it
                if child.blocked:
                    replies.append(self._ref(child.uri))
                else:
                    replies.append(self._node(child, depth - 1))
            node["replies"] = replies
        return node


class _JetstreamConnection:
    """One WebSocket connection to the simulated Jetstream: iterating gives the JSON messages."""

    def __init__(self, feed: StreamFeed, start: int):
        self.feed, self.start = feed, start

    def __enter__(self) -> "_JetstreamConnection":
        return self

    def __exit__(self, *exc) -> None:
        pass

    def __iter__(self):
        for message in self.feed.read_from(self.start):
            yield json.dumps(message)


def _cid(seed: str) -> str:
    digest = base64.b32encode(hashlib.sha256(seed.encode("utf-8", "surrogatepass")).digest()).decode()
    return "bafyrei" + digest.lower().rstrip("=")[:52]


def _jpeg(name: str) -> bytes:
    return images.jpeg(name)


# -- the demo department ------------------------------------------------------------------------
def sample_world(sim: BlueskySimulator, now: datetime | None = None) -> None:
    """A few department posts with public replies, a repost, a department reply in someone
    else's thread, a blocked reply and hostile text."""
    now = now or datetime.now(timezone.utc)
    day = timedelta(days=1)
    sim.add_profile("did:plc:resident000000000000001", "jane.bsky.social", "Jane Resident")
    sim.add_profile("did:plc:resident000000000000002", "mallory.bsky.social", "\u202eyrollaM")
    sim.add_profile("did:plc:newsroom0000000000000003", "news.example.com", "Example News")
    text = "Road closure on Main St 🚧 details: example.gov/closures…"
    start = len(text[: text.index("example.gov")].encode("utf-8"))
    p1 = sim.post("3kdemo00001", text, now - 3 * day, images=["closure"], facets=[{
        "index": {"byteStart": start, "byteEnd": len(text.encode("utf-8"))},
        "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.gov/closures/main-st"}]}])
    c1 = sim.post("3kdemo00002", "How long will it be closed?", now - 3 * day + timedelta(hours=1),
                  author="did:plc:resident000000000000001", reply_to=p1.uri)
    sim.post("3kdemo00003", "Until Friday evening.", now - 3 * day + timedelta(hours=2), reply_to=c1.uri)
    sim.post("3kdemo00004", HOSTILE[0] + " " + HOSTILE[3], now - 3 * day + timedelta(hours=3),
             author="did:plc:resident000000000000002", reply_to=p1.uri)
    sim.post("3kdemo00005", "blocked words", now - 3 * day + timedelta(hours=4),
             author="did:plc:resident000000000000002", reply_to=p1.uri, blocked=True)
    p2 = sim.post("3kdemo00006", "Coffee with a cop this Saturday ☕", now - 2 * day)
    sim.post("3kdemo00007", "See you there!", now - 2 * day + timedelta(hours=1),
             author="did:plc:resident000000000000001", reply_to=p2.uri)
    story = sim.post("3kdemo00008", "Police respond to incident downtown", now - day,
                     author="did:plc:newsroom0000000000000003")
    sim.post("3kdemo00009", "Official update: the scene is clear.", now - day + timedelta(hours=1),
             reply_to=story.uri)
    sim.repost(story.uri, now - day + timedelta(minutes=30))


def next_night(sim: BlueskySimulator, now: datetime | None = None) -> None:
    """An edit (record rewritten: new cid), a hidden reply (threadgate), a deleted comment whose
    reply below it the thread no longer shows, and a reply taken down by moderation."""
    posts = {p.rkey: p for p in sim.posts.values()}
    sim.edit(posts["3kdemo00006"].uri, "Coffee with a cop this Saturday ☕ (9–11 am, Main St café)")
    sim.hide_reply(posts["3kdemo00001"].uri, posts["3kdemo00004"].uri)
    posts["3kdemo00002"].deleted = True  # takes the department's answer 3kdemo00003 out of the thread
    posts["3kdemo00007"].taken_down = True


def demo_account(sim: BlueskySimulator) -> dict:
    """The ``[[accounts]]`` keys that point a config at this simulator."""
    return {"platform": "bluesky", "id": sim.profiles[sim.did].handle, "api_base": sim.base_url + "/xrpc"}
