"""Facebook Pages via the Graph API (``shared/research/platforms.md`` §1).

``/{page-id}/posts`` (newest first, time- or cursor-paged), then for each post
``/{post-id}/comments?filter=stream`` which returns every comment and reply flattened,
replies carrying ``parent{id}``. ``paging.next`` is followed verbatim. Deletion is only
declared when ``GET /{id}`` answers error 100 with subcode 33 and the comment is gone from its
post's listing too (``graph.py``).

Real comment pages come without ``id``, ``from`` and ``parent`` in some answers (Page Public
Content Access; ``shared/realworld/facebook/pyfb_facebook_apidata_comments_comments_p1.json``):
the id and the parent are then read from ``permalink_url`` (``comment_id``,
``reply_comment_id``), and the author is unknown. A comment without an id or a permalink is
still archived, under a key made from its post, time and text, and reported.
"""

from __future__ import annotations

import hashlib
import re
from typing import Iterator

from ..timefmt import parse_platform_time
from .base import CollectContext, Event, Item, Observed, Problem, ThreadDone
from .graph import SUBCODE_MEANING, THROTTLE_CODES, GraphCollector

POST_FIELDS = (
    "id,message,created_time,updated_time,permalink_url,status_type,full_picture,"
    "attachments{media_type,type,url,unshimmed_url,title,description,media,target,subattachments},"
    "message_tags,shares,from,is_hidden,is_published,"
    "comments.filter(stream).summary(true).limit(0),reactions.summary(true).limit(0)"
)
COMMENT_FIELDS = (
    "id,message,created_time,from{id,name},parent{id},attachment,message_tags,like_count,"
    "comment_count,is_hidden,is_private,permalink_url"
)


class FacebookCollector(GraphCollector):
    platform = "facebook"
    label = "Facebook"

    read_permissions = "pages_read_engagement and pages_read_user_content (the Page's comments by other people)"

    def token_remedy(self) -> str:
        return (
            f"Create a new long-lived Page access token for page {self.account.id} with "
            "pages_read_engagement and pages_read_user_content (a System User token from "
            "Business Settings does not expire)"
        )

    # -- capture ------------------------------------------------------------------------------
    def listing(self, ctx: CollectContext) -> tuple[str, dict]:
        params: dict = {"fields": POST_FIELDS, "limit": ctx.page_limit}
        if ctx.since is not None:
            params["since"] = int(ctx.since.timestamp())
        return f"{self.api_base}/{self.account.id}/posts", params

    def comments_edge(self, ctx: CollectContext, post: Item) -> tuple[str, dict]:
        return f"{self.api_base}/{post.platform_id}/comments", {
            "filter": "stream", "order": "chronological", "summary": "true",
            "limit": ctx.page_limit, "fields": COMMENT_FIELDS,
        }

    def thread(self, ctx: CollectContext, post: Item) -> Iterator[Event]:
        post_id = post.platform_id
        expected = None
        keyless = 0
        for page in self.pages(ctx, *self.comments_edge(ctx, post), f"comments of {post_id}", missing_ok=True):
            if isinstance(page, Problem):
                yield page
                return
            expected = (page.get("summary") or {}).get("total_count", expected)
            for raw in page.get("data", []):
                if not isinstance(raw, dict):
                    continue
                item = self.parse_comment(raw, post_id)
                keyless += KEYLESS in item.platform_id
                yield Observed(item)
        if keyless:
            yield Problem(f"{keyless} comment(s) of post {post_id} came without an id or a permalink; archived under "
                          "a key made from their time and text (an edit of one is archived as a new comment)")
        yield ThreadDone(post_id, expected)

    # -- parsing ------------------------------------------------------------------------------
    def parse_post(self, raw: dict) -> Item:
        attachments = (raw.get("attachments") or {}).get("data", [])
        media = list(_media_urls(attachments))
        if not media and raw.get("full_picture"):
            media = [raw["full_picture"]]
        author = raw.get("from") or {}
        return Item(
            platform_id=str(raw["id"]),
            kind="post",
            root=str(raw["id"]),
            author=author.get("name"),
            author_id=author.get("id") or self.account.id,
            text=raw.get("message"),
            created_at=parse_platform_time(raw.get("created_time")),
            url=raw.get("permalink_url"),
            content={"message": raw.get("message"), "attachments": _stable_attachments(attachments)},
            hidden=bool(raw.get("is_hidden")),
            native=raw,
            media=media,
            counts={
                "comments": ((raw.get("comments") or {}).get("summary") or {}).get("total_count"),
                "reactions": ((raw.get("reactions") or {}).get("summary") or {}).get("total_count"),
                "shares": (raw.get("shares") or {}).get("count"),
            },
            is_department=True,
        )

    def parse_comment(self, raw: dict, post_id: str) -> Item:
        comment_id = raw.get("id") or _id_from_permalink(raw.get("permalink_url"), post_id) or _keyless_id(raw, post_id)
        parent = (raw.get("parent") or {}).get("id")
        if not parent:
            # PPCA-style comments lack parent/id: a reply shows as reply_comment_id.
            url = raw.get("permalink_url") or ""
            # (the substring test first: most comments are not replies and need no regex)
            m = "reply_comment_id=" in url and re.search(r"[?&]reply_comment_id=", url)
            parent = _id_from_permalink(url, post_id, reply=False) if m else None
        author = raw.get("from") or {}
        attachment = raw.get("attachment") or {}
        src = ((attachment.get("media") or {}).get("image") or {}).get("src")
        return Item(
            platform_id=str(comment_id),
            kind="reply" if parent and parent != post_id else "comment",
            root=post_id,
            parent=parent or post_id,
            author=author.get("name"),
            author_id=author.get("id"),
            text=raw.get("message"),
            created_at=parse_platform_time(raw.get("created_time")),
            url=raw.get("permalink_url"),
            content={"message": raw.get("message"), "attachment": _stable_attachments([attachment] if attachment else [])},
            hidden=bool(raw.get("is_hidden")),
            native=raw,
            media=[src] if src else [],
            counts={"replies": raw.get("comment_count"), "likes": raw.get("like_count")},
            is_department=(author.get("id") == self.account.id) if author.get("id") else None,
        )


