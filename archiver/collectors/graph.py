"""What Facebook and Instagram share: the Graph API (``shared/research/platforms.md`` §1, §2).

Both platforms answer from ``graph.facebook.com`` with the same error envelope
(``{"error":{"code":..,"error_subcode":..}}``), the same throttling codes, the same token
failure (code 190 + subcode), the same cursor paging (``paging.next`` is a full URL that is
followed verbatim) and the same deletion answer (``GET /{id}`` → code 100, subcode 33). The
platform collectors subclass ``GraphCollector`` and add their edges and their parsing.

Code 100/33 says "does not exist, cannot be loaded due to missing permissions, or does not
support this operation" (``shared/realworld/facebook/pyfb_base_error_data.json``): it is the
same answer for a deleted object and for one the token may not read. A deletion is therefore
declared only with a second signal, the object's absence from its parent's listing (the
comments edge of its post, the account's post edge) read in full this run -- or read again
for the purpose. An object that answers 100/33 while its parent still lists it is reported
as a permission problem (``AccessError``) naming the account and the permissions to check.

Throttling: the Graph codes (4, 17, 32, 613, 80001, 80002), and an HTTP 429 without a Graph
code, which waits for its ``Retry-After``.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from ..errors import AccessError, CollectError
from ..http import OK, MalformedResponse, Outcome, Response, auth_failed, parse_json_header, throttled, transient
from .base import (
    CollectContext, Collector, Event, Item, KnownItem, Observed, PostsDone, Problem, ThreadDone, renew_message,
    retry_after, walk_posts, walk_targets,
)

# Branch on error.code, never the HTTP status: 403 and 400 both occur for code 4.
# 4/17/32/613 app, user, page and API limits; 80001 Pages and 80002 Instagram
# business-use-case limits.
THROTTLE_CODES = {4, 17, 32, 613, 80001, 80002}
TOKEN_CODE = 190
SUBCODE_MEANING = {
    458: "the app is no longer installed for this user",
    460: "the password was changed or the session invalidated",
    463: "the token expired",
    467: "the token is invalid",
    492: "the person who made the token lost their role on the Page",
    493: "the user has not used the app in over 90 days",
}


def graph_error(resp: Response) -> dict | None:
    """The ``error`` object of a Graph response, or None (also for a non-JSON body)."""
    body = resp.json_object()
    err = body.get("error") if body is not None else None
    return err if isinstance(err, dict) else None


def is_gone(err: dict | None) -> bool:
    """Code 100 with subcode 33 ("does not exist, cannot be loaded...") is the only proof of
    deletion; a bare 100, a permission error or a timeout proves nothing."""
    return bool(err and err.get("code") == 100 and err.get("error_subcode") == 33)


# How far a listing is read again to look for one object, when this run did not read it whole.
RECHECK_PAGES = 10


class Listings:
    """What this run read of the listings an object could be absent from: the account's post
    edge (whole, once ``PostsDone`` came), the comments of the thread just completed, and the
    posts confirmed deleted (their comments went with them). Only the current thread is
    kept: the pipeline confirms a thread's absences right at its ``ThreadDone``."""

    def __init__(self) -> None:
        self.posts: set[str] = set()
        self.posts_complete = False
        self.root: str | None = None
        self.thread: set[str] = set()
        self.thread_complete = False
        self.gone_posts: set[str] = set()

    def note(self, event: Event) -> None:
        if isinstance(event, Observed):
            item = event.item
            if item.kind == "post":
                self.posts.add(item.platform_id)
                return
            if item.root != self.root:
                self.root, self.thread, self.thread_complete = item.root, set(), False
            self.thread.add(item.platform_id)
        elif isinstance(event, ThreadDone):
            if event.root != self.root:  # a thread without comments
                self.root, self.thread = event.root, set()
            self.thread_complete = True
        elif isinstance(event, PostsDone):
            self.posts_complete = True

    def lists(self, item: KnownItem) -> bool | None:
        """Whether the parent's listing, as read this run, shows ``item``; None: not read whole."""
        if item.kind == "post":
            return item.platform_id in self.posts if self.posts_complete else None
        if item.root in self.gone_posts:
            return False
        if item.root == self.root and self.thread_complete:
            return item.platform_id in self.thread
        return None


def regain_seconds(resp: Response) -> float | None:
    """Minutes to regain access, from the Business-Use-Case usage header (largest value).

    Facebook Pages report ``"type":"pages"`` and Instagram ``"type":"instagram"`` in the same
    shape, keyed by the page or IG user id."""
    usage = parse_json_header(resp.headers.get("x-business-use-case-usage"))
    waits = []
    if isinstance(usage, dict):
        for entries in usage.values():
            for entry in entries if isinstance(entries, list) else []:
                minutes = entry.get("estimated_time_to_regain_access") if isinstance(entry, dict) else None
                if isinstance(minutes, (int, float)) and minutes > 0:
                    waits.append(minutes * 60.0)
    return max(waits) if waits else None


