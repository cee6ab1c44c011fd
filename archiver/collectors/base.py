"""The contract between platform collectors and the capture pipeline.

A collector knows one platform's API and nothing about storage or the index. It is handed a
``CollectContext`` and yields events:

* ``Observed(item)`` – one post/comment/reply as the platform returned it now;
* ``ThreadDone(root)`` – every comment/reply of post ``root`` has been read (so items of that
  thread not observed this run become deletion *candidates*);
* ``PostsDone()`` – the account's post listing down to ``ctx.since`` has been read (so posts
  in that window not observed become candidates);
* ``Problem(message)`` – something was wrong but the run goes on (a malformed page that
  stayed malformed after retries, a media file that could not be fetched...).

Candidates are never declared deleted from absence alone: the pipeline asks the collector's
``confirm_gone`` which must return True only when the platform positively says the object
is gone (Graph error 100/33, Mastodon 404, X ``resource-not-found``...). Where that answer
cannot tell a deletion by the author from removal by the platform, it returns a ``Gone``
saying so (Bluesky: a takedown answers ``NotFound`` exactly like a deletion); the pipeline
records its ``detail`` with the deletion event.

``ctx.known(root)`` lists what the archive already holds of a thread, for collectors whose
platform drops more than the deleted object from a thread (Bluesky removes a deleted reply's
whole subtree from ``getPostThread``): they read the survivors by their known ids.

All HTTP goes through ``ctx.http`` (``archiver.http.Fetcher``), which records every exchange
in the WARC, scrubs secrets, and applies bounded retries/backoff from one place. A collector
passes its ``classify`` function so platform throttle/auth signals are recognised.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

import orjson

from ..errors import CollectError, TransientError

if TYPE_CHECKING:  # pragma: no cover
    from ..config import AccountConfig
    from ..http import Fetcher, Response

KINDS = ("post", "comment", "reply")


@dataclass
class Item:
    """One post, comment or reply, normalised. ``native`` is the platform JSON of the item."""

    platform_id: str
    kind: str  # post | comment | reply
    root: str  # platform id of the post this item belongs to (itself for posts)
    parent: str | None = None  # platform id of the parent (None for posts)
    author: str | None = None
    author_id: str | None = None
    text: str | None = None  # exactly as the platform sent it (HTML for Mastodon)
    created_at: datetime | None = None  # timezone-aware
    url: str | None = None
    # The fields whose change makes a new version (e.g. message + attachments). Platform
    # timestamps such as Facebook's updated_time are *not* edit signals and stay out.
    content: Mapping[str, Any] = field(default_factory=dict)
    hidden: bool = False
    native: Any = None
    media: list[str] = field(default_factory=list)  # URLs to download with this version
    counts: Mapping[str, int] = field(default_factory=dict)  # e.g. comment_count, like_count
    # Earlier versions the platform itself reports (X edit history, Mastodon /history),
    # oldest first, each a dict with at least "content" and optionally "created_at".
    history: list[Mapping[str, Any]] = field(default_factory=list)
    is_department: bool | None = None  # author is the agency's own account
    # Plain text for the full-text index when ``text`` is markup (Mastodon HTML, RSS
    # descriptions) or hides what people search for (Bluesky link facets show shortened
    # URLs). None means: index ``text`` itself. Never a version-defining field.
    search_text: str | None = None

    def version_hash(self) -> str:
        return content_hash(self.content)


def content_hash(content: Mapping[str, Any]) -> str:
    """sha256 over canonical JSON of the version-defining fields."""
    return content_digest(content)[0]


def content_digest(content: Mapping[str, Any]) -> tuple[str, str]:
    """(sha256, stored JSON text) of the version-defining fields, from one canonical encoding
    (sorted keys, compact): capture hashes the text it stores rather than encoding twice.
    A lone surrogate is hashed as its surrogatepass bytes and stored as a ``\\u`` escape
    (``archiver.textsafe``), as before."""
    if _plain(content):
        # orjson writes exactly the standard encoder's text for plain JSON values without
        # floats (its float spellings differ: 1e-05 is 0.00001 there), at a tenth of the cost;
        # what it refuses -- a lone surrogate, an integer beyond 64 bits -- goes the long way.
        try:
            raw = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
            return hashlib.sha256(raw).hexdigest(), raw.decode("utf-8")
        except TypeError:  # orjson.JSONEncodeError included
            pass
    blob = _CANONICAL.encode(content)
    try:
        raw = blob.encode("utf-8")
    except UnicodeEncodeError:
        raw = blob.encode("utf-8", "surrogatepass")
        blob = json.dumps(content, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(raw).hexdigest(), blob


_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _plain(value: Any) -> bool:
    """Only dicts, lists, strings, integers, booleans and None, of exactly those types."""
    kind = type(value)
    if kind is dict:
        for item in value.values():
            if not _plain(item):
                return False
        return True
    if kind is list:
        for item in value:
            if not _plain(item):
                return False
        return True
    return kind is str or kind is int or kind is bool or value is None


@dataclass
class Observed:
    item: Item


@dataclass
class ThreadDone:
    root: str
    expected: int | None = None  # the platform's own count of comments+replies, when given
    # Only what is new was read (``since_id``): an archived reply not returned proves nothing.
    partial: bool = False


@dataclass
class PostsDone:
    expected: int | None = None


@dataclass
class Problem:
    message: str
    url: str | None = None


Event = Observed | ThreadDone | PostsDone | Problem


# What a takedown and a deletion look like when the platform answers both alike. Stored with
# the deletion event (``events.detail``); readers (web, exports, moderation) show it as is.
GONE_FROM_PUBLIC_VIEW = "gone from public view (deleted or taken down)"


@dataclass(frozen=True)
class Gone:
    """A positive ``confirm_gone`` that says what the platform's answer means."""

    detail: str

    def __bool__(self) -> bool:
        return True


