"""Bluesky via the public AppView (``shared/research/platforms.md`` §5).

``app.bsky.feed.getAuthorFeed`` (newest first, ``cursor`` paged, absent on the last page)
lists the account's posts; reposts (``reason#reasonRepost``) are someone else's words and
are skipped. Replies the account wrote are kept wherever they are: in its own threads they
are also met in the thread walk, in other people's threads they are archived alone with
their ``root``/``parent`` pointers (the rest of a stranger's thread is not the agency's
record). Each post's reply tree comes from ``app.bsky.feed.getPostThread`` (one response,
nested ``replies``; where the server's depth cap cut a branch the branch is read again from
its own node). Identity is the ``at://`` URI; a rewritten record gets a new ``cid``, which
is a new version. Replies the thread's author hid (threadgate ``hiddenReplies``) stay in the
tree and are archived as hidden.

What the AppView really answers (``shared/realworld/bluesky/snap``, atproto's own thread
snapshots): a deleted reply takes its whole subtree out of ``getPostThread`` (the parent's
``replies`` and ``replyCount`` simply lose it), and a taken-down post or account answers
``NotFound`` exactly like a deleted one. So the replies the archive holds below a vanished
reply are read again by their own URIs (``ctx.known``), and are never declared deleted for
their ancestor's sake; and a confirmed absence (getPostThread ``NotFound`` or a
``notFoundPost`` root) is recorded as "gone from public view (deleted or taken down)", never
as a deletion by the author.
"""

from __future__ import annotations

from typing import Iterator

from ..http import OK, MalformedResponse, Outcome, Response, auth_failed, throttled, transient
from ..timefmt import parse_platform_time
from .base import (
    GONE_FROM_PUBLIC_VIEW, Collector, CollectContext, Event, Gone, Item, KnownItem, Observed, PostsDone, Problem,
    ThreadDone, api_body, error_body, forget_unlisted, once_per_checkpoint, renew_message, reset_wait,
)

POST = "app.bsky.feed.defs#threadViewPost"
NOT_FOUND = "app.bsky.feed.defs#notFoundPost"
BLOCKED = "app.bsky.feed.defs#blockedPost"
REPOST = "app.bsky.feed.defs#reasonRepost"
PIN = "app.bsky.feed.defs#reasonPin"
AUTH_ERRORS = {"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"}


