"""Instagram business/creator accounts via the Graph API (``shared/research/platforms.md`` §2).

``/{ig-user-id}/media`` (newest first, carousel ``children`` inline), then for each media
``/{media-id}/comments`` which returns top-level comments only, each with an inline
``replies`` edge; when that edge is paged its ``paging.next`` (``/{comment-id}/replies``) is
followed. Instagram flattens replies to one level, so every reply's parent is a top-level
comment. Errors, throttling, code 190 and the 100/33 deletion proof are the Graph API's
(``graph.py``), shared with Facebook.

There is no edit flag: a caption edit is seen by comparing ``caption`` and the carousel's
child ids. ``media_url`` is not part of the comparison — it is a CDN link whose ``oe=`` expiry
token changes every night. Comments cannot be edited on Instagram, only hidden or deleted.
"""

from __future__ import annotations

from typing import Iterator

from ..timefmt import parse_platform_time
from .base import CollectContext, Event, Item, Observed, Problem, ThreadDone
from .graph import GraphCollector, data_of

CHILD_FIELDS = "id,media_type,media_url,thumbnail_url"
MEDIA_FIELDS = (
    "id,caption,media_type,media_product_type,media_url,thumbnail_url,permalink,shortcode,"
    f"timestamp,username,comments_count,like_count,is_comment_enabled,children{{{CHILD_FIELDS}}}"
)
REPLY_FIELDS = "id,text,timestamp,username,from,like_count,hidden,parent_id"
COMMENT_FIELDS = (
    "id,text,timestamp,username,from{id,username},like_count,hidden,parent_id,"
    f"replies{{{REPLY_FIELDS}}}"
)


class InstagramCollector(GraphCollector):
    platform = "instagram"
    label = "Instagram"

    read_permissions = "instagram_basic and instagram_manage_comments (or instagram_business_manage_comments)"

    def token_remedy(self) -> str:
        return (
            f"Create a new long-lived access token for the Instagram business account "
            f"{self.account.id}: a Page or System User token with instagram_basic, "
            "instagram_manage_comments and pages_read_engagement (graph.facebook.com), or an "
            "Instagram user token with instagram_business_basic and "
            "instagram_business_manage_comments (graph.instagram.com)"
        )

    # -- capture ------------------------------------------------------------------------------
    def listing(self, ctx: CollectContext) -> tuple[str, dict]:
        # No ``since``: the media edge is newest first and walk_posts stops at ctx.since.
        return f"{self.api_base}/{self.account.id}/media", {"fields": MEDIA_FIELDS, "limit": ctx.page_limit}

    def comments_edge(self, ctx: CollectContext, post: Item) -> tuple[str, dict]:
        return f"{self.api_base}/{post.platform_id}/comments", {"fields": COMMENT_FIELDS, "limit": ctx.page_limit}

    def thread(self, ctx: CollectContext, post: Item) -> Iterator[Event]:
        media_id = post.platform_id
        owner = (post.native or {}).get("username")
        complete = True
        for page in self.pages(ctx, *self.comments_edge(ctx, post), f"comments of {media_id}", missing_ok=True):
            if isinstance(page, Problem):
                yield page
                return
            for raw in data_of(page):
                comment = self.parse_comment(raw, media_id, owner)
                yield Observed(comment)
                replies = raw.get("replies") or {}
                for reply in data_of(replies):
                    yield Observed(self.parse_comment(reply, media_id, owner, parent=comment.platform_id))
                more = (replies.get("paging") or {}).get("next") if isinstance(replies, dict) else None
                if more:
                    complete &= yield from self._more_replies(ctx, more, media_id, owner, comment.platform_id)
        if complete:
            # comments_count includes replies (Graph API IG Media reference).
            yield ThreadDone(media_id, post.counts.get("comments"))

    def _more_replies(
        self, ctx: CollectContext, url: str, media_id: str, owner: str | None, parent: str
    ) -> Iterator[Event]:
        """The rest of a paged ``replies`` edge; returns False when it could not be read whole."""
        for page in self.pages(ctx, url, None, f"replies of comment {parent}", missing_ok=True):
            if isinstance(page, Problem):
                yield page
                return False
            for reply in data_of(page):
                yield Observed(self.parse_comment(reply, media_id, owner, parent=parent))
        return True

    # -- parsing ------------------------------------------------------------------------------
    def parse_post(self, raw: dict) -> Item:
        children = data_of(raw.get("children"))
        media = [url for m in [raw, *children] for url in (m.get("media_url"), m.get("thumbnail_url")) if url]
        return Item(
            platform_id=str(raw["id"]),
            kind="post",
            root=str(raw["id"]),
            author=raw.get("username"),
            author_id=self.account.id,
            text=raw.get("caption"),
            created_at=parse_platform_time(raw.get("timestamp")),
            url=raw.get("permalink"),
            content={"caption": raw.get("caption"), "children": [str(c.get("id")) for c in children]},
            native=raw,
            media=list(dict.fromkeys(media)),
            counts={"comments": raw.get("comments_count"), "likes": raw.get("like_count")},
            is_department=True,
        )

    def parse_comment(self, raw: dict, media_id: str, owner: str | None, parent: str | None = None) -> Item:
        author = raw.get("from") or raw.get("user") or {}
        username = author.get("username") or raw.get("username")
        parent = raw.get("parent_id") or parent
        if author.get("id"):
            is_department = str(author["id"]) == self.account.id
        else:
            is_department = (username == owner) if owner and username else None
        return Item(
            platform_id=str(raw["id"]),
            kind="reply" if parent else "comment",
            root=media_id,
            parent=parent or media_id,
            author=username,
            author_id=author.get("id"),
            text=raw.get("text"),
            created_at=parse_platform_time(raw.get("timestamp")),
            content={"text": raw.get("text")},
            hidden=bool(raw.get("hidden")),
            native=raw,
            counts={"likes": raw.get("like_count")},
            is_department=is_department,
        )


__all__ = ["InstagramCollector", "MEDIA_FIELDS", "COMMENT_FIELDS", "REPLY_FIELDS"]
