"""What Facebook and Instagram share: the Graph API (``shared/research/platforms.md`` §1, §2).

Both platforms answer from ``graph.facebook.com`` with the same error envelope
(``{"error":{"code":..,"error_subcode":..}}``), the same throttling codes, the same token
failure (code 190 + subcode), the same cursor paging (``paging.next`` is a full URL that is
followed verbatim) and the same deletion proof (``GET /{id}`` → code 100, subcode 33). The
platform collectors subclass ``GraphCollector`` and add their edges and their parsing.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from ..errors import CollectError
from ..http import OK, MalformedResponse, Outcome, Response, auth_failed, parse_json_header, throttled, transient
from .base import CollectContext, Collector, Event, Item, KnownItem, Problem, renew_message, walk_posts, walk_targets

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
    supports_targets = True

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
        if ctx.targets is not None:
            return walk_targets(self.targeted_posts(ctx), lambda post: self.thread(ctx, post))
        url, params = self.listing(ctx)
        # The listing is not read ahead: the walk may stop at the re-scan window mid-page.
        posts = self.parsed(self.pages(ctx, url, params, "post listing", read_ahead=False), self.parse_post)
        return walk_posts(ctx, posts, lambda post: self.thread(ctx, post),
                          lambda post: self.comments_edge(ctx, post))

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
        resp = ctx.http.get(f"{self.api_base}/{item.platform_id}", {"fields": "id"}, classify=self.classify)
        return is_gone(graph_error(resp))


def data_of(edge: Any) -> list:
    """The ``data`` list of an inline edge (``children``, ``replies``), tolerating absence."""
    data = edge.get("data") if isinstance(edge, dict) else None
    return data if isinstance(data, list) else []


__all__ = ["GraphCollector", "THROTTLE_CODES", "SUBCODE_MEANING", "graph_error", "is_gone", "regain_seconds", "data_of"]
