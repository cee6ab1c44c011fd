"""A Graph API simulator for one Instagram business account (``shared/research/platforms.md`` §2).

Shapes follow the recorded python-facebook fixtures (``testdata/instagram/apidata/users/
medias_p1.json``, ``models/ig_media.json``, ``models/ig_comment.json``,
``replies/replies_fields_p1.json``): ``/{ig-user-id}/media`` with carousel ``children``
inline and cursor paging whose ``paging.next`` is a full URL still carrying
``access_token``; ``/{media-id}/comments`` with top-level comments only, each with an inline
``replies`` edge that is itself paged (``next`` → ``/{comment-id}/replies``); ``hidden``;
the ``x-business-use-case-usage`` header with ``"type":"instagram"``; errors in the
``OAuthException`` envelope (190/463, 100/33, 80002). CDN ``media_url`` values carry an
``oe=`` expiry token that changes every night, as the real ones do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from . import Reply, Request, json_reply
from .facebook import FacebookSimulator, _decode_offset, _encode_offset, gone, graph_error, graph_time
from .samples import HOSTILE

REPLY_FIELDS = "id,text,timestamp,username,from,like_count,hidden,parent_id"


def throttle_body(code: int = 80002) -> dict:
    messages = {4: "(#4) Application request limit reached",
                80002: "There have been too many calls to this Instagram account. Wait a bit and try again."}
    return {"error": {"message": messages[code], "type": "OAuthException", "is_transient": True,
                      "code": code, "fbtrace_id": "AbCdEfGh123"}}


def usage_header(ig_user_id: str, call_count: int, regain_minutes: int = 0) -> dict[str, str]:
    usage = {ig_user_id: [{"type": "instagram", "call_count": call_count, "total_cputime": 29,
                           "total_time": 10, "estimated_time_to_regain_access": regain_minutes}]}
    return {"x-business-use-case-usage": json.dumps(usage, separators=(",", ":"))}


@dataclass
class IgComment:
    id: str
    text: str
    timestamp: datetime
    username: str = "jane.public"
    user_id: str = "17841499999999999"
    parent: str | None = None  # top-level comment id; Instagram flattens replies to one level
    hidden: bool = False
    deleted: bool = False
    like_count: int = 0


@dataclass
class IgMedia:
    id: str
    caption: str | None
    timestamp: datetime
    images: list[str] = field(default_factory=lambda: ["photo.jpg"])  # >1 makes a CAROUSEL_ALBUM
    video: bool = False
    comments: list[IgComment] = field(default_factory=list)
    deleted: bool = False
    like_count: int = 0


class InstagramSimulator(FacebookSimulator):
    """Served by the same Graph API as Facebook: token checks, object lookup and the CDN are
    the Facebook simulator's; the edges and shapes are Instagram's."""

    prefix = "instagram"

    def __init__(self, ig_user_id: str = "17841400000000001", username: str = "examplepd", *,
                 token: str | None = "ig-test-token", version: str = "v21.0",
                 page_size: int | None = None, reply_page_size: int = 2, now: datetime | None = None):
        super().__init__(ig_user_id, username, token=token, version=version, page_size=page_size)
        self.ig_user_id = ig_user_id
        self.username = username
        self.reply_page_size = reply_page_size  # replies inline per comment before paging
        self.now = now or datetime.now(timezone.utc).replace(microsecond=0)
        self.media: list[IgMedia] = self.posts  # find() searches these
        self.night = 0  # changes the CDN expiry token, as real media URLs change nightly
        self._next_id = 1

    # -- world helpers ------------------------------------------------------------------------
    def new_id(self, prefix: str = "179") -> str:
        self._next_id += 1
        return f"{prefix}{self._next_id:014d}"

    def add_media(self, caption: str | None, timestamp: datetime, **kw) -> IgMedia:
        media = IgMedia(id=self.new_id("178"), caption=caption, timestamp=timestamp, **kw)
        self.media.append(media)
        return media

    def add_comment(self, media: IgMedia, text: str, timestamp: datetime, **kw) -> IgComment:
        comment = IgComment(id=self.new_id("180"), text=text, timestamp=timestamp, **kw)
        media.comments.append(comment)
        return comment

    def media_url(self, name: str) -> str:
        return f"{self.base_url}/cdn/{name}?_nc_ht=scontent.cdninstagram.com&oe={0x6A1B2C3D + self.night:X}"

    # -- HTTP ---------------------------------------------------------------------------------
    def usage(self) -> dict[str, str]:
        return usage_header(self.ig_user_id, self.calls % 100)

    def route(self, request: Request, rest: list[str]) -> Reply:
        if rest == [self.ig_user_id, "media"]:
            return self._media_list(request)
        if len(rest) == 2 and rest[1] == "comments":
            return self._comments(request, rest[0])
        if len(rest) == 2 and rest[1] == "replies":
            return self._replies(request, rest[0])
        if len(rest) == 1:
            return self._object(rest[0])
        return graph_error(2500, "Unknown path components: " + request.path)

    def _page(self, request: Request, rows: list, path: str, *, query: dict | None = None,
              limit: int | None = None) -> tuple[list, dict]:
        """One cursor page of ``rows`` and its ``paging`` (``next`` only when more remain).
        ``query`` is what the next URL carries (default: the request's own parameters)."""
        query = dict(request.query if query is None else query)
        start = _decode_offset(query.pop("after", None))
        query.pop("before", None)
        if limit is None:
            limit = int(query.get("limit") or 25)
            limit = min(limit, self.page_size) if self.page_size else limit
        page = rows[start:start + limit]
        paging: dict = {"cursors": {"before": _encode_offset(start), "after": _encode_offset(start + len(page))}}
        if start + limit < len(rows):
            query["after"] = _encode_offset(start + limit)
            paging["next"] = f"{request.base_url}/{self.version}/{path}?{urlencode(query)}"
        return page, paging

    def _media_list(self, request: Request) -> Reply:
        live = sorted((m for m in self.media if not m.deleted), key=lambda m: m.timestamp, reverse=True)
        page, paging = self._page(request, live, f"{self.ig_user_id}/media")
        return json_reply({"data": [self._media_json(m) for m in page], "paging": paging})

    def _media_json(self, media: IgMedia) -> dict:
        shortcode = f"C{media.id[-9:]}"
        kind = "CAROUSEL_ALBUM" if len(media.images) > 1 else ("VIDEO" if media.video else "IMAGE")
        data = {
            "id": media.id,
            "caption": media.caption,
            "media_type": kind,
            "media_product_type": "FEED",
            "media_url": self.media_url(media.images[0]) if media.images else None,
            "permalink": f"https://www.instagram.com/p/{shortcode}/",
            "shortcode": shortcode,
            "timestamp": graph_time(media.timestamp),
            "username": self.username,
            "comments_count": sum(1 for c in media.comments if not c.deleted),
            "like_count": media.like_count,
            "is_comment_enabled": True,
        }
        if media.caption is None:
            del data["caption"]  # Graph omits empty fields rather than sending null
        if media.video:
            data["thumbnail_url"] = self.media_url(f"thumb-{media.id}.jpg")
        if kind == "CAROUSEL_ALBUM":
            data["children"] = {"data": [
                {"id": f"{media.id}{n:02d}", "media_type": "IMAGE", "media_url": self.media_url(name)}
                for n, name in enumerate(media.images)
            ]}
        return data

    def _comment_json(self, comment: IgComment) -> dict:
        data = {
            "id": comment.id,
            "text": comment.text,
            "timestamp": graph_time(comment.timestamp),
            # As the recorded IG Comment (realworld/instagram/pyfb_instagram_models_ig_comment.json):
            # the author as ``user{id}`` beside a top-level ``username``.
            "username": comment.username,
            "user": {"id": comment.user_id},
            "hidden": comment.hidden,
            "like_count": comment.like_count,
        }
        if comment.parent:
            data["parent_id"] = comment.parent
        return data

    def _live_replies(self, media: IgMedia, comment_id: str) -> list[IgComment]:
        rows = [c for c in media.comments if c.parent == comment_id and not c.deleted]
        return sorted(rows, key=lambda c: c.timestamp)

    def _comments(self, request: Request, media_id: str) -> Reply:
        media = self.find(media_id)
        if not isinstance(media, IgMedia) or media.deleted:
            return gone(media_id)
        top = sorted((c for c in media.comments if c.parent is None and not c.deleted), key=lambda c: c.timestamp)
        page, paging = self._page(request, top, f"{media_id}/comments")
        data = []
        for comment in page:
            row = self._comment_json(comment)
            replies = self._live_replies(media, comment.id)
            if replies:
                # The inline edge is paged like any other; its next URL is the replies edge.
                query = {"fields": REPLY_FIELDS, "limit": self.reply_page_size}
                if request.param("access_token"):
                    query["access_token"] = request.param("access_token")  # as the real next URLs do
                shown, reply_paging = self._page(request, replies, f"{comment.id}/replies", query=query,
                                                 limit=self.reply_page_size)
                row["replies"] = {"data": [self._comment_json(r) for r in shown], "paging": reply_paging}
            data.append(row)
        return json_reply({"data": data, "paging": paging})

    def _replies(self, request: Request, comment_id: str) -> Reply:
        comment = self.find(comment_id)
        if not isinstance(comment, IgComment) or comment.deleted:
            return gone(comment_id)
        media = next(m for m in self.media if comment in m.comments)
        page, paging = self._page(request, self._live_replies(media, comment_id), f"{comment_id}/replies")
        return json_reply({"data": [self._comment_json(r) for r in page], "paging": paging})

    def _object(self, object_id: str) -> Reply:
        obj = self.find(object_id)
        if obj is None or obj.deleted:
            return gone(object_id)
        return json_reply(self._media_json(obj) if isinstance(obj, IgMedia) else self._comment_json(obj))


def sample_world(sim: InstagramSimulator) -> None:
    """A small department: a carousel, a video and a photo, comments, paged replies, hostile text."""
    t = sim.now - timedelta(days=2)
    album = sim.add_media("Community picnic at Lake Vista Park \U0001F32D #OakCreek", t,
                          images=["picnic-1.jpg", "picnic-2.jpg", "picnic-3.jpg"], like_count=41)
    first = sim.add_comment(album, "Great turnout this year!", t + timedelta(hours=1), username="neighbor.ann")
    for n in range(3):
        sim.add_comment(album, f"Reply {n + 1}: agreed \U0001F44F", t + timedelta(hours=2, minutes=n),
                        username=f"resident{n}", user_id=f"1784150000000000{n}", parent=first.id)
    sim.add_comment(album, "Thanks for coming out!", t + timedelta(hours=3), username=sim.username,
                    user_id=sim.ig_user_id, parent=first.id)
    video = sim.add_media("Safety tip: lock your car \U0001F697", t + timedelta(days=1), images=["tip.mp4"],
                          video=True)
    for n, text in enumerate(HOSTILE):
        sim.add_comment(video, text, t + timedelta(days=1, minutes=10 * n), username=f"troll{n}\u202eresu")
    sim.add_comment(video, "Why was my comment removed?", t + timedelta(days=1, hours=2), username="upset.person")
    photo = sim.add_media("Road closure on Howell Ave tonight", t + timedelta(days=1, hours=5),
                          images=["closure.jpg"])
    sim.add_comment(photo, "Until when?", t + timedelta(days=1, hours=6), username="commuter")


def next_night(sim: InstagramSimulator) -> None:
    """An edit (caption), a hide and a deletion, as a department's moderators make them."""
    sim.night += 1
    live = sorted((m for m in sim.media if not m.deleted), key=lambda m: m.timestamp)
    if live:
        live[0].caption = (live[0].caption or "") + " (Edited: photos by Officer Diaz)"
    comments = [c for m in live for c in m.comments if not c.deleted]
    if comments:
        comments[-1].deleted = True
    visible = [c for c in comments[:-1] if not c.hidden and c.parent is None]
    if visible:
        visible[-1].hidden = True
