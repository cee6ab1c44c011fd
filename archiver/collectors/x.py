"""X (Twitter) API v2 with an app-only bearer token (``shared/research/platforms.md`` §3).

``/users/:id/tweets`` (the account's own posts, newest first, ``meta.next_token`` →
``pagination_token``), then for each post ``/tweets/search/recent?query=conversation_id:<id>``
(``next_token``) for the replies. Known ids are re-read with ``/tweets?ids=``: to fetch the
earlier versions of an edited post the page did not include, to confirm a deletion — which X
reports with HTTP 200 and a ``resource-not-found`` entry in ``errors[]`` — and, on the poller's
wider tiers, to check every archived post and reply of the window for edits and deletions
(``_check_known``) while conversation search reads only replies newer than the newest archived.

Identity: an edit creates a new tweet id; ``edit_history_tweet_ids`` lists every version,
oldest first. An item is keyed by the *first* id, so an edit is a new version of the same
record (each earlier version kept in ``Item.history``), not a new post plus a deletion.

Limits the code must live with: ``search/recent`` only reaches replies written in the last
7 days (``search/all`` needs a Pro/Enterprise project; set the account option
``search = "all"``). A thread is therefore only declared complete (``ThreadDone``) for posts
younger than the window — older posts still get their recent replies, but a reply missing
from them proves nothing. Hidden replies have no read-side flag and still appear in search.
The department's replies in *other* accounts' conversations are not listed
(``exclude=replies``), since its replies under its own posts arrive through the search.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Iterator

from ..errors import CollectError
from ..http import OK, MalformedResponse, Outcome, Response, auth_failed, quota, throttled, transient
from ..timefmt import iso, parse_platform_time
from .base import (
    CollectContext, Collector, Event, Item, KnownItem, Observed, PostsDone, Problem, ThreadDone, cursor_pages,
    renew_message, reset_wait, walk_posts,
)

TWEET_FIELDS = (
    "attachments,author_id,conversation_id,created_at,edit_controls,entities,geo,id,in_reply_to_user_id,"
    "lang,note_tweet,possibly_sensitive,public_metrics,referenced_tweets,reply_settings,source,text,withheld"
)
EXPANSIONS = (
    "author_id,in_reply_to_user_id,referenced_tweets.id,referenced_tweets.id.author_id,"
    "entities.mentions.username,attachments.media_keys,attachments.poll_ids,geo.place_id,edit_history_tweet_ids"
)
USER_FIELDS = "created_at,description,id,name,username,verified,profile_image_url,public_metrics,protected,url"
MEDIA_FIELDS = "media_key,type,url,preview_image_url,variants,alt_text,width,height,duration_ms,public_metrics"
FIELDS = {"tweet.fields": TWEET_FIELDS, "expansions": EXPANSIONS, "user.fields": USER_FIELDS,
          "media.fields": MEDIA_FIELDS}
# Reads of what is new or of archived ids: the post a reply answers is archived already, and every
# tweet in ``includes`` is billed like one in ``data`` — expand neither it nor (for a lookup) the
# earlier versions of an edit, which are read only when the edit is new.
LEAN_SEARCH = {**FIELDS,
               "expansions": ",".join(e for e in EXPANSIONS.split(",") if not e.startswith("referenced_tweets"))}
LEAN_LOOKUP = {**LEAN_SEARCH, "expansions": ",".join(e for e in LEAN_SEARCH["expansions"].split(",")
                                                     if e != "edit_history_tweet_ids")}
RECENT_WINDOW = timedelta(days=7)
# A post must be this much younger than the window for all its replies to be inside it.
WINDOW_MARGIN = timedelta(hours=1)
NOT_FOUND = "/problems/resource-not-found"
WRONG_TIER = ("/problems/client-not-enrolled", "/problems/client-forbidden")


class Includes:
    """``includes`` of one or more pages, indexed: users by id, media by key, tweets by id."""

    def __init__(self) -> None:
        self.users: dict[str, dict] = {}
        self.media: dict[str, dict] = {}
        self.tweets: dict[str, dict] = {}

    def add(self, body: dict) -> None:
        inc = body.get("includes") or {}
        self.users.update({u["id"]: u for u in inc.get("users", []) if isinstance(u, dict) and "id" in u})
        self.media.update({m["media_key"]: m for m in inc.get("media", []) if isinstance(m, dict) and "media_key" in m})
        self.tweets.update({t["id"]: t for t in inc.get("tweets", []) if isinstance(t, dict) and "id" in t})

    def merge(self, other: "Includes") -> None:
        self.users.update(other.users)
        self.media.update(other.media)
        self.tweets.update(other.tweets)


class XCollector(Collector):
    platform = "x"
    default_api_base = "https://api.x.com/2"
    supports_incremental = True  # X bills every post returned: the fresh tier reads only what is new
    checks_known = True  # the wider tiers look archived posts and replies up by id (tweets?ids=)
    check_sweep_days = RECENT_WINDOW.days  # a full walk re-reads (and is billed for) 7 days of replies a night

    def sweep_reach(self):
        # Recent search sees replies of the last 7 days only: the nightly walk checks no older one.
        return None if self.search_path.endswith("/all") else RECENT_WINDOW

    def auth(self) -> dict:
        # X has no query-string credential: app-only bearer token in the header only.
        return {"headers": {"Authorization": f"Bearer {self.token}"}} if self.token else {}

    @property
    def search_path(self) -> str:
        return "tweets/search/all" if self.account.options.get("search") == "all" else "tweets/search/recent"

    # -- signals ------------------------------------------------------------------------------
    def classify(self, resp: Response) -> Outcome:
        body = resp.json_object() or {}
        codes = {e.get("code") for e in body.get("errors", []) if isinstance(e, dict)}
        if resp.status == 429 or 88 in codes:
            # Both 429 forms: problem JSON ({"title":"Too Many Requests",...}) and the v1.1
            # {"errors":[{"code":88}]}. A monthly cap is also a 429, but waiting minutes is useless.
            if body.get("title") == "UsageCapExceeded" or str(body.get("type", "")).endswith("/usage-capped"):
                return quota(
                    f"X monthly usage cap reached ({body.get('detail') or 'UsageCapExceeded'}); X answers no "
                    "more reads for this project until the cap resets with the next billing month — collection "
                    "of this account stops for the month (or upgrade the project's access tier)"
                )
            wait = reset_wait(resp.headers.get("x-rate-limit-reset"), resp.date)
            return throttled("X rate limit reached (HTTP 429)", wait)
        if resp.status == 401:
            return auth_failed(renew_message(
                self.account, "X rejected the bearer token (HTTP 401 Unauthorized)",
                "Regenerate the app's Bearer Token in the X developer portal (Projects & Apps → your app → "
                "Keys and tokens)",
            ))
        if resp.status == 403 and str(body.get("type", "")).endswith(WRONG_TIER):
            return auth_failed(renew_message(
                self.account, f"X refused the request for this project's access tier ({body.get('detail', '')})",
                "Attach the app to a Project whose access level includes the v2 timeline and search endpoints",
            ))
        if resp.status >= 500:
            return transient(f"HTTP {resp.status} {resp.reason}")
        return OK

    # -- capture ------------------------------------------------------------------------------
    def collect(self, ctx: CollectContext) -> Iterator[Event]:
        if ctx.archived is not None:
            yield from self._incremental(ctx)
            return
        stale: list[Item] = []
        yield from walk_posts(ctx, self._timeline(ctx), lambda post: self.thread(ctx, post, stale))
        unreachable = sum((p.counts.get("replies") or 0) for p in stale)
        if ctx.since is None and unreachable:
            yield Problem(
                f"{len(stale)} posts are older than X's 7-day recent search; up to {unreachable} of their "
                "replies could not be read (full-archive search needs a Pro or Enterprise project: set "
                'search = "all" on the account)'
            )

    def _incremental(self, ctx: CollectContext) -> Iterator[Event]:
        """The poller's reads: posts newer than the newest archived one (their whole threads),
        then, in the threads of the posts archived in the window, only replies newer than the
        newest archived (``since_id``). The fresh tier stops there: nothing is re-read, so nothing
        is billed twice. A wider tier (``archived.check``) first looks every archived post and
        reply of the window up by id (``_check_known``) to find edits and deletions, instead of
        re-reading whole conversations — which search reaches only for 7 days anyway."""
        if ctx.archived.check:
            yield from self._check_known(ctx)
        stale: list[Item] = []
        new: set[str] = set()
        for post in self._timeline(ctx, since_id=ctx.archived.newest_post):
            if isinstance(post, Problem):
                yield post
                return
            new.add(post.platform_id)
            yield Observed(post)
            yield from self.thread(ctx, post, stale)
        for post_id, created, versions in ctx.archived.posts:
            if post_id not in new:
                post = Item(post_id, "post", post_id, created_at=created,
                            native={"edit_history_tweet_ids": versions or [post_id]})
                yield from self.thread(ctx, post, stale, since_id=ctx.archived.newest_reply(post_id))
        if ctx.archived.check:
            yield PostsDone()  # every archived post of the window was looked up: one missing is checked

    def _check_known(self, ctx: CollectContext) -> Iterator[Event]:
        """Look up the archived posts of the window and their archived replies, up to 100 ids a
        request (``/tweets?ids=``). X bills each post returned and nothing for an id it cannot
        return: a deleted one comes back in ``errors[]`` ("Not Found Error"), a protected or
        withheld one too ("Authorization Error"). Each thread whose items were all asked about
        is then done: an item not returned is confirmed one by one (``confirm_gone``), which
        tells the two apart. A post is looked up by its newest archived version; a reply by its
        first id, and when that answer lists later versions (an edit, possible for an hour
        after posting) the newest is read too."""
        first_of: dict[str, str] = {}
        wanted: list[tuple[str, str, str | None]] = []  # (id to look up, the item's first id, its thread)
        for post_id, _, versions in ctx.archived.posts:
            first_of.update({v: post_id for v in versions})
            wanted.append((versions[-1], post_id, None))
            wanted += [(k.platform_id, k.platform_id, post_id) for k in ctx.known(post_id) if k.kind != "post"]
        found: dict[str, dict] = {}
        inc = Includes()
        try:
            for start in range(0, len(wanted), 100):
                found.update(self._lookup(ctx, [w[0] for w in wanted[start:start + 100]], inc))
            newer = [raw["edit_history_tweet_ids"][-1] for raw in found.values()
                     if (raw.get("edit_history_tweet_ids") or [raw["id"]])[-1] != raw["id"]]
            edited: list[dict] = []
            for start in range(0, len(newer), 100):
                edited += self._lookup(ctx, newer[start:start + 100], inc).values()
        except MalformedResponse as exc:
            yield Problem(f"archived posts and replies not checked: {exc}")
            return
        found.update({(raw.get("edit_history_tweet_ids") or [raw["id"]])[0]: raw for raw in edited})
        latest = {first: found.get(first) or found.get(lookup) for lookup, first, _ in wanted}
        yield from self._fill_history(ctx, edited, inc)  # only a new edit's earlier versions: each read is billed
        for raw in latest.values():
            if raw:
                for v in raw.get("edit_history_tweet_ids") or [raw["id"]]:
                    first_of.setdefault(v, (raw.get("edit_history_tweet_ids") or [raw["id"]])[0])
        for _, first, root in wanted:
            if latest[first] is not None:
                yield Observed(self.parse_tweet(latest[first], inc, root=root, first_of=first_of))
        for post_id, _, _ in ctx.archived.posts:
            yield ThreadDone(post_id, None)

    def _lookup(self, ctx: CollectContext, ids: list[str], inc: Includes) -> dict[str, dict]:
        """One ``/tweets?ids=`` request: the tweets returned, by the id asked for."""
        body, more = self._get(ctx, "tweets", {"ids": ",".join(ids), **LEAN_LOOKUP})
        inc.merge(more)
        return {t["id"]: t for t in body.get("data", []) if isinstance(t, dict) and "id" in t}

    def _get(self, ctx: CollectContext, path: str, params: dict) -> tuple[dict, Includes]:
        resp = ctx.http.get(f"{self.api_base}/{path}", params, classify=self.classify)
        body = resp.json_object()
        if body is None:
            raise MalformedResponse(f"{resp.url}: expected a JSON object")
        if resp.status >= 400:
            raise CollectError(
                f"account {self.account.name!r}: X API error HTTP {resp.status} at {resp.url}: "
                f"{body.get('detail') or body.get('title') or body}",
                account=self.account.name,
            )
        inc = Includes()
        inc.add(body)
        return body, inc

    def _pages(self, ctx: CollectContext, path: str, params: dict, cursor: str, label: str) -> Iterator:
        """(body, includes) per page, following ``meta.next_token``."""
        def fetch(query: dict):
            body, inc = self._get(ctx, path, query)
            return (body, inc), (body.get("meta") or {}).get("next_token")
        return cursor_pages(params, cursor, fetch, label, f"{self.api_base}/{path}")

    def _timeline(self, ctx: CollectContext, since_id: str | None = None) -> Iterator[Item | Problem]:
        params = {"max_results": max(5, min(100, ctx.page_limit)), "exclude": "retweets,replies", **FIELDS}
        if ctx.since is not None:
            params["start_time"] = iso(ctx.since.replace(microsecond=0))
        if since_id:
            params["since_id"] = since_id
        for page in self._pages(ctx, f"users/{self.account.id}/tweets", params, "pagination_token", "post listing"):
            if isinstance(page, Problem):
                yield page
                return
            body, inc = page
            tweets = [t for t in body.get("data", []) if isinstance(t, dict)]
            yield from self._fill_history(ctx, tweets, inc)
            for raw in tweets:
                yield self.parse_tweet(raw, inc)

    def thread(self, ctx: CollectContext, post: Item, stale: list[Item], since_id: str | None = None
               ) -> Iterator[Event]:
        root = post.platform_id
        params = {"query": f"conversation_id:{root}", "max_results": max(10, min(100, ctx.page_limit)),
                  **(LEAN_SEARCH if since_id else FIELDS)}
        if since_id:
            params["since_id"] = since_id
        raws: list[dict] = []
        inc = Includes()
        complete = True
        for page in self._pages(ctx, self.search_path, params, "next_token", f"replies of {root}"):
            if isinstance(page, Problem):
                yield page
                complete = False
                break
            body, page_inc = page
            raws += [t for t in body.get("data", []) if isinstance(t, dict)]
            inc.merge(page_inc)
        yield from self._fill_history(ctx, raws, inc)
        # Every version id of the post and its replies, so a reply to an edited tweet
        # points at the record (first id), whichever version it answered.
        first_of = {v: root for v in (post.native or {}).get("edit_history_tweet_ids", [root])}
        for raw in raws:
            for v in raw.get("edit_history_tweet_ids") or [raw["id"]]:
                first_of[v] = (raw.get("edit_history_tweet_ids") or [raw["id"]])[0]
        for raw in raws:
            if first_of.get(raw["id"]) == root:
                continue  # the post itself, when search returns it
            yield Observed(self.parse_tweet(raw, inc, root=root, first_of=first_of))
        young = self.search_path.endswith("/all") or (
            post.created_at is not None and post.created_at > ctx.now - RECENT_WINDOW + WINDOW_MARGIN
        )
        if not young:
            stale.append(post)
        elif complete:
            yield ThreadDone(root, None, partial=since_id is not None)

    def _fill_history(self, ctx: CollectContext, tweets: list[dict], inc: Includes) -> Iterator[Event]:
        """Re-read (``/tweets?ids=``) earlier versions of edited tweets that ``includes`` lacks."""
        missing = [v for t in tweets for v in (t.get("edit_history_tweet_ids") or [])[:-1] if v not in inc.tweets]
        for start in range(0, len(missing), 100):
            try:
                body, more = self._get(ctx, "tweets", {"ids": ",".join(missing[start:start + 100]), **FIELDS})
            except MalformedResponse as exc:
                yield Problem(f"earlier versions of edited posts not read: {exc}")
                return
            more.tweets.update({t["id"]: t for t in body.get("data", []) if isinstance(t, dict) and "id" in t})
            inc.merge(more)

    def confirm_gone(self, ctx: CollectContext, item: KnownItem) -> bool:
        try:
            body, _ = self._get(ctx, "tweets", {"ids": item.platform_id, "tweet.fields": "id"})
        except MalformedResponse:
            return False
        # HTTP 200 with errors[]: only "resource-not-found" for this very id proves deletion;
        # "Authorization Error" (protected, withheld) and suspended authors do not.
        return any(
            isinstance(e, dict) and str(e.get("type", "")).endswith(NOT_FOUND)
            and item.platform_id in (str(e.get("resource_id")), str(e.get("value")))
            for e in body.get("errors", [])
        )

    # -- parsing ------------------------------------------------------------------------------
    def parse_tweet(self, raw: dict, inc: Includes, *, root: str | None = None,
                    first_of: dict[str, str] | None = None) -> Item:
        versions = raw.get("edit_history_tweet_ids") or [raw["id"]]
        first = str(versions[0])
        author = inc.users.get(raw.get("author_id"), {})
        parent = next((r.get("id") for r in raw.get("referenced_tweets") or [] if r.get("type") == "replied_to"), None)
        parent = (first_of or {}).get(parent, parent)
        history = [
            {"content": _content(inc.tweets[v]), "text": full_text(inc.tweets[v]),
             "created_at": iso(parse_platform_time(inc.tweets[v].get("created_at"))), "native": inc.tweets[v]}
            for v in versions[:-1] if v in inc.tweets
        ]
        metrics = raw.get("public_metrics") or {}
        handle = author.get("username")
        return Item(
            platform_id=first,
            kind="post" if root is None else ("comment" if parent in (None, root) else "reply"),
            root=root or first,
            parent=None if root is None else (parent or root),
            author=handle,
            author_id=raw.get("author_id"),
            text=full_text(raw),
            created_at=parse_platform_time(raw.get("created_at")),
            url=f"https://x.com/{handle}/status/{raw['id']}" if handle else f"https://x.com/i/web/status/{raw['id']}",
            content=_content(raw),
            native=raw,
            media=[url for key in _media_keys(raw) for url in _media_urls(inc.media.get(key, {}))],
            counts={"replies": metrics.get("reply_count"), "likes": metrics.get("like_count"),
                    "reposts": metrics.get("retweet_count"), "quotes": metrics.get("quote_count")},
            history=history,
            is_department=raw.get("author_id") == self.account.id if raw.get("author_id") else None,
        )


def _media_keys(raw: dict) -> list[str]:
    return list((raw.get("attachments") or {}).get("media_keys") or [])


def full_text(raw: dict) -> str | None:
    """The whole text of a post: a post longer than 280 characters (a "note tweet") carries
    it only in ``note_tweet.text``, requested with ``note_tweet`` in ``tweet.fields``; its
    ``text`` is cut. The field costs no extra request: it rides on every page already read."""
    note = raw.get("note_tweet")
    if isinstance(note, dict) and isinstance(note.get("text"), str):
        return note["text"]
    return raw.get("text")


def _content(raw: dict) -> dict:
    # The full text: an edit beyond character 280 changes only note_tweet.text.
    return {"text": full_text(raw), "media": _media_keys(raw)}


def _media_urls(media: dict) -> list[str]:
    """A photo's ``url``; for video and GIF the preview and the highest-bit-rate mp4."""
    if media.get("url"):
        return [media["url"]]
    mp4 = [v for v in media.get("variants") or [] if v.get("content_type") == "video/mp4" and v.get("url")]
    best = max(mp4, key=lambda v: v.get("bit_rate") or 0, default=None)
    return [u for u in (media.get("preview_image_url"), best and best["url"]) if u]


__all__ = ["XCollector", "FIELDS", "RECENT_WINDOW", "full_text"]
