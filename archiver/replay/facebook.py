"""A Graph API simulator for one Facebook Page (``shared/research/platforms.md`` §1).

Shapes follow the recorded python-facebook fixtures: posts with ``attachments``, comment
and reaction summaries; ``/comments?filter=stream`` with flattened replies carrying
``parent{id}``; ``paging.next`` as a full URL that still contains ``access_token`` (as the
real API does); posts paged by time (``until`` + ``__paging_token``) or by cursor; errors
in the ``OAuthException`` envelope (190/463 expired token, 100/33 deleted object -- or an
object the token may not read: ``FbComment.restricted`` answers 100/33 while still listed).

As real pages do (``shared/realworld/facebook/pyfb_facebook_apidata_comments_comments_p1``),
``identity=False`` answers comments without ``id``, ``from`` and ``parent``: only the
``permalink_url`` says which comment (``comment_id``) and which reply (``reply_comment_id``).
``http_throttle`` is the plain HTTP 429 with ``Retry-After`` and an error without a Graph code.
"""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlencode

from . import Reply, Request, Simulator, json_reply
from . import images


def graph_time(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


def graph_error(code: int, message: str, subcode: int | None = None, status: int = 400, **extra) -> Reply:
    err = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEfGh123"}
    if subcode is not None:
        err["error_subcode"] = subcode
    err.update(extra)
    return json_reply({"error": err}, status)


def gone(object_id: str) -> Reply:
    """The only Graph answer that proves a deletion: code 100, subcode 33."""
    return graph_error(100, f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be "
                       "loaded due to missing permissions, or does not support this operation", subcode=33)


def http_throttle(retry_after: int = 30) -> tuple[int, dict, dict]:
    """(status, body, headers) of a throttle from the HTTP layer: 429, ``Retry-After``, and an
    error object without a Graph code -- for ``ReplayServer.inject``."""
    return 429, {"error": {"message": "Too Many Requests", "type": "OAuthException"}}, {"Retry-After": str(retry_after)}


def throttle_body(code: int = 4) -> dict:
    messages = {
        4: "(#4) Application request limit reached",
        17: "(#17) User request limit reached",
        32: "(#32) Page request limit reached",
        613: "(#613) Calls to this api have exceeded the rate limit.",
        80001: "There have been too many calls to this Page account. Wait a bit and try again.",
    }
    return {"error": {"message": messages[code], "type": "OAuthException", "is_transient": True,
                      "code": code, "fbtrace_id": "AbCdEfGh123"}}


def expired_token_body() -> dict:
    return {"error": {
        "message": "Error validating access token: Session has expired on Friday, 20-Nov-26 "
                   "09:00:00 PST. The current time is Saturday, 21-Nov-26 02:00:00 PST.",
        "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "AbCdEfGh123"}}


@dataclass
class FbComment:
    id: str  # "<post-object-id>_<comment-id>" as Graph returns with the Page's own token
    message: str
    created_time: datetime
    author_name: str = "Jane Public"
    author_id: str = "9000001"
    parent: str | None = None  # comment id this replies to; None = top-level
    is_hidden: bool = False
    deleted: bool = False
    image: str | None = None  # media name served by the simulator
    like_count: int = 0
    unlisted: bool = False  # missing from the comment list but still answering GET /{id}
    restricted: bool = False  # listed, but GET /{id} answers 100/33 (the token may not read it)


@dataclass
class FbPost:
    id: str  # "{page-id}_{post-id}"
    message: str
    created_time: datetime
    images: list[str] = field(default_factory=list)
    comments: list[FbComment] = field(default_factory=list)
    deleted: bool = False
    status_type: str = "mobile_status_update"
    shares: int = 0
    reactions: int = 0


class FacebookSimulator(Simulator):
    prefix = "facebook"

    def __init__(
        self,
        page_id: str,
        page_name: str = "Example Police Department",
        *,
        token: str | None = "fb-test-token",
        version: str = "v21.0",
        post_paging: str = "time",  # "time" (until/__paging_token) or "cursor"
        page_size: int | None = None,  # force a page size smaller than the requested limit
        identity: bool = True,  # False: comments without id, from and parent (permalink only)
    ):
        self.page_id = page_id
        self.page_name = page_name
        self.token = token
        self.version = version
        self.post_paging = post_paging
        self.page_size = page_size
        self.identity = identity
        self.posts: list[FbPost] = []
        self.expired = False
        self.calls = 0
        self.base_url = ""
        # The Meta app the token belongs to, and the apps subscribed to the Page (app id -> fields).
        self.app = {"id": "880000000000001", "name": "Records Archiver", "link": "https://archive.example.gov/"}
        self.subscribed_apps: dict[str, list[str]] = {}
        self._ids: dict[str, tuple[FbPost, FbPost | FbComment]] = {}

    # -- world helpers ------------------------------------------------------------------------
    def add_post(self, post_no: int | str, message: str, created: datetime, **kw) -> FbPost:
        post = FbPost(id=f"{self.page_id}_{post_no}", message=message, created_time=created, **kw)
        self.posts.append(post)
        return post

    def find(self, object_id: str) -> FbPost | FbComment | None:
        found = self._locate(object_id)
        return found[1] if found else None

    def _locate(self, object_id: str) -> tuple[FbPost, FbPost | FbComment] | None:
        """(post, object) for an id. Tests grow the world by appending to ``posts`` and to a
        post's ``comments`` directly, and never remove from them, so a cached id map stays
        right for every id it holds; an id it lacks (new, or never there) rebuilds it. A scan
        per request made the benchmarks' million-item Page quadratic."""
        found = self._ids.get(object_id)
        if found is None or found[1].id != object_id:
            self._ids = {}
            for post in self.posts:
                self._ids[post.id] = (post, post)
                for comment in post.comments:
                    self._ids.setdefault(comment.id, (post, comment))
            found = self._ids.get(object_id)
        return found

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/{self.version}"

    def media_url(self, name: str) -> str:
        # CDN-style URL with an expiring "oe=" token, like scontent.fbcdn.net
        return f"{self.base_url}/cdn/{name}?_nc_ht=scontent&oe=6A1B2C3D"

    @staticmethod
    def media_bytes(name: str) -> bytes:
        return images.jpeg(name)

    # -- HTTP ---------------------------------------------------------------------------------
    def handle(self, request: Request) -> Reply:
        """What every Graph API host does first: CDN media, version prefix, token check; then
        the edges of this platform (``route``) and its usage header (``usage``)."""
        self.calls += 1
        parts = [p for p in request.path.split("/") if p]
        if len(parts) == 2 and parts[0] == "cdn":
            return Reply(200, self.media_bytes(parts[1]), {"Content-Type": "image/jpeg"})
        if not parts or parts[0] != self.version:
            return graph_error(2500, "Unknown path components: " + request.path)
        if not self._authorized(request):
            if self.expired:
                return json_reply(expired_token_body(), 400)
            return graph_error(190, "Invalid OAuth access token - Cannot parse access token")
        reply = self.route(request, parts[1:])
        reply.headers.update(self.usage())
        return reply

    def usage(self) -> dict[str, str]:
        return {"X-App-Usage": '{"call_count":%d,"total_time":3,"total_cputime":2}' % (self.calls % 100)}

    def route(self, request: Request, rest: list[str]) -> Reply:
        if len(rest) == 2 and rest[1] == "subscribed_apps" and rest[0] == self.page_id:
            return self._subscribed_apps(request)
        if rest == ["app"]:
            return json_reply(self.app)
        if len(rest) == 2 and rest[1] == "posts" and rest[0] == self.page_id:
            return self._posts(request)
        if len(rest) == 2 and rest[1] == "comments":
            return self._comments(request, rest[0])
        if len(rest) == 1:
            return self._object(rest[0])
        return graph_error(2500, "Unknown path components: " + request.path)

    def _subscribed_apps(self, request: Request) -> Reply:
        """``GET``: every app subscribed to the Page with its fields; ``POST`` with
        ``subscribed_fields``: subscribe the token's app (``{"success": true}``)."""
        if request.method == "POST":
            fields = [f for f in (request.param("subscribed_fields") or "").split(",") if f]
            if not fields:
                return graph_error(100, "(#100) The parameter subscribed_fields is required.")
            self.subscribed_apps[self.app["id"]] = fields
            return json_reply({"success": True})
        return json_reply({"data": [{"category": "Business", "link": self.app["link"], "name": self.app["name"],
                                     "id": app_id, "subscribed_fields": list(fields)}
                                    for app_id, fields in self.subscribed_apps.items()]})

    def _authorized(self, request: Request) -> bool:
        if self.expired:
            return False
        if self.token is None:
            return True
        header = request.headers.get("Authorization", "")
        supplied = request.param("access_token") or (header[7:] if header.startswith("Bearer ") else None)
        return supplied == self.token

    def _limit(self, request: Request, default: int = 25) -> int:
        try:
            limit = int(request.param("limit") or default)
        except ValueError:
            limit = default
        return min(limit, self.page_size) if self.page_size else limit

    def _next_url(self, request: Request, path: str, **params: str) -> str:
        query = dict(request.query)
        for key in ("after", "before", "until", "since", "__paging_token"):
            query.pop(key, None)
        query.update(params)
        return f"{request.base_url}/{self.version}/{path}?{urlencode(query)}"

    def _posts(self, request: Request) -> Reply:
        live = sorted((p for p in self.posts if not p.deleted), key=lambda p: p.created_time, reverse=True)
        since = request.param("since")
        if since:
            live = [p for p in live if p.created_time.timestamp() >= float(since)]
        start = _decode_offset(request.param("__paging_token") or request.param("after"))
        limit = self._limit(request)
        page = live[start : start + limit]
        body: dict = {"data": [self._post_json(p) for p in page]}
        paging: dict = {}
        if start + limit < len(live):
            token = _encode_offset(start + limit)
            if self.post_paging == "time":
                until = str(int(page[-1].created_time.timestamp()))
                paging["next"] = self._next_url(request, f"{self.page_id}/posts", until=until, __paging_token=token)
            else:
                paging["cursors"] = {"before": _encode_offset(start), "after": token}
                paging["next"] = self._next_url(request, f"{self.page_id}/posts", after=token)
        if paging:
            body["paging"] = paging
        return json_reply(body)

    def _post_json(self, post: FbPost) -> dict:
        data = {
            "id": post.id,
            "created_time": graph_time(post.created_time),
            "updated_time": graph_time(max([post.created_time] + [c.created_time for c in post.comments])),
            "message": post.message,
            "permalink_url": f"https://www.facebook.com/{self.page_id}/posts/{post.id.split('_', 1)[1]}/",
            "status_type": post.status_type,
            "from": {"name": self.page_name, "id": self.page_id},
            "is_hidden": False,
            "is_published": True,
            "shares": {"count": post.shares},
            "comments": {"data": [], "summary": {"order": "chronological",
                         "total_count": sum(1 for c in post.comments if not c.deleted), "can_comment": True}},
            "reactions": {"data": [], "summary": {"total_count": post.reactions, "viewer_reaction": "NONE"}},
        }
        if post.images:
            data["full_picture"] = self.media_url(post.images[0])
            attachments = [
                {"media_type": "photo", "type": "photo",
                 "media": {"image": {"height": 720, "width": 720, "src": self.media_url(name)}},
                 "target": {"id": f"77{n}{post.id[-4:]}", "url": f"https://www.facebook.com/photo/?fbid=77{n}"},
                 "url": f"https://www.facebook.com/photo/?fbid=77{n}"}
                for n, name in enumerate(post.images)
            ]
            if len(attachments) == 1:
                data["attachments"] = {"data": attachments}
            else:
                data["attachments"] = {"data": [{"media_type": "album", "type": "album",
                                                 "subattachments": {"data": attachments}}]}
        return data

    def _comment_json(self, post: FbPost, comment: FbComment, replies: Counter | None = None) -> dict:
        if replies is None:
            replies = _reply_counts(post)
        data = {
            "id": comment.id,
            "created_time": graph_time(comment.created_time),
            "from": {"name": comment.author_name, "id": comment.author_id},
            "message": comment.message,
            "is_hidden": comment.is_hidden,
            "is_private": False,
            "can_remove": True,
            "can_hide": True,
            "like_count": comment.like_count,
            "comment_count": replies[comment.id],
            "permalink_url": f"https://www.facebook.com/{self.page_id}/posts/{post.id.split('_', 1)[1]}/"
                             f"?comment_id={comment.id.split('_', 1)[1]}",
        }
        if comment.parent:
            data["parent"] = {"id": comment.parent}
            data["permalink_url"] = (f"https://www.facebook.com/{self.page_id}/posts/{post.id.split('_', 1)[1]}/"
                                     f"?comment_id={comment.parent.split('_', 1)[1]}"
                                     f"&reply_comment_id={comment.id.split('_', 1)[1]}")
        if not self.identity:
            for key in ("id", "from", "parent", "is_hidden", "is_private", "can_remove", "can_hide"):
                data.pop(key, None)
        if comment.image:
            data["attachment"] = {"type": "photo",
                                  "media": {"image": {"height": 400, "width": 400, "src": self.media_url(comment.image)}},
                                  "url": "https://www.facebook.com/photo.php?fbid=1"}
        return data

    def _comments(self, request: Request, object_id: str) -> Reply:
        post = self.find(object_id)
        if post is None or post.deleted or not isinstance(post, FbPost):
            return gone(object_id)
        if request.param("filter") == "stream":
            rows = [c for c in post.comments if not c.deleted and not c.unlisted]
        else:
            rows = [c for c in post.comments if not c.deleted and c.parent is None]
        rows.sort(key=lambda c: c.created_time)
        start = _decode_offset(request.param("after"))
        limit = self._limit(request)
        page = rows[start : start + limit]
        replies = _reply_counts(post)
        body: dict = {"data": [self._comment_json(post, c, replies) for c in page]}
        paging = {"cursors": {"before": _encode_offset(start), "after": _encode_offset(start + len(page))}}
        if start + limit < len(rows):
            paging["next"] = self._next_url(request, f"{object_id}/comments", after=_encode_offset(start + limit))
        body["paging"] = paging
        if request.param("summary") == "true":
            body["summary"] = {"order": "chronological", "total_count": len(rows), "can_comment": True}
        return json_reply(body)

    def _object(self, object_id: str) -> Reply:
        post, obj = self._locate(object_id) or (None, None)
        if obj is None or obj.deleted or getattr(obj, "restricted", False):
            return gone(object_id)
        if isinstance(obj, FbPost):
            return json_reply(self._post_json(obj))
        if post.deleted:  # a deleted post takes its comments with it
            return gone(object_id)
        return json_reply(self._comment_json(post, obj))


def _reply_counts(post: FbPost) -> Counter:
    """Live replies per comment id: each comment's ``comment_count``."""
    return Counter(c.parent for c in post.comments if c.parent and not c.deleted)


def _encode_offset(n: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{n}".encode()).decode().rstrip("=")


def _decode_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return int(raw.split(":", 1)[1])
    except (ValueError, IndexError, UnicodeDecodeError):
        return 0
