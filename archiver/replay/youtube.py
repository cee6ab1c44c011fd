"""A YouTube Data API v3 simulator for one channel (``shared/research/platforms.md`` §4).

Shapes follow the python-youtube recordings (``channels/info_multiple.json``,
``playlist_items/playlist_items_paged_*.json``, ``videos/videos_info_multi.json``,
``comment_threads/comment_threads_by_video_paged_*.json``,
``comments/comments_by_parent_paged_*.json``, ``error_response.json``): ``kind``/``etag``/
``pageInfo``/``nextPageToken`` envelopes, statistics as strings, a thread's inline
``replies.comments`` holding only a subset of ``totalReplyCount``, deleted and private
videos left in the uploads playlist as "Deleted video" / "Private video" with ``videos?id=``
answering no item, and Google error envelopes (400 keyInvalid, 401 authError, 403
quotaExceeded, 403 commentsDisabled, 404 videoNotFound). Every call costs one quota unit.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from . import Reply, Request, Simulator, json_reply
from .facebook import FacebookSimulator, _decode_offset, _encode_offset
from .samples import HOSTILE


def yt_time(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def google_error(code: int, reason: str, message: str, domain: str = "youtube.api", **extra) -> Reply:
    err = {"code": code, "message": message, "errors": [{"message": message, "domain": domain, "reason": reason}]}
    err.update(extra)
    return json_reply({"error": err}, code)


def quota_exceeded() -> Reply:
    return google_error(403, "quotaExceeded", "The request cannot be completed because you have exceeded your "
                        "<a href=\"/youtube/v3/getting-started#quota\">quota</a>.", domain="youtube.quota")


def key_invalid() -> Reply:
    return google_error(400, "badRequest", "API key not valid. Please pass a valid API key.", domain="global",
                        status="INVALID_ARGUMENT",
                        details=[{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                                  "domain": "googleapis.com", "metadata": {"service": "youtube.googleapis.com"}}])


def auth_error() -> Reply:
    return google_error(401, "authError", "Invalid Credentials", domain="global", status="UNAUTHENTICATED")


def _etag(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:27]


@dataclass
class YtComment:
    id: str
    text: str
    published: datetime
    author: str = "Jane Public"
    author_channel: str = "UCjanepublic000000000000"
    parent: str | None = None  # top-level comment id for replies
    updated: datetime | None = None
    deleted: bool = False
    likes: int = 0


@dataclass
class YtVideo:
    id: str
    title: str
    description: str
    published: datetime
    tags: list[str] = field(default_factory=list)
    comments: list[YtComment] = field(default_factory=list)
    deleted: bool = False
    private: bool = False
    comments_disabled: bool = False
    views: int = 100


class YouTubeSimulator(Simulator):
    prefix = "youtube"

    def __init__(self, channel_id: str = "UCexamplePD0000000000000", title: str = "Example Police Department", *,
                 token: str | None = "yt-test-key", oauth_token: str | None = None, page_size: int | None = None,
                 inline_replies: int = 5, now: datetime | None = None):
        self.channel_id = channel_id
        self.title = title
        self.token = token  # the API key accepted as key=
        self.oauth_token = oauth_token  # accepted as Authorization: Bearer
        self.page_size = page_size
        self.inline_replies = inline_replies  # replies a thread carries before comments?parentId= is needed
        self.now = now or datetime.now(timezone.utc).replace(microsecond=0)
        self.videos: list[YtVideo] = []
        self.quota: int | None = None  # units left today; None = unlimited
        self.base_url = ""
        self._seq = 0

    # -- world helpers ------------------------------------------------------------------------
    @property
    def api_base(self) -> str:
        return f"{self.base_url}/youtube/v3"

    @property
    def uploads(self) -> str:
        return "UU" + self.channel_id[2:]

    def _new(self, length: int) -> str:
        self._seq += 1
        return hashlib.sha256(f"{self.channel_id}{self._seq}".encode()).hexdigest()[:length]

    def add_video(self, title: str, published: datetime, description: str = "", **kw) -> YtVideo:
        video = YtVideo(id=self._new(11), title=title, description=description, published=published, **kw)
        self.videos.append(video)
        return video

    def add_comment(self, video: YtVideo, text: str, published: datetime, *, parent: YtComment | None = None,
                    **kw) -> YtComment:
        cid = f"{parent.id}.{self._new(22)}" if parent else f"Ugz{self._new(23)}"
        comment = YtComment(id=cid, text=text, published=published, parent=parent.id if parent else None, **kw)
        video.comments.append(comment)
        return comment

    def edit_comment(self, comment: YtComment, text: str, when: datetime) -> None:
        comment.text, comment.updated = text, when

    # -- HTTP ---------------------------------------------------------------------------------
    def handle(self, request: Request) -> Reply:
        parts = [p for p in request.path.split("/") if p]
        if len(parts) == 3 and parts[0] == "vi":
            return Reply(200, FacebookSimulator.media_bytes(parts[1] + parts[2]), {"Content-Type": "image/jpeg"})
        if parts[:2] != ["youtube", "v3"] or len(parts) != 3:
            return google_error(404, "notFound", "Not Found", domain="global")
        bearer = request.headers.get("Authorization", "")
        if bearer:
            if not self.oauth_token or bearer != f"Bearer {self.oauth_token}":
                return auth_error()
        elif self.token and request.param("key") != self.token:
            return key_invalid()
        if self.quota is not None:
            if self.quota <= 0:
                return quota_exceeded()
            self.quota -= 1
        route = {"channels": self._channels, "playlistItems": self._playlist_items, "videos": self._videos,
                 "commentThreads": self._threads, "comments": self._comments}.get(parts[2])
        if route is None:
            return google_error(404, "notFound", "Not Found", domain="global")
        return route(request)

    def _list(self, request: Request, kind: str, rows: list, render, cap: int = 50) -> Reply:
        limit = min(int(request.param("maxResults") or 5), cap)
        limit = min(limit, self.page_size) if self.page_size else limit
        start = _decode_offset(request.param("pageToken"))
        page = rows[start:start + limit]
        body: dict = {"kind": f"youtube#{kind}ListResponse", "etag": _etag(kind, start, len(rows))}
        if start + limit < len(rows):
            body["nextPageToken"] = _encode_offset(start + limit)
        if start:
            body["prevPageToken"] = _encode_offset(max(0, start - limit))
        body["pageInfo"] = {"totalResults": len(rows), "resultsPerPage": limit}
        body["items"] = [render(row) for row in page]
        return json_reply(body)

    def _channels(self, request: Request) -> Reply:
        rows = [self] if request.param("id") == self.channel_id else []
        return self._list(request, "channel", rows, lambda _: {
            "kind": "youtube#channel", "etag": _etag(self.channel_id), "id": self.channel_id,
            "snippet": {"title": self.title, "description": "Official channel", "publishedAt": "2012-03-01T15:00:00Z"},
            "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": self.uploads}},
            "statistics": {"viewCount": "52000", "subscriberCount": "1300", "hiddenSubscriberCount": False,
                           "videoCount": str(len(self.videos))},
        })

    def _playlist_items(self, request: Request) -> Reply:
        if request.param("playlistId") != self.uploads:
            return google_error(404, "playlistNotFound", "The playlist identified with the request's "
                                "<code>playlistId</code> parameter cannot be found.")
        rows = sorted(self.videos, key=lambda v: v.published, reverse=True)
        return self._list(request, "playlistItem", rows, self._playlist_item_json)

    def _playlist_item_json(self, video: YtVideo) -> dict:
        gone = video.deleted or video.private
        snippet = {"publishedAt": yt_time(video.published), "channelId": self.channel_id,
                   "title": ("Deleted video" if video.deleted else "Private video") if gone else video.title,
                   "description": "This video is unavailable." if gone else video.description,
                   "channelTitle": self.title, "playlistId": self.uploads, "position": self.videos.index(video),
                   "resourceId": {"kind": "youtube#video", "videoId": video.id}}
        if not gone:
            snippet["thumbnails"] = self._thumbnails(video)
        details = {"videoId": video.id}
        if not gone:
            details["videoPublishedAt"] = yt_time(video.published)
        status = "privacyStatusUnspecified" if video.deleted else ("private" if video.private else "public")
        return {"kind": "youtube#playlistItem", "etag": _etag(video.id, gone), "id": f"UExp{video.id}",
                "snippet": snippet, "contentDetails": details, "status": {"privacyStatus": status}}

    def _thumbnails(self, video: YtVideo) -> dict:
        return {size: {"url": f"{self.base_url}/vi/{video.id}/{size}.jpg", "width": w, "height": h}
                for size, w, h in (("default", 120, 90), ("medium", 320, 180), ("high", 480, 360))}

    def _find_video(self, video_id: str | None) -> YtVideo | None:
        return next((v for v in self.videos if v.id == video_id and not v.deleted and not v.private), None)

    def _videos(self, request: Request) -> Reply:
        rows = [v for vid in (request.param("id") or "").split(",") if (v := self._find_video(vid))]
        return self._list(request, "video", rows, lambda v: {
            "kind": "youtube#video", "etag": _etag(v.id, v.title, v.description), "id": v.id,
            "snippet": {"publishedAt": yt_time(v.published), "channelId": self.channel_id, "title": v.title,
                        "description": v.description, "thumbnails": self._thumbnails(v), "channelTitle": self.title,
                        "tags": list(v.tags), "categoryId": "25", "liveBroadcastContent": "none"},
            "contentDetails": {"duration": "PT2M10S", "dimension": "2d", "definition": "hd", "caption": "false"},
            "status": {"uploadStatus": "processed", "privacyStatus": "public", "embeddable": True},
            "statistics": {"viewCount": str(v.views), "likeCount": "12", "favoriteCount": "0",
                           "commentCount": str(sum(1 for c in v.comments if not c.deleted))},
        })

    def _comment_json(self, video: YtVideo, comment: YtComment) -> dict:
        snippet = {
            "channelId": self.channel_id, "videoId": video.id,
            "textDisplay": html.escape(comment.text).replace("\n", "<br>"), "textOriginal": comment.text,
            "authorDisplayName": comment.author,
            "authorProfileImageUrl": f"https://yt3.ggpht.com/{comment.author_channel}=s48",
            "authorChannelUrl": f"http://www.youtube.com/channel/{comment.author_channel}",
            "authorChannelId": {"value": comment.author_channel},
            "canRate": True, "viewerRating": "none", "likeCount": comment.likes,
            "publishedAt": yt_time(comment.published), "updatedAt": yt_time(comment.updated or comment.published),
        }
        if comment.parent:
            snippet["parentId"] = comment.parent
        return {"kind": "youtube#comment", "etag": _etag(comment.id, comment.text), "id": comment.id,
                "snippet": snippet}

    def _threads(self, request: Request) -> Reply:
        video = self._find_video(request.param("videoId"))
        if video is None:
            return google_error(404, "videoNotFound", "The video identified by the <code><a href=\"/youtube/v3/"
                                "docs/commentThreads/list#videoId\">videoId</a></code> parameter could not be found.")
        if video.comments_disabled:
            return google_error(403, "commentsDisabled", "The video identified by the <code><a href=\"/youtube/v3/"
                                "docs/commentThreads/list#videoId\">videoId</a></code> parameter has disabled "
                                "comments.")
        tops = sorted((c for c in video.comments if c.parent is None and not c.deleted),
                      key=lambda c: c.published, reverse=True)

        def render(top: YtComment) -> dict:
            replies = [c for c in video.comments if c.parent == top.id and not c.deleted]
            data = {"kind": "youtube#commentThread", "etag": _etag("t", top.id), "id": top.id,
                    "snippet": {"channelId": self.channel_id, "videoId": video.id,
                                "topLevelComment": self._comment_json(video, top), "canReply": True,
                                "totalReplyCount": len(replies), "isPublic": True}}
            if replies:
                data["replies"] = {"comments": [self._comment_json(video, r) for r in replies[:self.inline_replies]]}
            return data

        return self._list(request, "commentThread", tops, render, cap=100)

    def _comments(self, request: Request) -> Reply:
        pairs = [(v, c) for v in self.videos if not v.deleted for c in v.comments if not c.deleted]
        if request.param("parentId"):
            rows = sorted(((v, c) for v, c in pairs if c.parent == request.param("parentId")),
                          key=lambda vc: vc[1].published)
        else:
            wanted = set((request.param("id") or "").split(","))
            rows = [(v, c) for v, c in pairs if c.id in wanted]
        return self._list(request, "comment", rows, lambda vc: self._comment_json(*vc), cap=100)


def sample_world(sim: YouTubeSimulator) -> None:
    """A small department channel: three videos, threads with many replies, hostile text."""
    t = sim.now - timedelta(days=4)
    briefing = sim.add_video("Press briefing: downtown incident", t, "Chief's statement.\nQ&A follows.",
                             tags=["press", "briefing"])
    top = sim.add_comment(briefing, "Thank you for the transparency.", t + timedelta(hours=1), author="Neighbor Ann",
                          author_channel="UCneighborann00000000000")
    for n in range(3):
        sim.add_comment(briefing, f"Agreed ({n + 1})", t + timedelta(hours=2, minutes=n), parent=top,
                        author=f"Resident {n}", author_channel=f"UCresident{n}00000000000000")
    sim.add_comment(briefing, "We appreciate it.", t + timedelta(hours=3), parent=top, author=sim.title,
                    author_channel=sim.channel_id)
    for n, text in enumerate(HOSTILE):
        sim.add_comment(briefing, text, t + timedelta(hours=4, minutes=n), author=f"Troll{n}\u202eresU")
    recruit = sim.add_video("We're hiring: become an officer", t + timedelta(days=1), "Apply by June 1.")
    sim.add_comment(recruit, "What is the starting salary?", t + timedelta(days=1, hours=1), author="Job Seeker")
    sim.add_video("K-9 unit demo", t + timedelta(days=2), "Meet Rex.", comments_disabled=True)


def next_night(sim: YouTubeSimulator) -> None:
    """A comment edit (updatedAt moves) and a deleted video; YouTube has no public hide flag."""
    live = [v for v in sim.videos if not v.deleted]
    comments = [c for v in live for c in v.comments if not c.deleted and c.parent is None]
    if comments:
        sim.edit_comment(comments[0], comments[0].text + " (edited: and the quick answers)",
                         sim.now - timedelta(hours=1))
    recruiting = [v for v in live if v.comments and v is not live[0]]
    if recruiting:
        recruiting[-1].deleted = True
