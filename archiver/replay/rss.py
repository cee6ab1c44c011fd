"""An RSS 2.0 / Atom feed server (``shared/research/platforms.md`` §8).

Serves Nixle-style agency feeds (``/pubs/feeds/latest/{agency_id}/``, RSS 2.0 with
``title``/``link``/``description``/``pubDate``/``guid``) and Atom feeds (``entry`` with
``id``/``updated``/``link rel="alternate"``), with conditional GET: a strong ``ETag`` over the
body and ``Last-Modified``; ``If-None-Match`` / ``If-Modified-Since`` that still match answer
304 with no body. A feed keeps only its newest ``keep`` entries, like real feeds that
truncate. ``raw`` replaces the rendered body (malformed or hostile XML).

Real feeds are rarely tidy XML, and a feed can be rendered the ways they are not
(``shared/realworld/rss``): in another ``encoding`` (UTF-16, Big5, GB2312, EUC-KR...), with
the charset only in the HTTP ``Content-Type`` (``declare=False``) or contradicting it
(``header_charset``), ``loose`` (HTML entities such as ``&nbsp;`` that XML never declared, and
raw ``&`` in text, as hand-built CMS templates write them), with relative ``link`` values,
and with Atom ``xhtml`` content.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from xml.sax.saxutils import escape, quoteattr

from . import Reply, Request, Simulator
from . import images
from .samples import HOSTILE


@dataclass
class FeedEntry:
    guid: str
    title: str
    description: str  # HTML, escaped into the XML like Nixle does
    published: datetime
    link: str | None = None
    updated: datetime | None = None
    author: str | None = None
    enclosure: str | None = None  # media name served by the simulator
    xhtml: str | None = None  # Atom <content type="xhtml"> markup (inside the required div)


@dataclass
class Feed:
    path: str
    title: str
    format: str = "rss"  # rss | atom
    entries: list[FeedEntry] = field(default_factory=list)
    keep: int = 20
    raw: bytes | None = None
    etag: bool = True  # some servers send only Last-Modified
    encoding: str = "utf-8"  # the bytes' encoding
    declare: bool = True  # name the encoding in the XML declaration
    header_charset: str | None = ""  # charset in Content-Type: "" = the encoding, None = none
    loose: bool = False  # raw "&" and undeclared &nbsp; in text, as hand-built templates write
    media_base: str | None = None  # enclosures served from this origin (a CDN), not the feed's


class RssSimulator(Simulator):
    prefix = "rss"

    def __init__(self):
        self.feeds: dict[str, Feed] = {}
        self.base_url = ""
        self.calls = 0

    # -- world helpers ------------------------------------------------------------------------
    def add_feed(self, path: str = "pubs/feeds/latest/12345/", title: str = "Example Police Department",
                 **kw) -> Feed:
        feed = Feed(path.strip("/"), title, **kw)
        self.feeds[feed.path] = feed
        return feed

    def feed_url(self, feed: Feed) -> str:
        trailing = "/" if feed.format == "rss" else ""
        return f"{self.base_url}/{feed.path}{trailing}"

    def media_url(self, name: str, feed: Feed | None = None) -> str:
        base = (feed.media_base if feed is not None and feed.media_base else self.base_url)
        return f"{base}/media/{name}.jpg"

    # -- rendering ----------------------------------------------------------------------------
    def render(self, feed: Feed) -> tuple[bytes, datetime]:
        entries = sorted(feed.entries, key=lambda e: e.published, reverse=True)[: feed.keep]
        modified = max((e.updated or e.published for e in entries), default=datetime(2024, 1, 1, tzinfo=timezone.utc))
        if feed.raw is not None:
            return feed.raw, modified
        return (self._atom(feed, entries, modified) if feed.format == "atom" else self._rss(feed, entries, modified)), modified

    def _rss(self, feed: Feed, entries: list[FeedEntry], modified: datetime) -> bytes:
        items = []
        text = _loose if feed.loose else escape
        for e in entries:
            parts = [f"<title>{text(e.title)}</title>",
                     f"<link>{escape(e.link or '')}</link>",
                     f"<description>{text(e.description)}</description>",
                     f"<pubDate>{format_datetime(e.published.astimezone(timezone.utc), usegmt=True)}</pubDate>",
                     f"<guid isPermaLink=\"false\">{escape(e.guid)}</guid>"]
            if e.author:
                parts.append(f"<dc:creator>{escape(e.author)}</dc:creator>")
            if e.enclosure:
                parts.append(f"<enclosure url={quoteattr(self.media_url(e.enclosure, feed))} length=\"1\" type=\"image/jpeg\"/>")
            items.append("<item>" + "".join(parts) + "</item>")
        return _encode(feed, '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
                       f"<title>{text(feed.title)}</title><link>https://local.nixle.com/</link>"
                       f"<description>Alerts from {text(feed.title)}</description>"
                       f"<lastBuildDate>{format_datetime(modified.astimezone(timezone.utc), usegmt=True)}</lastBuildDate>"
                       + "".join(items) + "</channel></rss>")

    def _atom(self, feed: Feed, entries: list[FeedEntry], modified: datetime) -> bytes:
        rows = []
        text = _loose if feed.loose else escape
        for e in entries:
            parts = [f"<id>{escape(e.guid)}</id>", f"<title>{text(e.title)}</title>",
                     f"<published>{_rfc3339(e.published)}</published>",
                     f"<updated>{_rfc3339(e.updated or e.published)}</updated>",
                     f"<summary type=\"html\">{text(e.description)}</summary>"]
            if e.xhtml is not None:
                parts.append(f'<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">{e.xhtml}</div></content>')
            if e.link:
                parts.append(f"<link rel=\"alternate\" href={quoteattr(e.link)}/>")
            if e.enclosure:
                parts.append(f"<link rel=\"enclosure\" type=\"image/jpeg\" href={quoteattr(self.media_url(e.enclosure, feed))}/>")
            if e.author:
                parts.append(f"<author><name>{escape(e.author)}</name></author>")
            rows.append("<entry>" + "".join(parts) + "</entry>")
        return _encode(feed, '<feed xmlns="http://www.w3.org/2005/Atom">'
                       f"<title>{text(feed.title)}</title><id>urn:feed:{escape(feed.path)}</id>"
                       f"<updated>{_rfc3339(modified)}</updated>" + "".join(rows) + "</feed>")

    # -- HTTP ---------------------------------------------------------------------------------
    def handle(self, request: Request) -> Reply:
        self.calls += 1
        path = request.path.strip("/")
        if path.startswith("media/"):
            return Reply(200, images.jpeg(path), {"Content-Type": "image/jpeg"})
        feed = self.feeds.get(path)
        if feed is None:
            return Reply(404, "<html><body>Not Found</body></html>", {"Content-Type": "text/html"})
        body, modified = self.render(feed)
        charset = feed.encoding if feed.header_charset == "" else feed.header_charset
        headers = {"Last-Modified": format_datetime(modified.astimezone(timezone.utc), usegmt=True),
                   "Content-Type": ("application/atom+xml" if feed.format == "atom" else "application/rss+xml")
                   + (f"; charset={charset}" if charset else "")}
        etag = f'"{hashlib.sha256(body).hexdigest()[:20]}"'
        if feed.etag:
            headers["ETag"] = etag
        if _not_modified(request, etag if feed.etag else None, modified):
            return Reply(304, b"", headers)
        return Reply(200, body, headers)


def _not_modified(request: Request, etag: str | None, modified: datetime) -> bool:
    # RFC 9110 §13.1.2: If-None-Match wins; If-Modified-Since only counts without it.
    if_none = request.headers.get("If-None-Match")
    if if_none is not None:
        return etag is not None and etag in [t.strip() for t in if_none.split(",")]
    since = request.headers.get("If-Modified-Since")
    if since:
        try:
            return modified.replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def _encode(feed: Feed, document: str) -> bytes:
    declaration = f' encoding="{feed.encoding.upper()}"' if feed.declare else ""
    return f'<?xml version="1.0"{declaration}?>\n{document}'.encode(feed.encoding)


def _loose(text: str) -> str:
    """Text as careless templates write it: markup escaped, but ``&`` left raw and a no-break
    space as the HTML entity ``&nbsp;``, which XML does not define."""
    return text.replace("<", "&lt;").replace(">", "&gt;").replace("\u00a0", "&nbsp;")


def _rfc3339(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the demo department ------------------------------------------------------------------------
def sample_world(sim: RssSimulator, now: datetime | None = None) -> None:
    """A Nixle-style alert feed (with hostile text, a raw ``&`` and an undeclared ``&nbsp;``, as
    hand-built feeds have them) and an Atom news feed of the city site in UTF-16, with a
    relative link and xhtml content."""
    now = now or datetime.now(timezone.utc)
    nixle = sim.add_feed("pubs/feeds/latest/12345/", "Example Police Department", loose=True)
    for n, (title, text) in enumerate([
        ("Traffic Advisory: Main St & 1st Ave closed", "<p>Main St closed between 1st and 3rd for a water main break.</p>"),
        ("Community Alert: scam\u00a0calls", "<p>Callers claiming to be officers ask for gift cards. Hang up.</p>"),
        ("Shelter in place lifted", "<p>Area is safe.</p>" + " ".join(HOSTILE)),
    ]):
        nixle.entries.append(FeedEntry(f"nixle-alert-{1001 + n}", title, text, now - timedelta(days=3 - n),
                                       link=f"https://local.nixle.com/alert/{1001 + n}/",
                                       enclosure="alert-map" if n == 0 else None))
    news = sim.add_feed("city/police/news.atom", "Example PD News", format="atom", encoding="utf-16")
    news.entries.append(FeedEntry("tag:example.gov,2024:news-7", "Chief's monthly report",
                                  "<p>Calls for service were down 4%.</p>", now - timedelta(days=5),
                                  link="news/7", author="Office of the Chief",
                                  xhtml='<p>Calls for service were down <b>4%</b>.</p>'))


def next_night(sim: RssSimulator, now: datetime | None = None) -> None:
    """A corrected alert (same guid, new text) and a new one; feeds cannot hide or confirm
    deletion, so nothing disappears here that the archive should call deleted."""
    now = now or datetime.now(timezone.utc)
    nixle = sim.feeds["pubs/feeds/latest/12345"]
    first = next(e for e in nixle.entries if e.guid == "nixle-alert-1001")
    first.description = "<p>UPDATE: Main St has reopened.</p>"
    first.updated = now
    if not any(e.guid == "nixle-alert-1004" for e in nixle.entries):
        nixle.entries.append(FeedEntry("nixle-alert-1004", "Road reopened", "<p>All lanes open.</p>", now,
                                       link="https://local.nixle.com/alert/1004/"))


def demo_account(sim: RssSimulator) -> dict:
    """The ``[[accounts]]`` keys for the Nixle feed (an RSS account's id is its feed URL)."""
    return {"platform": "rss", "id": sim.feed_url(sim.feeds["pubs/feeds/latest/12345"])}
