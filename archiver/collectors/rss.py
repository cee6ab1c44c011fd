"""RSS 2.0, RSS 1.0 and Atom feeds: Nixle alerts and agency CMS sites
(``shared/research/platforms.md`` §8).

The account's ``id`` is the feed URL (``api_base`` is not used; there is no credential). Each
run is a conditional GET: the ``ETag`` and ``Last-Modified`` of the last feed that parsed are
kept in ``ctx.checkpoint`` and sent back as ``If-None-Match`` / ``If-Modified-Since``
(RFC 9110 §13.1); a 304 means nothing changed and nothing is observed. Every entry is a post
(feeds have no comments). Identity is the RSS ``guid`` / Atom ``id`` as the feed wrote it,
else the link; a changed title, body or link under the same identity is a new version.

Feeds are read with feedparser, as real feed readers do: feeds in the wild carry undeclared
HTML entities (``&nbsp;``), raw ``&``, wrong or missing charsets, UTF-16 and legacy CJK
encodings, which a strict XML parser rejects whole. It is handed the exact bytes and the
response's ``Content-Type`` (so a charset given only in the HTTP header counts, RFC 7303 §3),
with sanitising and relative-URI rewriting of the markup turned off: the item text is the
feed's own (feedparser trims the whitespace around each element's text and serialises Atom
``xhtml`` content without its wrapping ``div``; the WARC keeps the bytes as they came).
Entry links and enclosures are resolved against ``xml:base`` or the feed URL (RFC 3986 §5,
RFC 4287 §2). feedparser drops entity declarations other than plain character values and
never fetches external entities, so billion-laughs and XXE documents are read without
expansion. A document that is not a feed, or is cut off before it closes, is a Problem; its
bytes stay in the WARC and the next run fetches it again.

Deletion is never confirmed: feeds keep only their newest N entries, so an entry that is no
longer in the feed tells nothing about the alert itself, and there is no per-entry URL that
could say "gone". ``confirm_gone`` therefore always answers False, and feed items stay live.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any, Iterator, Mapping
from urllib.parse import urljoin, urlsplit

import feedparser

from ..errors import CollectError
from ..http import OK, Outcome, Response, throttled, transient
from ..timefmt import parse_platform_time
from .base import Collector, CollectContext, Event, Item, KnownItem, Observed, PostsDone, Problem, html_text, reset_wait

# What expat says when the document stops before its root element closes: a transfer cut
# short. Its last entry would be a fragment, so nothing is read from it. ("unclosed token"
# also answers a bad character reference mid-document, so it counts only on the last line.)
TRUNCATED = "no element found"
CUT_TOKEN = "unclosed token"


class FeedError(ValueError):
    """The document is not an RSS or Atom feed this collector can read."""


class RssCollector(Collector):
    platform = "rss"
    default_api_base = ""
    needs_token = False

    def classify(self, resp: Response) -> Outcome:
        if resp.status == 429 or (resp.status == 503 and resp.headers.get("retry-after")):
            # Retry-After is delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
            value = (resp.headers.get("retry-after") or "").strip()
            wait = float(value) if value.isdigit() else reset_wait(value, resp.date)
            return throttled(f"the feed server asked to slow down (HTTP {resp.status})", wait)
        if resp.status >= 500:
            return transient(f"HTTP {resp.status} {resp.reason}")
        return OK

    def collect(self, ctx: CollectContext) -> Iterator[Event]:
        url = self.account.id
        saved = ctx.checkpoint.get("conditional") or {}
        headers = {}
        if saved.get("url") == url:  # validators belong to this URL only
            if saved.get("etag"):
                headers["If-None-Match"] = saved["etag"]
            if saved.get("last_modified"):
                headers["If-Modified-Since"] = saved["last_modified"]
        resp = ctx.http.get(url, classify=self.classify, expect_json=False, headers=headers)
        if resp.status == 304:
            return  # not modified since the last feed that parsed: nothing new to observe
        if resp.status != 200:
            raise CollectError(
                f"account {self.account.name!r}: the feed {resp.url} answered HTTP {resp.status} "
                f"{resp.reason}; check the feed URL (the account's id) in the config",
                account=self.account.name,
            )
        try:
            entries = parse_feed(resp.body, resp.headers, resp.url)
        except FeedError as exc:
            # No PostsDone and no new validators: next run fetches the whole feed again.
            yield Problem(f"feed not read: {exc} (the response is kept in the WARC)", resp.url)
            return
        seen: set[str] = set()
        for entry in entries:
            item = self.parse_entry(entry)
            if item.platform_id not in seen:  # a feed repeating a guid lists one item
                seen.add(item.platform_id)
                yield Observed(item)
        yield PostsDone()
        ctx.checkpoint["conditional"] = {"url": url, "etag": resp.headers.get("etag"),
                                         "last_modified": resp.headers.get("last-modified")}

    def confirm_gone(self, ctx: CollectContext, item: KnownItem) -> bool:
        # Feeds truncate; absence is not deletion and nothing else can confirm it (module doc).
        return False

    def parse_entry(self, entry: dict) -> Item:
        body = entry["content"] or entry["description"]
        identity = entry["guid"] or entry["link"] or "sha256:" + hashlib.sha256(
            "\x00".join([entry["title"] or "", entry["published"] or "", body or ""]).encode("utf-8", "surrogatepass")
        ).hexdigest()
        return Item(
            platform_id=identity,
            kind="post",
            root=identity,
            author=entry["author"],
            text=body,
            created_at=parse_platform_time(entry["published"] or entry["updated"]),
            url=entry["link"],
            # An Atom <updated> bump alone is not an edit; changed words or link are.
            content={"title": entry["title"], "description": entry["description"],
                     "content": entry["content"], "link": entry["link"]},
            native=entry,
            media=list(entry["enclosures"]),
            is_department=True,
            search_text="\n".join(t for t in (entry["title"], html_text(body)) if t),
        )


# -- parsing ------------------------------------------------------------------------------------
def parse_feed(data: bytes, headers: Mapping[str, str] | None = None, url: str = "") -> list[dict]:
    """Entries of an RSS 0.9x/1.0/2.0 or Atom document as plain dicts (JSON-able, the item's
    ``native``). ``headers`` are the HTTP response headers (their charset counts) and ``url``
    the feed's own URL (the base of relative links). Raises FeedError for a document that is
    not a feed or is cut off."""
    content_type = (headers or {}).get("content-type")
    parsed = feedparser.parse(io.BytesIO(data), response_headers={"content-type": content_type} if content_type else {},
                              sanitize_html=False, resolve_relative_uris=False)
    problem = parsed.get("bozo_exception")
    if problem is not None and _truncated(problem, data):
        raise FeedError(f"the document ends before it is complete ({problem})")
    if not parsed.get("version") and not parsed.entries:
        said = f": {problem}" if problem is not None else ""
        raise FeedError(f"not an RSS or Atom feed{said}")
    return [_entry(entry, url) for entry in parsed.entries]


def _truncated(problem: Exception, data: bytes) -> bool:
    if TRUNCATED in str(problem):
        return True
    line = getattr(problem, "getLineNumber", lambda: None)()
    return CUT_TOKEN in str(problem) and line is not None and line >= data.rstrip().count(b"\n") + 1


def _entry(entry: Mapping[str, Any], url: str) -> dict:
    # Plain dict reads: FeedParserDict's own get() maps missing keys to others (``updated`` to
    # ``published``), which would invent a date the feed did not give.
    field = lambda name: dict.get(entry, name)  # noqa: E731
    link = field("link")
    if link and field("guidislink") and link == field("id") and urlsplit(link).scheme not in ("http", "https"):
        link = None  # a guid that is not a web URL, taken for a permalink: it is not a link
    enclosures = [e.get("href") for e in entry.get("enclosures", ()) if e.get("href")]  # from links
    enclosures += [m.get("url") for m in field("media_content") or () if m.get("url")]
    content = next((c.get("value") for c in field("content") or () if c.get("value") is not None), None)
    return {
        "guid": (field("id") or "").strip() or None,
        "title": field("title"),
        "link": _absolute(url, link),
        # feedparser copies content into ``summary`` when a feed has none (with no
        # ``summary_detail``): that copy is not a description the feed gave.
        "description": field("summary") if "summary_detail" in entry else None,
        "content": content,
        "published": field("published"),
        "updated": field("updated"),
        "author": (field("author") or "").strip() or None,
        "enclosures": list(dict.fromkeys(_absolute(url, e) for e in enclosures)),
    }


def _absolute(base: str, link: str | None) -> str | None:
    """A link resolved against the feed URL (feedparser already applied any ``xml:base``)."""
    link = (link or "").strip()
    if not link:
        return None
    return urljoin(base, link) if base else link


__all__ = ["RssCollector", "parse_feed", "FeedError"]
