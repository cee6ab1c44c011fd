"""Mastodon (any instance) via its REST API (``shared/research/platforms.md`` §6).

``/accounts/:id/statuses`` (newest first, ``exclude_reblogs``: a boost is someone else's
words) is paged by following the ``Link`` header's ``rel="next"`` verbatim. Each top-level
status gets ``/statuses/:id/context``; its ``descendants`` are the comments (replying to the
post) and replies (replying to a comment). A status that was edited (``edited_at``) gets
``/statuses/:id/history`` so every earlier version is archived too. Replies the account wrote
in other people's threads are archived with their root from ``context.ancestors``. ``content``
is HTML and is stored exactly as sent; the search index gets a plain-text rendering.
Deletion is confirmed only by a 404 carrying Mastodon's own JSON error on ``/statuses/:id``:
``{"error":"Not Found"}`` on current servers (``shared/realworld/mastodon/mpy_missing_00``),
``{"error":"Record not found"}`` on older ones; a proxy's HTML 404 page proves nothing.

Anonymous ``/context`` is capped (Mastodon's ``StatusesController``: 40 ancestors, 60
descendants, depth 20); a thread the cap may have cut is reported as incomplete (a
``Problem``: the run ends ``partial``) and names the fix, a token (``token_env``).
"""

from __future__ import annotations

import re
from typing import Iterator

from ..http import OK, MalformedResponse, Outcome, Response, auth_failed, throttled, transient
from ..timefmt import parse_platform_time
from .base import (
    Collector, CollectContext, Event, Item, KnownItem, Observed, PostsDone, Problem, ThreadDone,
    api_body, error_body, forget_unlisted, html_text, once_per_checkpoint, renew_message, reset_wait,
)

# Without a token /context returns at most 60 descendants, none deeper than 20 replies below
# the status, and at most 40 ancestors (app/controllers/api/v1/statuses_controller.rb:
# DESCENDANTS_LIMIT, DESCENDANTS_DEPTH_LIMIT, ANCESTORS_LIMIT); a token lifts all three.
ANONYMOUS_CONTEXT_LIMIT = 60
ANONYMOUS_DEPTH_LIMIT = 20
ANONYMOUS_ANCESTORS_LIMIT = 40


def next_link(header: str | None) -> str | None:
    """The ``rel="next"`` URL of a Link header (RFC 8288), or None on the last page."""
    for part in (header or "").split(","):
        m = re.match(r'\s*<([^>]*)>\s*;.*\brel="?next"?', part)
        if m:
            return m.group(1)
    return None


def status_content(status: dict) -> dict:
    """The version-defining fields of a Status or a StatusEdit (the same keys in both).

    Mastodon records an edit (a ``/history`` entry) when the text, the content warning, the
    ``sensitive`` flag, the media or their descriptions change, or a poll is added or changed;
    each is a version here. A poll is compared by its options' titles (votes change nightly and
    a StatusEdit carries none). ``sensitive``, descriptions and the poll are added only when
    set, so an unchanged status keeps the hash it was archived with."""
    media = [m for m in status.get("media_attachments") or [] if isinstance(m, dict)]
    content: dict = {"content": status.get("content"), "spoiler_text": status.get("spoiler_text") or "",
                     "media": [str(m.get("id")) for m in media]}
    if status.get("sensitive"):
        content["sensitive"] = True
    descriptions = [m.get("description") or "" for m in media]
    if any(descriptions):
        content["media_descriptions"] = descriptions
    poll = status.get("poll")
    if isinstance(poll, dict):
        content["poll"] = [o.get("title") for o in poll.get("options") or [] if isinstance(o, dict)]
    return content