class BlueskyCollector(Collector):
    platform = "bluesky"
    default_api_base = "https://public.api.bsky.app/xrpc"
    needs_token = False  # the public AppView reads without one; token_env is for a PDS
    supports_targets = True  # ctx.targets: root post URIs named by Jetstream events

    def auth(self) -> dict:
        return {"headers": {"Authorization": f"Bearer {self.token}"}} if self.token else {}

    # -- signals ------------------------------------------------------------------------------
    def classify(self, resp: Response) -> Outcome:
        name = (error_body(resp) or {}).get("error")
        if resp.status == 429 or name == "RateLimitExceeded":
            # ratelimit-reset is epoch seconds (AppView: about 3000 requests / 5 min per IP).
            wait = reset_wait(resp.headers.get("ratelimit-reset"), resp.date)
            return throttled(f"Bluesky rate limit ({resp.headers.get('ratelimit-policy', 'HTTP 429')})", wait)
        if name in AUTH_ERRORS or resp.status == 401:
            return auth_failed(renew_message(
                self.account,
                f"Bluesky at {self.api_base} rejected the credential for {self.account.id} ({name or resp.status})",
                "An access JWT lives about two hours: create a session with an app password "
                "(com.atproto.server.createSession) for a fresh accessJwt — or remove token_env "
                "to read the public AppView (https://public.api.bsky.app/xrpc) without one",
            ))
        if resp.status >= 500:
            return transient(f"HTTP {resp.status} {resp.reason}")
        return OK

    # -- capture ------------------------------------------------------------------------------
    def collect(self, ctx: CollectContext) -> Iterator[Event]:
        if ctx.targets is not None:
            # A listener's capture: each named root post with its whole reply tree, and no
            # PostsDone (posts not looked at are not deletion candidates).
            seen_targets: set[str] = set()
            for uri in ctx.targets:
                yield from self._thread(ctx, uri, seen_targets)
            return
        seen: set[str] = set()  # a reply met in the listing and again in its thread is one item
        cursor: str | None = None
        listed: set[str] = set()
        while True:
            params = {"actor": self.account.id, "limit": min(ctx.page_limit, 100),
                      "filter": "posts_with_replies", "cursor": cursor}
            url = f"{self.api_base}/app.bsky.feed.getAuthorFeed"
            try:
                body = api_body(ctx.http.get(url, params, classify=self.classify), self.account, "Bluesky")
            except MalformedResponse as exc:
                # The bad page is in the WARC; without its cursor we cannot go further.
                yield Problem(f"post listing stopped: {exc}", url)
                return
            feed = body.get("feed") or []
            for entry in feed:
                reason = (entry.get("reason") or {}).get("$type")
                post = entry.get("post") or {}
                if reason == REPOST or not self._is_me(post.get("author") or {}):
                    continue  # a repost shows someone else's post: not the agency's words
                item = self.parse_post(post)
                if reason != PIN and ctx.since and item.created_at and item.created_at < ctx.since:
                    cursor = None  # a pinned post sits on top whatever its age
                    break
                if item.kind == "post":
                    listed.add(item.platform_id)
                    yield from once_per_checkpoint(ctx, item.platform_id, self._thread(ctx, item.platform_id, seen),
                                                   item.created_at)
                if item.platform_id not in seen:  # a reply, or a post whose thread was not read
                    seen.add(item.platform_id)
                    yield Observed(item)
            else:
                cursor = body.get("cursor")
            if not feed or not cursor:
                break
        forget_unlisted(ctx, listed)
        yield PostsDone()
        ctx.checkpoint.pop("threads_done", None)  # complete: the next run walks every thread again

    def _thread(self, ctx: CollectContext, uri: str, seen: set[str], root: str | None = None,
                hidden: frozenset[str] = frozenset()) -> Iterator[Event]:
        """The reply tree under ``uri`` (the root post, or a branch the depth cap cut)."""
        url = f"{self.api_base}/app.bsky.feed.getPostThread"
        try:
            resp = ctx.http.get(url, {"uri": uri, "depth": 1000, "parentHeight": 0}, classify=self.classify)
            err = error_body(resp)
            if err:  # one unreadable thread is a problem of this thread, not of the account
                why = ("the post was deleted during the run" if err["error"] == "NotFound"
                       else f"{err['error']}: {err.get('message', '')}")
                yield Problem(f"replies of {uri} not read: {why}", resp.url)
                return
            body = api_body(resp, self.account, "Bluesky")
        except MalformedResponse as exc:
            yield Problem(f"replies of {uri} incomplete: {exc}", url)
            return
        gate = ((body.get("threadgate") or {}).get("record") or {}).get("hiddenReplies") or []
        hidden = hidden | frozenset(gate)
        node = body.get("thread") or {}
        if node.get("$type") != POST:
            yield Problem(f"replies of {uri} not read: the thread root is {node.get('$type')}", resp.url)
            return
        yield from self._walk(ctx, node, seen, root or uri, hidden, top=root is not None)
        if root is None:
            yield from self._survivors(ctx, uri, seen, hidden)
            yield ThreadDone(uri)

    def _survivors(self, ctx: CollectContext, root: str, seen: set[str], hidden: frozenset[str]) -> Iterator[Event]:
        """Known replies the tree did not show: a deleted or taken-down ancestor took them out
        of it. Each is asked for by its own URI (the request ``confirm_gone`` would make
        anyway); one still there is archived with its replies, one that is not is left to the
        pipeline's confirmation."""
        url = f"{self.api_base}/app.bsky.feed.getPostThread"
        for known in ctx.known(root):
            if known.kind == "post" or known.platform_id in seen:
                continue
            try:
                resp = ctx.http.get(url, {"uri": known.platform_id, "depth": 1000, "parentHeight": 0},
                                    classify=self.classify)
                err = error_body(resp)
                body = None if err else api_body(resp, self.account, "Bluesky")
            except MalformedResponse as exc:
                yield Problem(f"reply {known.platform_id} of thread {root} not read: {exc}", url)
                continue
            if err:
                if err["error"] != "NotFound":
                    yield Problem(f"reply {known.platform_id} of thread {root} not read: "
                                  f"{err['error']}: {err.get('message', '')}", resp.url)
                continue
            node = body.get("thread") or {}
            if node.get("$type") == POST:
                gate = ((body.get("threadgate") or {}).get("record") or {}).get("hiddenReplies") or []
                yield from self._walk(ctx, node, seen, root, hidden | frozenset(gate), top=True)

    def _walk(self, ctx: CollectContext, node: dict, seen: set[str], root: str,
              hidden: frozenset[str], top: bool = False) -> Iterator[Event]:
        post = node.get("post") or {}
        children = node.get("replies")
        item = self.parse_post(post, hidden)
        # notFoundPost / blockedPost children are noted on their parent: the archive keeps
        # whatever was captured of them before, and says how many the platform withheld now.
        kinds = [child.get("$type") for child in children or []]
        item.counts = {**item.counts, "replies_not_found": kinds.count(NOT_FOUND),
                       "replies_blocked": kinds.count(BLOCKED)}
        if item.platform_id not in seen:
            seen.add(item.platform_id)
            yield Observed(item)
        if children is None and (post.get("replyCount") or 0) > 0 and not top:
            # The AppView's depth cap ended the tree here: read this branch from its own node.
            yield from self._thread(ctx, item.platform_id, seen, root, hidden)
            return
        for child in children or []:
            kind = child.get("$type")
            if kind == POST:
                yield from self._walk(ctx, child, seen, root, hidden)
            elif kind == BLOCKED:
                yield Problem(f"a reply in thread {root} is blocked for the public AppView and "
                              f"could not be archived: {child.get('uri')}")
            elif kind != NOT_FOUND:
                yield Problem(f"unknown reply node {kind!r} in thread {root}: {child.get('uri')}")

    def confirm_gone(self, ctx: CollectContext, item: KnownItem) -> bool | Gone:
        url = f"{self.api_base}/app.bsky.feed.getPostThread"
        try:
            resp = ctx.http.get(url, {"uri": item.platform_id, "depth": 0, "parentHeight": 0},
                                classify=self.classify)
            if (error_body(resp) or {}).get("error") == "NotFound":
                # 400 {"error":"NotFound","message":"Post not found: at://..."}: deleted by its
                # author, or taken down by moderation -- the AppView answers both alike.
                return Gone(GONE_FROM_PUBLIC_VIEW)
            body = resp.json()
        except MalformedResponse:
            return False  # unknown is not gone
        thread = body.get("thread") if isinstance(body, dict) else None
        if isinstance(thread, dict) and thread.get("$type") == NOT_FOUND:
            return Gone(GONE_FROM_PUBLIC_VIEW)
        return False

    # -- parsing ------------------------------------------------------------------------------
    def _is_me(self, author: dict) -> bool:
        me = self.account.id.lower().lstrip("@")
        return me in (str(author.get("did", "")).lower(), str(author.get("handle", "")).lower())

    def parse_post(self, post: dict, hidden: frozenset[str] = frozenset()) -> Item:
        record = post.get("record") or {}
        uri = str(post["uri"])
        reply = record.get("reply") or {}
        root = (reply.get("root") or {}).get("uri") or uri
        parent = (reply.get("parent") or {}).get("uri")
        author = post.get("author") or {}
        text = record.get("text")
        return Item(
            platform_id=uri,
            kind="post" if not parent else ("comment" if parent == root else "reply"),
            root=root,
            parent=parent,
            author=author.get("handle"),
            author_id=author.get("did"),
            text=text,
            created_at=parse_platform_time(record.get("createdAt")) or parse_platform_time(post.get("indexedAt")),
            url=f"https://bsky.app/profile/{author.get('handle') or author.get('did')}/post/{uri.rsplit('/', 1)[-1]}",
            # The cid is the hash of the record: it changes exactly when the record was rewritten.
            content={"cid": post.get("cid"), "text": text, "embed": record.get("embed")},
            hidden=uri in hidden,
            native=post,
            media=list(_media(post.get("embed") or {})),
            counts={"replies": post.get("replyCount"), "reposts": post.get("repostCount"),
                    "likes": post.get("likeCount"), "quotes": post.get("quoteCount")},
            is_department=self._is_me(author),
            search_text=linked_text(text, record.get("facets")),
        )


