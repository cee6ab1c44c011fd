"""RSS 2.0, RSS 1.0 and Atom feeds: Nixle alerts and agency CMS sites
(``shared/research/platforms.md`` §8).

The account's ``id`` is the feed URL (``api_base`` is not used; there is no credential). Each
run is a conditional GET: the ``ETag`` and ``Last-Modified`` of the last feed that parsed are
kept in ``ctx.checkpoint`` and sent back as ``If-None-Match`` / ``If-Modified-Since``
(RFC 9110 §13.1); a 304 means nothing changed and nothing is observed. Every entry is a post
(feeds have no comments). Identity is the RSS ``guid`` / Atom ``id``, else the link; a changed
title, body or link under the same identity is a new version.

Feeds are parsed with ``defusedxml``: entity declarations (billion laughs, quadratic blowup)
and external entities are refused, so hostile XML cannot exhaust memory or read local files.
A feed that does not parse is a Problem; its bytes stay in the WARC.

Deletion is never confirmed: feeds keep only their newest N entries, so an entry that is no
longer in the feed tells nothing about the alert itself, and there is no per-entry URL that
could say "gone". ``confirm_gone`` therefore always answers False, and feed items stay live.
"""

from __future__ import annotations

import hashlib
from typing import Iterator
from xml.etree.ElementTree import Element, ParseError, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ..errors import CollectError
from ..http import OK, Outcome, Response, throttled, transient
from ..timefmt import parse_platform_time
from .base import Collector, CollectContext, Event, Item, KnownItem, Observed, PostsDone, Problem, html_text, reset_wait


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
            entries = parse_feed(resp.body)
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
def parse_feed(data: bytes) -> list[dict]:
    """Entries of an RSS 2.0, RSS 1.0 (RDF) or Atom document as plain dicts (JSON-able, the
    item's ``native``). Raises FeedError for malformed or refused XML."""
    try:
        root = fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise FeedError(f"refused unsafe XML ({type(exc).__name__}: entity or external reference)") from None
    except ParseError as exc:
        raise FeedError(f"malformed XML: {exc}") from None
    kind = _local(root.tag)
    if kind == "rss":
        channel = next((c for c in root if _local(c.tag) == "channel"), None)
        nodes = [c for c in channel if _local(c.tag) == "item"] if channel is not None else []
    elif kind == "RDF":
        nodes = [c for c in root if _local(c.tag) == "item"]
    elif kind == "feed":
        nodes = [c for c in root if _local(c.tag) == "entry"]
    else:
        raise FeedError(f"not an RSS or Atom feed (root element <{kind}>)")
    return [_entry(node) for node in nodes]


def _entry(node: Element) -> dict:
    fields: dict[str, list[Element]] = {}
    for child in node:
        fields.setdefault(_local(child.tag), []).append(child)

    def text(*names: str) -> str | None:
        for name in names:
            for el in fields.get(name, []):
                value = _text(el)
                if value is not None:
                    return value
        return None

    links = fields.get("link", [])
    link = next((el.get("href") for el in links if el.get("href") and el.get("rel", "alternate") == "alternate"), None)
    link = link or text("link") or node.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about")
    enclosures = [el.get("url") for el in fields.get("enclosure", []) if el.get("url")]
    enclosures += [el.get("href") for el in links if el.get("rel") == "enclosure" and el.get("href")]
    enclosures += [el.get("url") for el in fields.get("content", []) if el.get("url")]  # media:content
    author = text("creator") or next((_child_text(a, "name") or _text(a) for a in fields.get("author", [])), None)
    return {
        "guid": (text("guid", "id") or "").strip() or None,
        "title": text("title"),
        "link": link.strip() if link else None,
        "description": text("description", "summary"),
        "content": text("encoded") or next((_text(el) for el in fields.get("content", []) if not el.get("url")), None),
        "published": text("pubDate", "published", "date", "issued"),
        "updated": text("updated", "modified"),
        "author": author.strip() if author else None,
        "enclosures": list(dict.fromkeys(enclosures)),
    }


def _child_text(el: Element, name: str) -> str | None:
    child = next((c for c in el if _local(c.tag) == name), None)
    return _text(child) if child is not None else None


def _text(el: Element) -> str | None:
    """An element's text as sent (entities and CDATA already decoded by the parser); Atom
    ``type="xhtml"`` content is markup, so its children are serialised back."""
    if len(el):
        return (el.text or "") + "".join(tostring(c, encoding="unicode") for c in el)
    return el.text


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


__all__ = ["RssCollector", "parse_feed", "FeedError"]