def cut_branches(root: str, descendants: list[dict]) -> list[str]:
    """The statuses at the anonymous depth limit that have replies /context left out: a reply
    ``ANONYMOUS_DEPTH_LIMIT`` levels below ``root`` whose ``replies_count`` is more than the
    replies to it that came back."""
    depth = {root: 0}
    children: dict[str, int] = {}
    for raw in descendants:  # tree order: a parent comes before its replies
        parent = str(raw.get("in_reply_to_id"))
        depth[str(raw["id"])] = depth.get(parent, 0) + 1
        children[parent] = children.get(parent, 0) + 1
    return [str(raw["id"]) for raw in descendants if depth[str(raw["id"])] >= ANONYMOUS_DEPTH_LIMIT
            and (raw.get("replies_count") or 0) > children.get(str(raw["id"]), 0)]


class MastodonCollector(Collector):
    platform = "mastodon"
    default_api_base = "https://mastodon.social/api/v1"
    supports_targets = True
    needs_token = False  # public reads work without one unless the instance limits its API

    def __init__(self, account, token):
        super().__init__(account, token)
        self.account_id: str | None = account.id if account.id.isdigit() else None

    def auth(self) -> dict:
        return {"headers": {"Authorization": f"Bearer {self.token}"}} if self.token else {}

    # -- signals ------------------------------------------------------------------------------
    def classify(self, resp: Response) -> Outcome:
        if resp.status == 429:
            # x-ratelimit-reset is an ISO-8601 time (300 requests / 5 min by default).
            wait = reset_wait(resp.headers.get("x-ratelimit-reset") or resp.headers.get("retry-after"), resp.date)
            return throttled("Mastodon rate limit (HTTP 429)", wait)
        if resp.status == 401:
            said = re.search(r'error_description="([^"]*)"', resp.headers.get("www-authenticate", ""))
            said = said.group(1) if said else (error_body(resp) or {}).get("error", "unauthorized")
            problem = (f"the Mastodon instance at {self.api_base} refused the access token ({said})"
                       if self.token else
                       f"the Mastodon instance at {self.api_base} requires an access token ({said})")
            return auth_failed(renew_message(
                self.account, problem,
                "On the agency's instance create one under Preferences → Development → New "
                "application with the read:statuses and read:accounts scopes",
            ))
        if resp.status >= 500:
            return transient(f"HTTP {resp.status} {resp.reason}")
        return OK

    # -- capture ------------------------------------------------------------------------------
    def collect(self, ctx: CollectContext) -> Iterator[Event]:
        if ctx.targets is not None:
            yield from self._targeted(ctx)
            return
        account_id = self._resolve(ctx)
        seen: set[str] = set()
        own_replies: list[dict] = []  # archived after the listing, unless a thread walk met them
        url: str | None = f"{self.api_base}/accounts/{account_id}/statuses"
        params: dict | None = {"limit": min(ctx.page_limit, 40), "exclude_reblogs": "true"}
        complete = True
        listed: set[str] = set()
        while url:
            try:
                resp = ctx.http.get(url, params, classify=self.classify)
                statuses = api_body(resp, self.account, "Mastodon", list)
            except MalformedResponse as exc:
                # The bad page is in the WARC; without its Link header we cannot go further.
                yield Problem(f"status listing stopped: {exc}", url)
                complete = False
                break
            for raw in statuses:
                if raw.get("reblog"):
                    continue
                created = parse_platform_time(raw.get("created_at"))
                if ctx.since and created and created < ctx.since:
                    url = None
                    break
                if raw.get("in_reply_to_id"):
                    own_replies.append(raw)
                    continue
                item = self.parse_status(raw, str(raw["id"]))
                yield from self._observe(ctx, item, seen)
                listed.add(item.platform_id)
                yield from once_per_checkpoint(ctx, item.platform_id, self._thread(ctx, item.platform_id, seen),
                                               item.created_at)
            else:
                url = next_link(resp.headers.get("link"))
            params = None  # the Link URL already carries limit, exclude_reblogs and max_id
        for raw in own_replies:
            if str(raw["id"]) not in seen:
                yield from self._own_reply(ctx, raw, seen)
        if complete:
            forget_unlisted(ctx, listed)
            yield PostsDone()
            ctx.checkpoint.pop("threads_done", None)  # the next run walks every thread again

    def _targeted(self, ctx: CollectContext) -> Iterator[Event]:
        """A listener's capture: each status a stream event named, read up to its thread's root
        (``/context`` ancestors); only the department's own posts are walked (with their
        threads), and no PostsDone: posts not looked at are not deletion candidates."""
        account_id = self._resolve(ctx)
        seen: set[str] = set()
        roots: list[str] = []
        for status_id in ctx.targets or []:
            url = f"{self.api_base}/statuses/{status_id}"
            try:
                resp = ctx.http.get(url, classify=self.classify)
                if error_body(resp):
                    yield Problem(f"status {status_id} named by the stream is unavailable ({resp.status})", resp.url)
                    continue
                raw = api_body(resp, self.account, "Mastodon")
                if raw.get("in_reply_to_id"):
                    resp = ctx.http.get(f"{url}/context", classify=self.classify)
                    ancestors = api_body(resp, self.account, "Mastodon").get("ancestors") or []
                    raw = ancestors[0] if ancestors else raw
            except MalformedResponse as exc:
                yield Problem(f"status {status_id} named by the stream: {exc}", url)
                continue
            if str((raw.get("account") or {}).get("id")) != account_id or raw.get("in_reply_to_id"):
                continue  # not a thread of the department's posts
            if str(raw["id"]) not in roots:
                roots.append(str(raw["id"]))
                item = self.parse_status(raw, str(raw["id"]))
                yield from self._observe(ctx, item, seen)
                yield from self._thread(ctx, item.platform_id, seen)

    def _resolve(self, ctx: CollectContext) -> str:
        """The numeric account id; a configured ``@user`` is looked up once."""
        if self.account_id is None:
            resp = ctx.http.get(f"{self.api_base}/accounts/lookup", {"acct": self.account.id.lstrip("@")},
                                classify=self.classify)
            self.account_id = str(api_body(resp, self.account, "Mastodon")["id"])
        return self.account_id

    def _thread(self, ctx: CollectContext, root: str, seen: set[str]) -> Iterator[Event]:
        url = f"{self.api_base}/statuses/{root}/context"
        try:
            resp = ctx.http.get(url, classify=self.classify)
            err = error_body(resp)
            if err:  # one unreadable thread is a problem of this thread, not of the account
                why = "the status was deleted during the run" if resp.status == 404 else err["error"]
                yield Problem(f"replies of {root} not read: {why}", resp.url)
                return
            body = api_body(resp, self.account, "Mastodon")
        except MalformedResponse as exc:
            yield Problem(f"replies of {root} incomplete: {exc}", url)
            return
        descendants = [d for d in body.get("descendants") or [] if isinstance(d, dict)]
        for raw in descendants:
            yield from self._observe(ctx, self.parse_status(raw, root), seen)
        if not self.token:
            # The thread is still done: a known reply beyond the cap is asked for by id before
            # anything is declared deleted, so the cap costs records of new replies only.
            cut = cut_branches(root, descendants)
            full = len(descendants) >= ANONYMOUS_CONTEXT_LIMIT
            if full or cut:
                why = [f"more than {ANONYMOUS_CONTEXT_LIMIT} replies"] if full else []
                if cut:
                    why.append(f"replies deeper than {ANONYMOUS_DEPTH_LIMIT} levels (below {', '.join(cut[:3])}"
                               + (" ..." if len(cut) > 3 else "") + ")")
                yield Problem(f"thread {root} incomplete: the instance shows anonymous readers at most "
                              f"{ANONYMOUS_CONTEXT_LIMIT} replies, {ANONYMOUS_DEPTH_LIMIT} levels deep, and this "
                              f"thread has {' and '.join(why)}; set token_env to read every reply", resp.url)
        yield ThreadDone(root)

    def _own_reply(self, ctx: CollectContext, raw: dict, seen: set[str]) -> Iterator[Event]:
        """A reply the account wrote in a thread that was not walked: find its root."""
        root = str(raw["in_reply_to_id"])
        url = f"{self.api_base}/statuses/{raw['id']}/context"
        try:
            resp = ctx.http.get(url, classify=self.classify)
            body = resp.json() if resp.status == 200 else None
        except MalformedResponse:
            body = None
        ancestors = body.get("ancestors") if isinstance(body, dict) else None
        top = ancestors[0] if ancestors and isinstance(ancestors[0], dict) else {}
        if top.get("id") and top.get("in_reply_to_id"):
            # The first ancestor answers another status: the 40-ancestor cap hid the root.
            yield Problem(f"thread root of reply {raw['id']} is more than {ANONYMOUS_ANCESTORS_LIMIT} replies up, "
                          "beyond what the instance shows anonymous readers; its parent is used as root "
                          "(set token_env to read the whole thread)", url)
        elif top.get("id"):
            root = str(top["id"])
        else:
            yield Problem(f"thread root of reply {raw['id']} unknown; its parent is used as root", url)
        yield from self._observe(ctx, self.parse_status(raw, root), seen)

    def _observe(self, ctx: CollectContext, item: Item, seen: set[str]) -> Iterator[Event]:
        if item.platform_id in seen:
            return
        seen.add(item.platform_id)
        if item.native.get("edited_at"):
            url = f"{self.api_base}/statuses/{item.platform_id}/history"
            try:
                resp = ctx.http.get(url, classify=self.classify)
                edits = resp.json() if resp.status == 200 else None
            except MalformedResponse as exc:
                edits = None
                yield Problem(f"edit history of {item.platform_id} not read: {exc}", url)
            if isinstance(edits, list):
                # Oldest first; the last entry is the current version, already the item itself.
                item.history = [{"content": status_content(e), "text": e.get("content"), "native": e,
                                 "created_at": e.get("created_at")} for e in edits[:-1] if isinstance(e, dict)]
        yield Observed(item)

    def confirm_gone(self, ctx: CollectContext, item: KnownItem) -> bool:
        try:
            resp = ctx.http.get(f"{self.api_base}/statuses/{item.platform_id}", classify=self.classify)
        except MalformedResponse:
            return False
        # Only Mastodon's own 404 answer confirms: its JSON error, {"error":"Not Found"} on
        # current servers, {"error":"Record not found"} on older ones. A proxy's HTML 404 page
        # or a 410 is not proof.
        return resp.status == 404 and error_body(resp) is not None

    # -- parsing ------------------------------------------------------------------------------
    def parse_status(self, raw: dict, root: str) -> Item:
        status_id = str(raw["id"])
        parent = raw.get("in_reply_to_id")
        account = raw.get("account") or {}
        spoiler = raw.get("spoiler_text") or ""
        body = html_text(raw.get("content")) or ""
        return Item(
            platform_id=status_id,
            kind="post" if status_id == root else ("comment" if str(parent) == root else "reply"),
            root=root,
            parent=str(parent) if parent else None,
            author=account.get("acct"),
            author_id=str(account.get("id")) if account.get("id") else None,
            text=raw.get("content"),
            created_at=parse_platform_time(raw.get("created_at")),
            url=raw.get("url") or raw.get("uri"),
            content=status_content(raw),
            native=raw,
            media=[m.get("url") or m.get("remote_url") for m in raw.get("media_attachments") or []
                   if isinstance(m, dict) and (m.get("url") or m.get("remote_url"))],
            counts={"replies": raw.get("replies_count"), "reblogs": raw.get("reblogs_count"),
                    "favourites": raw.get("favourites_count")},
            is_department=str(account.get("id")) == self.account_id if account.get("id") else None,
            search_text=f"{spoiler}\n{body}" if spoiler else body,
        )


__all__ = ["MastodonCollector", "next_link", "status_content", "cut_branches"]