def _media(embed: dict) -> Iterator[str]:
    kind = embed.get("$type", "")
    if kind.startswith("app.bsky.embed.images"):
        for image in embed.get("images") or []:
            if image.get("fullsize"):
                yield image["fullsize"]
    elif kind.startswith("app.bsky.embed.video") and embed.get("thumbnail"):
        yield embed["thumbnail"]  # the video itself is an HLS playlist, kept by URL in native
    elif kind.startswith("app.bsky.embed.recordWithMedia"):
        yield from _media(embed.get("media") or {})


def linked_text(text: str | None, facets: list | None) -> str | None:
    """The text with each link facet's anchor replaced by its full URI, for search (the app
    shows ``example.gov/clos…``; people search for the whole address). Facet offsets are
    UTF-8 *byte* offsets, so the text is sliced as bytes; a facet that is out of range or
    cuts a character in two is ignored. None when no link facet applies."""
    if not text or not facets:
        return None
    data = text.encode("utf-8", "surrogatepass")
    links = []
    for facet in facets if isinstance(facets, list) else []:
        if not isinstance(facet, dict):
            continue
        index = facet.get("index") or {}
        start, end = index.get("byteStart"), index.get("byteEnd")
        uris = [f.get("uri") for f in facet.get("features") or [] if isinstance(f, dict)
                and f.get("$type") == "app.bsky.richtext.facet#link" and isinstance(f.get("uri"), str)]
        if uris and isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= len(data):
            links.append((start, end, uris[0]))
    out, pos = b"", 0
    for start, end, uri in sorted(links):
        if start < pos:
            continue  # overlapping facets: keep the first
        out += data[pos:start] + uri.encode("utf-8")
        pos = end
    if not out:
        return None
    out += data[pos:]
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        return None  # a facet split a character: the offsets do not describe this text


__all__ = ["BlueskyCollector", "linked_text"]