@dataclass
class KnownItem:
    """What the index knows of an item, handed to ``confirm_gone``."""

    platform_id: str
    kind: str
    root: str
    parent: str | None
    url: str | None = None
    native: Any = None


@dataclass
class CollectContext:
    account: "AccountConfig"
    http: "Fetcher"
    now: datetime
    # Re-scan lower bound: posts created at or after this are re-read with all their
    # comments; None means a full backfill (first run).
    since: datetime | None
    page_limit: int = 100
    # Collector-owned, JSON-serialisable resume state from an interrupted run; the
    # collector updates it as it goes and the pipeline saves it if the run is cut short.
    checkpoint: dict[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    # root -> what the archive holds of that thread (not deleted); nothing on a first run.
    known: Callable[[str], list[KnownItem]] = field(default=lambda root: [])
    thread_failures: int = 0  # threads in a row that failed this run (once_per_checkpoint)
    # A listener's targeted capture (archiver.listen): only these posts and their threads are
    # read, named by platform notifications; None is the nightly walk of the whole account.
    targets: list[str] | None = None
    # What the archive holds, for a collector that then reads only what is new (the poller's
    # fresh tier on platforms that bill each post returned); None: read everything.
    archived: "Known | None" = None


@dataclass(frozen=True)
class Known:
    posts: list[tuple[str, datetime | None, list[str]]]  # (post id, created_at, its version ids), in the window
    newest_post: str | None                              # the newest archived post id of the account
    newest_reply: Callable[[str], str | None]            # thread root -> the newest archived reply id
    # A wider poll tier: check the archived items in the window by id (edits, deletions) rather
    # than re-reading their threads, and read only new replies (``Collector.checks_known``).
    check: bool = False


class Collector:
    """Base class: subclasses set ``platform`` and ``default_api_base`` and implement
    ``collect`` and ``confirm_gone``. ``token`` may be None for platforms without one."""

    platform: str = ""
    default_api_base: str = ""
    needs_token: bool = True
    # Query parameters and headers that carry credentials; scrubbed from everything written.
    secret_params: tuple[str, ...] = ("access_token", "appsecret_proof", "key")
    # Reads only ``ctx.targets`` (the posts a listener was told about) when they are given.
    supports_targets: bool = False
    # Reads only what is new when ``ctx.archived`` is given (the poller's fresh tier).
    supports_incremental: bool = False
    # The poller's wider tiers check archived items by id (``Known.check``) instead of a full walk.
    checks_known: bool = False
    # While the poller reads the account, the nightly sweep is such a check of this many days (the
    # daily tier), not a full walk; the poller's weekly tier reads further back.
    check_sweep_days: float | None = None

    def sweep_reach(self) -> timedelta | None:
        """How far back the nightly walk sees every comment (None: as far as its re-scan window);
        the poller counts the sweep as a read of a tier only up to this age."""
        return None

    def __init__(self, account: "AccountConfig", token: str | None):
        self.account = account
        self.token = token
        self.api_base = (account.api_base or self.default_api_base).rstrip("/")

    def auth(self) -> dict[str, dict[str, str]]:
        """How the credential is sent: {"params": {...}} and/or {"headers": {...}}."""
        return {}

    def collect(self, ctx: CollectContext) -> Iterator[Event]:  # pragma: no cover - abstract
        raise NotImplementedError

    def confirm_gone(self, ctx: CollectContext, item: KnownItem) -> "bool | Gone":  # pragma: no cover
        raise NotImplementedError


# --- Helpers shared by several collectors ------------------------------------------------------
# One home for what more than one platform needs, so no collector copies another's code.


def error_body(resp: "Response") -> dict | None:
    """The error object of an XRPC or Mastodon error (``{"error": "<Name>", "message": ...}``),
    or None when the body is not such an object (a success, an HTML error page, garbage)."""
    body = resp.json_object()
    if body is not None and isinstance(body.get("error"), str):
        return body
    return None


def reset_wait(value: str | None, now: datetime) -> float | None:
    """Seconds from ``now`` until a rate-limit reset given as epoch seconds (Bluesky
    ``ratelimit-reset``) or an ISO-8601 time (Mastodon ``x-ratelimit-reset``); None when absent
    or unreadable, so the fetcher falls back to its own backoff."""
    if not value:
        return None
    try:
        reset = datetime.fromtimestamp(float(value), tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        from ..timefmt import parse_platform_time

        reset = parse_platform_time(value)
    if reset is None:
        return None
    return max(0.0, (reset - now).total_seconds())


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from an HTTP ``Retry-After`` header (RFC 9110 §10.2.3: delta-seconds or
    an HTTP-date); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


def renew_message(account: "AccountConfig", problem: str, remedy: str) -> str:
    """A TokenError message: what the platform said, how to get a new credential, where it goes."""
    where = (
        f"put it in the environment variable {account.token_env}"
        if account.token_env
        else "name its environment variable with token_env in the account's config"
    )
    return f"{problem}. {remedy}, {where}, and run `archiver collect --account {account.name}`."


# The checkpoint key of threads that failed (root -> its post's created_at): kept across runs
# until the thread is read, so the next night reaches back to them (archiver.outcome).
FAILED_THREADS = "threads_failed"
# This many threads failing one after the other is the platform failing, not one thread:
# the account stops (and is checkpointed) rather than spend every thread's retries.
FAILED_THREADS_IN_A_ROW = 3


def once_per_checkpoint(ctx: CollectContext, root: str, walk: Iterator[Event],
                        created_at: datetime | None = None) -> Iterator[Event]:
    """Run a thread walk unless the checkpoint says an interrupted run already finished it
    (it did when it reached ``ThreadDone``; a walk cut short by a Problem is run again).

    A thread that keeps failing (a 5xx or network error on its edge after the fetcher's
    retries) costs that thread, not the night: it becomes a ``Problem``, is noted in the
    checkpoint's ``threads_failed`` for the next run, and the walk goes on with the next
    post. Its items are not deletion candidates (no ``ThreadDone``)."""
    done = ctx.checkpoint.setdefault("threads_done", [])
    if root in done:
        return
    try:
        for event in walk:
            yield event
            if isinstance(event, ThreadDone) and event.root == root:
                done.append(root)
                _read_at_last(ctx, root)
    except TransientError as exc:
        ctx.thread_failures += 1
        if ctx.thread_failures >= FAILED_THREADS_IN_A_ROW:
            raise
        failed = ctx.checkpoint.setdefault(FAILED_THREADS, {})
        failed[root] = failed.get(root) or (created_at.isoformat() if created_at else None)
        yield Problem(f"thread {root} not read, it is read again next run: {exc}")
        return
    ctx.thread_failures = 0


def _read_at_last(ctx: CollectContext, root: str) -> None:
    failed = ctx.checkpoint.get(FAILED_THREADS)
    if failed is not None:
        failed.pop(root, None)
        if not failed:
            del ctx.checkpoint[FAILED_THREADS]


def forget_unlisted(ctx: CollectContext, listed: set[str]) -> None:
    """After a complete listing: a failed thread whose post was in the window and is no longer
    listed went with its post (the pipeline confirms that); it is not retried for ever."""
    failed = ctx.checkpoint.get(FAILED_THREADS)
    if not failed:
        return
    for root, created in list(failed.items()):
        when = datetime.fromisoformat(created) if created else None
        in_window = ctx.since is None or (when is not None and when >= ctx.since)
        if root not in listed and in_window:
            del failed[root]
    if not failed:
        del ctx.checkpoint[FAILED_THREADS]


def api_body(resp: "Response", account: "AccountConfig", api: str, shape: type = dict) -> Any:
    """The JSON body of a response the collector cannot do without: an ``{"error": ...}``
    envelope fails the account (CollectError, naming the API's own words); a body of the
    wrong shape is a MalformedResponse the caller turns into a Problem."""
    from ..http import MalformedResponse

    body = resp.json()
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, str):
        detail = body.get("message") or body.get("error_description") or ""
        raise CollectError(
            f"account {account.name!r}: {api} answered HTTP {resp.status} {err!r} at {resp.url}"
            + (f": {detail}" if detail else "") + f" (check the account id {account.id!r} in the config)",
            account=account.name,
        )
    if not isinstance(body, shape):
        raise MalformedResponse(f"{resp.url}: expected a JSON {shape.__name__}")
    return body


class _TextOnly(HTMLParser):
    BLOCKS = {"p", "br", "div", "li", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "tr"}
    SKIP = {"script", "style", "template"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_text(markup: str | None) -> str | None:
    """Plain text of an HTML fragment for the search index only (entities decoded, scripts
    dropped, paragraphs as lines). The archived ``text`` keeps the HTML exactly as sent."""
    if markup is None:
        return None
    parser = _TextOnly()
    parser.feed(markup)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)


def walk_posts(
    ctx: CollectContext, posts: Iterator["Item | Problem"], thread: Callable[["Item"], Iterator[Event]],
    first_request: Callable[["Item"], tuple[str, dict | None]] | None = None,
) -> Iterator[Event]:
    """The account walk every collector shares: each post (newest first) is observed, then its
    thread is read, unless the checkpoint of an interrupted run says it was finished already.

    Stops at the first post older than ``ctx.since`` (the re-scan window). ``PostsDone`` is only
    yielded when the listing was read to its end or to ``since``: a ``Problem`` from ``posts``
    (a page that stayed malformed) ends the walk without it, so no post becomes a deletion
    candidate because of a listing we could not read.

    With ``first_request(post)`` (the URL and parameters a thread starts with), the next post's
    thread is read ahead (``Fetcher.prefetch``) while this one is walked: the next post is
    taken from the listing first, and an error taking it is raised only where it was before,
    after this post's thread."""
    done = ctx.checkpoint.setdefault("threads_done", [])
    listed: set[str] = set()
    posts = iter(posts)
    post = _take(posts)
    while post is not _END:
        if isinstance(post, _Failed):
            raise post.error
        if isinstance(post, Problem):
            yield post
            return
        if _before_window(ctx, post):
            break
        following = _take(posts)
        listed.add(post.platform_id)
        yield Observed(post)
        if first_request is not None and isinstance(following, Item) and following.platform_id not in done \
                and not _before_window(ctx, following):
            ctx.http.prefetch(*first_request(following))
        yield from once_per_checkpoint(ctx, post.platform_id, thread(post), post.created_at)
        post = following
    # The listing completed: nothing is left to resume, so the next run re-reads every thread.
    ctx.checkpoint.pop("threads_done", None)
    forget_unlisted(ctx, listed)
    yield PostsDone()


_END = object()


def walk_targets(posts: Iterator["Item | Problem"], thread: Callable[["Item"], Iterator[Event]]) -> Iterator[Event]:
    """A listener's walk (``ctx.targets``): each post a notification named, then its thread.

    Never yields ``PostsDone``: posts not named were not looked at, so none of them may become
    a deletion candidate; a post that could not be read is a ``Problem`` and the walk goes on.
    The account's checkpoint is not consulted: a notification asks for a fresh read."""
    for post in posts:
        if isinstance(post, Problem):
            yield post
            continue
        yield Observed(post)
        yield from thread(post)


def _before_window(ctx: CollectContext, post: "Item") -> bool:
    return ctx.since is not None and post.created_at is not None and post.created_at < ctx.since


@dataclass
class _Failed:
    error: Exception


def _take(items: Iterator[Any]) -> Any:
    """The next element, ``_END``, or the error taking it (raised later, where it belongs)."""
    try:
        return next(items, _END)
    except Exception as exc:  # noqa: BLE001 - re-raised unchanged by walk_posts
        return _Failed(exc)


def cursor_pages(params: Mapping[str, Any], cursor: str, fetch: Callable[[dict], tuple[Any, str | None]],
                 label: str, url: str) -> Iterator[Any]:
    """Every page of a listing paged by an opaque token (X ``meta.next_token``, YouTube
    ``nextPageToken``): ``fetch(params)`` returns (page, next token or None) and the token is
    sent back as the ``cursor`` parameter. A page that stays malformed ends the listing with a
    ``Problem`` (without its token there is no next page to ask for)."""
    from ..http import MalformedResponse

    params = dict(params)
    while True:
        try:
            page, token = fetch(params)
        except MalformedResponse as exc:
            yield Problem(f"{label} incomplete: {exc}", url)
            return
        yield page
        if not token:
            return
        params[cursor] = token