def _media_urls(attachments: list) -> Iterator[str]:
    for att in attachments:
        src = ((att.get("media") or {}).get("image") or {}).get("src")
        if src:
            yield src
        yield from _media_urls((att.get("subattachments") or {}).get("data", []))


def _stable_attachments(attachments: list) -> list:
    """Attachments without CDN URLs: their ``oe=`` expiry tokens change nightly and are not edits."""
    out = []
    for att in attachments:
        out.append({
            "type": att.get("type"),
            "media_type": att.get("media_type"),
            "target": (att.get("target") or {}).get("id"),
            "title": att.get("title"),
            "description": att.get("description"),
            "sub": _stable_attachments((att.get("subattachments") or {}).get("data", [])),
        })
    return out


def _id_from_permalink(url: str | None, post_id: str, reply: bool = True) -> str | None:
    url = url or ""
    key = "reply_comment_id" if reply and "reply_comment_id=" in url else "comment_id"
    m = re.search(rf"[?&]{key}=(\d+)", url)
    return f"{post_id.split('_')[-1]}_{m.group(1)}" if m else None


KEYLESS = "_nokey_"


def _keyless_id(raw: dict, post_id: str) -> str:
    """A stable key for a comment the platform sent without id or permalink: its post, time
    and text (the same comment read again tomorrow gets the same key)."""
    seed = "\x1f".join(str(raw.get(k) or "") for k in ("created_time", "message"))
    return f"{post_id.split('_')[-1]}{KEYLESS}{hashlib.sha256(seed.encode('utf-8', 'surrogatepass')).hexdigest()[:20]}"


__all__ = ["FacebookCollector", "POST_FIELDS", "COMMENT_FIELDS", "SUBCODE_MEANING", "THROTTLE_CODES"]