class GraphCollector(Collector):
    """Base for collectors on the Graph API. Subclasses set ``label`` (the name in messages)
    and implement ``token_remedy`` (how to get a new token when code 190 comes back), ``listing`` (the
    post edge), ``parse_post`` and ``thread`` (every comment and reply of one post)."""

    default_api_base = "https://graph.facebook.com/v21.0"
    label = "Graph API"
    # The permissions to name when an object answers 100/33 but its parent still lists it.
    read_permissions = "the permissions to read the account's posts and comments"
    supports_targets = True

    def __init__(self, account, token):
        super().__init__(account, token)
        self.listings = Listings()

    def auth(self) -> dict:
        return {"params": {"access_token": self.token}} if self.token else {}

    def token_remedy(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def listing(self, ctx: CollectContext) -> tuple[str, dict]:  # pragma: no cover - abstract
        raise NotImplementedError

    def parse_post(self, raw: dict) -> Item:  # pragma: no cover - abstract
        raise NotImplementedError

    def comments_edge(self, ctx: CollectContext, post: Item) -> tuple[str, dict]:  # pragma: no cover - abstract
        """The first request of a post's thread (its comments edge), also read ahead."""
        raise NotImplementedError

    def thread(self, ctx: CollectContext, post: Item) -> Iterator[Event]:  # pragma: no cover - abstract
        raise NotImplementedError

    def collect(self, ctx: CollectContext) -> Iterator[Event]:
        self.listings = Listings()
        if ctx.targets is not None:
            for event in walk_targets(self.targeted_posts(ctx), lambda post: self.thread(ctx, post)):
                self.listings.note(event)
                yield event
            return
        url, params = self.listing(ctx)
        # The listing is not read ahead: the walk may stop at the re-scan window mid-page.
        posts = self.parsed(self.pages(ctx, url, params, "post listing", read_ahead=False), self.parse_post)
        for event in walk_posts(ctx, posts, lambda post: self.thread(ctx, post),
                                lambda post: self.comments_edge(ctx, post)):
            self.listings.note(event)
            yield event

    def targeted_posts(self, ctx: CollectContext) -> Iterator[Item | Problem]:
        """Each post a webhook named, read as its own object (``GET /{id}``) with the listing's fields."""
        fields = {"fields": self.listing(ctx)[1]["fields"]}
        for post_id in ctx.targets or []:
            resp = ctx.http.get(f"{self.api_base}/{post_id}", fields, classify=self.classify)
            err = graph_error(resp)
            if err is not None and err.get("code") == 100:
                # Gone or not readable: the nightly sweep decides which, with its second signal.
                yield Problem(f"post {post_id} named by a notification is unavailable: {err.get('message')}", resp.url)
                continue
            try:
                yield self.parse_post(self.body(resp))
            except MalformedResponse as exc:
                yield Problem(f"post {post_id} named by a notification: {exc}", resp.url)

    # -- signals ------------------------------------------------------------------------------
    def classify(self, resp: Response) -> Outcome:
        err = graph_error(resp)
        if err is not None:
            code = err.get("code")
            if code in THROTTLE_CODES:
                return throttled(f"Graph API throttling (code {code}): {err.get('message', '')}", regain_seconds(resp))
            if code == TOKEN_CODE:
                sub = err.get("error_subcode")
                why = SUBCODE_MEANING.get(sub, "the token is invalid or malformed")
                return auth_failed(renew_message(
                    self.account, f"{self.label} rejected the access token (code 190, subcode {sub}: {why})",
                    self.token_remedy(),
                ))
            if err.get("is_transient") or code in (1, 2):
                return transient(f"Graph API transient error (code {code})")
        if resp.status == 429:
            # Throttled by the HTTP layer, without a Graph code: wait as told, then go on.
            wait = retry_after(resp.headers.get("retry-after"), resp.date) or regain_seconds(resp)
            return throttled(f"{self.label} throttling (HTTP 429 {resp.reason})", wait)
        if resp.status >= 500:
            return transient(f"HTTP {resp.status} {resp.reason}")
        return OK

    # -- reading ------------------------------------------------------------------------------
    def pages(
        self, ctx: CollectContext, url: str | None, params: dict | None, label: str, *, missing_ok: bool = False,
        read_ahead: bool = True,
    ) -> Iterator[dict | Problem]:
        """Every page body of one edge, following ``paging.next`` verbatim (it already carries
        fields, limit and cursor). Ends with a ``Problem`` (and no further pages) when a page
        stays malformed — without its ``paging.next`` we cannot go on — or, with
        ``missing_ok``, when the parent object answers code 100 (it vanished mid-run).
        ``read_ahead``: fetch ``paging.next`` while this page is processed — for edges read
        whole (a thread), not for one its reader may leave early."""
        while url:
            try:
                resp = ctx.http.get(url, params, classify=self.classify)
            except MalformedResponse as exc:
                yield Problem(f"{label} incomplete: {exc}", url)
                return
            err = graph_error(resp)
            if missing_ok and err is not None and err.get("code") == 100:
                yield Problem(f"{label} unavailable: {err.get('message')}", resp.url)
                return
            body = self.body(resp)
            url = (body.get("paging") or {}).get("next")
            params = None
            if url and read_ahead:
                ctx.http.prefetch(url)  # travels while this page is parsed and written
            yield body

    @staticmethod
    def parsed(pages: Iterator[dict | Problem], parse: Callable[[dict], Item]) -> Iterator[Item | Problem]:
        """The items of every page; a ``Problem`` is passed on and ends the stream."""
        for page in pages:
            if isinstance(page, Problem):
                yield page
                return
            for raw in data_of(page):
                yield parse(raw)

    def body(self, resp: Response) -> dict:
        body = resp.json()
        err = body.get("error") if isinstance(body, dict) else None
        if err:
            raise CollectError(
                f"account {self.account.name!r}: Graph API error {err.get('code')} at {resp.url}: "
                f"{err.get('message')}",
                account=self.account.name,
            )
        if not isinstance(body, dict):
            raise MalformedResponse(f"{resp.url}: expected a JSON object")
        return body

    def confirm_gone(self, ctx: CollectContext, item: KnownItem) -> bool:
        """Deleted only when ``GET /{id}`` answers 100/33 *and* the parent's listing lacks it.
        Raises ``AccessError`` when the listing still shows it: a permission problem."""
        resp = ctx.http.get(f"{self.api_base}/{item.platform_id}", {"fields": "id"}, classify=self.classify)
        if not is_gone(graph_error(resp)):
            return False
        listed = self.listings.lists(item)
        if listed is None:
            listed = self._read_listing_for(ctx, item)
        if listed is None:
            return False  # the listing could not be read whole: unknown is not gone
        if listed:
            where = f"the account {self.account.id}'s posts" if item.kind == "post" else f"post {item.root}'s comments"
            raise AccessError(
                f"account {self.account.name!r}: {self.label} answered error 100/33 (\"does not exist, cannot be "
                f"loaded due to missing permissions\") for {item.kind} {item.platform_id}, which {where} still "
                f"list: it is not recorded as deleted. The token may lack {self.read_permissions}; check them "
                f"for the token in the environment variable {self.account.token_env or '(token_env)'}",
                account=self.account.name,
            )
        if item.kind == "post":
            self.listings.gone_posts.add(item.platform_id)
        return True

    def _read_listing_for(self, ctx: CollectContext, item: KnownItem) -> bool | None:
        """Read the parent's listing again (at most ``RECHECK_PAGES`` pages' worth) to see
        whether it shows ``item``; None when it could not be read to its end."""
        limit = RECHECK_PAGES * ctx.page_limit
        if item.kind == "post":
            seen = 0
            for post in self.parsed(self.pages(ctx, *self.listing(ctx), "post listing", read_ahead=False),
                                    self.parse_post):
                if isinstance(post, Problem):
                    return None
                if post.platform_id == item.platform_id:
                    return True
                seen += 1
                if seen >= limit:
                    return None
            return False
        root = Item(platform_id=item.root, kind="post", root=item.root)
        ids: set[str] = set()
        for event in self.thread(ctx, root):
            if isinstance(event, Observed):
                ids.add(event.item.platform_id)
                if item.platform_id in ids:
                    return True
                if len(ids) >= limit:
                    return None
            elif isinstance(event, Problem):
                return None
            elif isinstance(event, ThreadDone):
                return item.platform_id in ids
        return None


def data_of(edge: Any) -> list:
    """The ``data`` list of an inline edge (``children``, ``replies``), tolerating absence."""
    data = edge.get("data") if isinstance(edge, dict) else None
    return data if isinstance(data, list) else []


__all__ = ["GraphCollector", "Listings", "THROTTLE_CODES", "SUBCODE_MEANING", "graph_error", "is_gone", "regain_seconds",
           "data_of"]
