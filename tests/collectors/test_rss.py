"""RSS/Atom: conditional GET, identity, versions, hostile XML; then the pipeline end to end."""

from __future__ import annotations

import time
from urllib.parse import urljoin
from datetime import datetime, timedelta, timezone

import pytest

from archiver.collectors.rss import FeedError, parse_feed
from archiver.errors import CollectError
from archiver.replay.rss import FeedEntry, RssSimulator, demo_account, next_night, sample_world
from archiver.replay.samples import HOSTILE
from archiver.index import open_index
from tests.collectors.e2e_social import items, night, version_texts

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
HUGE = ("\u05e9\u05dc\u05d5\u05dd \U0001F469\u200D\U0001F692 " * 6000)[:100_000]
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<rss version="2.0"><channel><title>x</title><item><guid>1</guid><title>&lol9;</title></item></channel></rss>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><guid>1</guid><description>&xxe;</description></item></channel></rss>"""


@pytest.fixture
def feeds(replay):
    sim = RssSimulator()
    replay.mount(sim)
    feed = sim.add_feed("pubs/feeds/latest/12345/")
    texts = HOSTILE + [HUGE]
    for n, text in enumerate(texts):
        feed.entries.append(FeedEntry(f"alert-{n}", f"Alert {n}", text, NOW - timedelta(days=len(texts) - n),
                                      link=f"https://local.nixle.com/alert/{n}/", enclosure="map" if n == 0 else None))
    return sim, feed


def _run(collector_run, sim, feed, checkpoint=None):
    return collector_run("rss", sim.feed_url(feed), None, None, now=NOW, checkpoint=checkpoint)


def _sent(run, name):
    return [v for ex in run.exchanges for k, v in ex["request_headers"] if k == name]


def test_rss_entries_stored_exactly(feeds, collector_run):
    sim, feed = feeds
    run = _run(collector_run, sim, feed)
    assert run.error is None and len(run.of("PostsDone")) == 1
    got = run.items
    assert sorted(got) == [f"alert-{n}" for n in range(len(HOSTILE) + 1)]
    for n, text in enumerate(HOSTILE + [HUGE]):
        item = got[f"alert-{n}"]
        # feedparser trims the whitespace around an element's text (HUGE ends in a space).
        assert item.text == text.strip() and item.kind == "post" and item.root == item.platform_id
        assert item.url == f"https://local.nixle.com/alert/{n}/"
    assert got["alert-0"].media == [sim.media_url("map")]
    assert got["alert-0"].search_text == "Alert 0\nnice try"  # script dropped from the index text only
    assert got["alert-3"].created_at == (NOW - timedelta(days=2)).replace(microsecond=0)


def test_conditional_get_round_trip_and_304(feeds, collector_run):
    sim, feed = feeds
    first = _run(collector_run, sim, feed)
    saved = first.ctx.checkpoint["conditional"]
    etag = dict(first.exchanges[0]["response_headers"])["ETag"]
    assert saved["etag"] == etag and saved["last_modified"]
    second = _run(collector_run, sim, feed, checkpoint=first.ctx.checkpoint)
    assert _sent(second, "If-None-Match") == [etag]
    assert _sent(second, "If-Modified-Since") == [saved["last_modified"]]
    assert [ex["status"] for ex in second.exchanges] == [304]
    assert second.events == [] and second.error is None  # nothing changed: nothing observed
    # A changed entry: the same guid, new words, so a new version; new validators are kept.
    feed.entries[1].description = "Corrected: all clear"
    third = _run(collector_run, sim, feed, checkpoint=second.ctx.checkpoint)
    assert third.exchanges[0]["status"] == 200
    assert third.items["alert-1"].version_hash() != first.items["alert-1"].version_hash()
    assert third.items["alert-2"].version_hash() == first.items["alert-2"].version_hash()
    assert third.ctx.checkpoint["conditional"]["etag"] != etag


def test_last_modified_only_server(feeds, collector_run):
    sim, feed = feeds
    feed.etag = False
    first = _run(collector_run, sim, feed)
    second = _run(collector_run, sim, feed, checkpoint=first.ctx.checkpoint)
    assert _sent(second, "If-None-Match") == [] and second.exchanges[0]["status"] == 304


def test_validators_of_another_url_are_not_sent(feeds, collector_run):
    sim, feed = feeds
    stale = {"conditional": {"url": "https://elsewhere.example/feed", "etag": '"x"', "last_modified": "y"}}
    run = _run(collector_run, sim, feed, checkpoint=stale)
    assert _sent(run, "If-None-Match") == [] and run.exchanges[0]["status"] == 200


@pytest.mark.parametrize("body, words", [
    (b"<rss><channel><item><title>cut off", "ends before it is complete"),
    (b'<rss version="2.0"><channel><item><guid>1</guid></item><item><guid>2</guid><title>hal', "ends before"),
    (b'{"not": "a feed"}', "not an RSS or Atom feed"),
    (b"<html><body>Maintenance</body></html>", "not an RSS or Atom feed"),
    (b"", "not an RSS or Atom feed"),
])
def test_bad_feed_is_a_problem_kept_and_retried_next_run(feeds, collector_run, body, words):
    sim, feed = feeds
    feed.raw = body
    run = _run(collector_run, sim, feed)
    assert run.error is None and run.of("PostsDone") == [] and run.of("Observed") == []
    assert any(words in p.message for p in run.of("Problem"))
    assert run.exchanges[0]["body"] == body  # the bytes go to the WARC as they came
    assert "conditional" not in run.ctx.checkpoint  # next run fetches the whole feed again


@pytest.mark.parametrize("body", [BILLION_LAUGHS, XXE])
def test_hostile_entities_are_never_expanded(feeds, collector_run, body):
    sim, feed = feeds
    feed.raw = body
    started = time.monotonic()
    run = _run(collector_run, sim, feed)
    assert time.monotonic() - started < 5  # no entity expansion
    [item] = run.items.values()
    assert item.platform_id == "1"
    native = repr(item.native)
    assert "lollol" not in native and "root:" not in native  # nothing expanded, no file read
    assert run.exchanges[0]["body"] == body


def test_atom_and_rdf_feeds():
    atom = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
      <entry><id>tag:x,2024:1</id><title type="html">A &amp;lt;b&amp;gt;</title>
      <link rel="self" href="https://x/self"/><link rel="alternate" href="https://x/1"/>
      <link rel="enclosure" href="https://x/1.jpg"/><updated>2024-03-31T22:30:00-05:00</updated>
      <author><name>Chief</name></author>
      <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Hi</p></div></content></entry></feed>"""
    [entry] = parse_feed(atom)
    assert entry["guid"] == "tag:x,2024:1" and entry["link"] == "https://x/1" and entry["author"] == "Chief"
    assert entry["title"] == "A &lt;b&gt;" and "<p>Hi</p>" in entry["content"].replace("html:", "")
    assert entry["enclosures"] == ["https://x/1.jpg"] and entry["published"] is None
    rdf = b"""<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
      xmlns:dc="http://purl.org/dc/elements/1.1/"><item rdf:about="https://x/a"><title>T</title>
      <description>D</description><dc:date>2024-03-01T10:00:00Z</dc:date><dc:creator>PIO</dc:creator></item></rdf:RDF>"""
    [entry] = parse_feed(rdf)
    # RSS 1.0's rdf:about is the item's identity (it was the link-derived identity before).
    assert entry["guid"] == "https://x/a" and entry["link"] is None and entry["updated"] == "2024-03-01T10:00:00Z"
    assert entry["author"] == "PIO"
    with pytest.raises(FeedError):
        parse_feed(b"")


def test_identity_falls_back_to_link_then_hash(replay, collector_run):
    sim = RssSimulator()
    replay.mount(sim)
    feed = sim.add_feed("f")
    feed.raw = (b'<rss version="2.0"><channel><item><title>A</title><link>https://x/a</link></item>'
                b"<item><title>B</title><pubDate>Fri, 01 Mar 2024 10:00:00 GMT</pubDate></item>"
                b"<item><guid>dup</guid><title>1</title></item><item><guid>dup</guid><title>2</title></item>"
                b"</channel></rss>")
    run = _run(collector_run, sim, feed)
    ids = [e.item.platform_id for e in run.of("Observed")]
    assert ids[0] == "https://x/a" and ids[1].startswith("sha256:") and ids[2:] == ["dup"]


def test_vanished_entry_is_never_confirmed_deleted(feeds, collector_run):
    sim, feed = feeds
    first = _run(collector_run, sim, feed)
    feed.keep = 2  # the feed truncates to its newest two entries
    second = _run(collector_run, sim, feed)
    assert "alert-0" not in second.items
    assert second.confirm_gone(first.items["alert-0"]) is False
    assert len(second.exchanges) == 1  # and nobody was asked: a feed cannot say "gone"


def test_throttle_then_success_and_missing_feed(feeds, replay, collector_run):
    sim, feed = feeds
    replay.inject(r"/pubs/feeds", 429, "slow down", {"Retry-After": "7"}, times=1)
    run = _run(collector_run, sim, feed)
    assert run.sleeps == [7.0] and len(run.of("PostsDone")) == 1
    gone = collector_run("rss", sim.base_url + "/no/such/feed", None, None, now=NOW)
    assert isinstance(gone.error, CollectError) and "HTTP 404" in str(gone.error)
    assert "test-rss" in str(gone.error) and "feed URL" in str(gone.error)


def test_three_nights_end_to_end(replay, make_config):
    sim = RssSimulator()
    replay.mount(sim)
    sample_world(sim, NOW - timedelta(days=1))
    cfg = make_config([{"name": "ocpd-nixle", **demo_account(sim)},
                       {"name": "ocpd-news", "platform": "rss",
                        "id": sim.feed_url(sim.feeds["city/police/news.atom"])}])
    settings, report = night(cfg, NOW)
    assert report.ok, report.results
    assert len(items(settings)) == 4
    next_night(sim, NOW + timedelta(hours=12))
    settings, report = night(cfg, NOW + timedelta(days=1))
    assert report.ok, report.results
    got = items(settings)
    assert got["nixle-alert-1001"]["status"] == "edited" and got["nixle-alert-1001"]["versions"] == 2
    assert version_texts(settings, "nixle-alert-1001")[1] == "<p>UPDATE: Main St has reopened.</p>"
    assert got["nixle-alert-1004"]["status"] == "live"
    assert got["nixle-alert-1003"]["text"] == "<p>Area is safe.</p>" + " ".join(HOSTILE)
    sim.feeds["pubs/feeds/latest/12345"].keep = 3  # the oldest alert falls off the feed
    settings, report = night(cfg, NOW + timedelta(days=2))
    assert report.ok and all(r.status == "ok" for r in report.results)
    assert items(settings) == got  # the vanished alert is not deleted; the Atom feed was a 304
    assert replay.log[-1][1].endswith("news.atom") and len(replay.requests_matching(r"news\.atom")) == 3
    db = open_index(settings.index_path)
    statuses = [r[0] for r in db.conn.execute(
        "SELECT http_status FROM records WHERE type = 'response' AND target_uri LIKE '%news.atom'")]
    assert sorted(statuses) == [200, 304, 304]


# -- feeds as they are in the wild (shapes from shared/realworld/rss) ---------------------------
WORDS = {"big5": "警察局通告", "gb2312": "警察局通告", "euc-kr": "경찰서 알림", "utf-16": "Ünïcode 警察 שלום 👩‍🚒",
         "windows-1252": "Café – résumé", "koi8-r": "Полиция"}


@pytest.mark.parametrize("encoding, declare, fmt", [
    ("utf-16", True, "rss"), ("utf-16", True, "atom"), ("big5", True, "rss"), ("gb2312", True, "atom"),
    ("euc-kr", False, "rss"),  # the charset only in the HTTP header
    ("windows-1252", False, "atom"), ("koi8-r", False, "rss"),
])
def test_feeds_in_other_encodings_are_read(replay, collector_run, encoding, declare, fmt):
    sim = RssSimulator()
    replay.mount(sim)
    feed = sim.add_feed("enc/feed", "Agency", format=fmt, encoding=encoding, declare=declare)
    feed.entries.append(FeedEntry("alert-1", WORDS[encoding], f"<p>{WORDS[encoding]}</p>", NOW, link="https://x/1"))
    run = _run(collector_run, sim, feed)
    assert run.error is None and run.of("Problem") == []
    [item] = run.items.values()
    assert item.native["title"] == WORDS[encoding] and item.text == f"<p>{WORDS[encoding]}</p>"
    assert run.exchanges[0]["body"] == sim.render(feed)[0]  # the WARC keeps the bytes as encoded


def test_charset_only_in_the_http_header_is_honoured(replay, collector_run):
    sim = RssSimulator()
    replay.mount(sim)
    # Without the header's charset the bytes would be taken for UTF-8 and the words garbled.
    feed = sim.add_feed("hdr/feed", format="rss", encoding="koi8-r", declare=False)
    feed.entries.append(FeedEntry("a", "Полиция", "Внимание", NOW))
    assert _run(collector_run, sim, feed).items["a"].native["title"] == "Полиция"
    feed.header_charset = None  # no charset anywhere: the words cannot be known
    assert _run(collector_run, sim, feed).items["a"].native["title"] != "Полиция"


def test_undeclared_entities_and_raw_ampersands_keep_the_whole_feed(replay, collector_run):
    sim = RssSimulator()
    replay.mount(sim)
    for fmt in ("rss", "atom"):
        feed = sim.add_feed(f"loose/{fmt}", "Police & Fire", format=fmt, loose=True)
        feed.entries += [FeedEntry("a", "Main St & 1st Ave closed", "<p>Detour via Oak\u00a0St & 2nd</p>", NOW),
                         FeedEntry("b", "Scam\u00a0calls", "<p>Hang up.</p>", NOW - timedelta(hours=1))]
        body = sim.render(feed)[0]
        assert b"&nbsp;" in body and b" & " in body  # not XML: a strict parser rejects all of it
        run = _run(collector_run, sim, feed)
        assert run.error is None and run.of("Problem") == [] and len(run.of("PostsDone")) == 1
        got = run.items
        assert got["a"].native["title"] == "Main St & 1st Ave closed"
        assert got["a"].text == "<p>Detour via Oak\u00a0St & 2nd</p>"
        assert got["b"].native["title"] == "Scam\u00a0calls"


def test_relative_links_and_enclosures_are_resolved_against_the_feed(replay, collector_run):
    sim = RssSimulator()
    replay.mount(sim)
    feed = sim.add_feed("city/feed.xml", "City", format="rss")
    feed.raw = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>c</title>'
                b'<item><guid isPermaLink="false">n-1</guid><title>t</title><link>/police/news/1</link>'
                b'<enclosure url="img/map.jpg" type="image/jpeg" length="1"/></item>'
                b'<item><guid>n-2</guid><title>u</title></item>'
                b'<item><guid>nixle:3</guid><title>v</title></item></channel></rss>')
    got = _run(collector_run, sim, feed).items
    origin = sim.base_url.rsplit("/", 1)[0]
    assert got["n-1"].url == f"{origin}/police/news/1"
    assert got["n-1"].media == [urljoin(sim.feed_url(feed), "img/map.jpg")]
    assert got["n-2"].url is None  # a guid that is not a URL is no link, resolved or not
    assert got["nixle:3"].url is None
    atom = sim.add_feed("city/news.atom", "City", format="atom")
    atom.raw = (b'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://example.gov/police/">'
                b'<entry><id>tag:e,2024:1</id><title>t</title><link href="news/7"/></entry>'
                b'<entry xml:base="/other/"><id>tag:e,2024:2</id><title>t</title><link href="8"/></entry></feed>')
    got = _run(collector_run, sim, atom).items
    assert got["tag:e,2024:1"].url == "https://example.gov/police/news/7"
    assert got["tag:e,2024:2"].url == "https://example.gov/other/8"


def test_atom_xhtml_content_is_kept_as_markup():
    atom = ('<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>tag:e,2024:1</id><title>t</title>'
            '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p class="lead">Calls were '
            '<b>down</b> 4% &amp; <a href="/stats">details</a> \u05e9\u05dc\u05d5\u05dd</p></div></content>'
            '</entry></feed>').encode()
    [entry] = parse_feed(atom, {}, "https://example.gov/feed")
    # The feed's own markup: no namespace prefixes (ns0:, html:), the relative href untouched.
    assert entry["content"] == ('<p class="lead">Calls were <b>down</b> 4% &amp; <a href="/stats">details</a> '
                                '\u05e9\u05dc\u05d5\u05dd</p>')


def test_identity_is_the_guid_as_written_and_stable_across_nights_and_encodings(replay, collector_run):
    sim = RssSimulator()
    replay.mount(sim)
    feed = sim.add_feed("stable/feed", "Agency", format="rss")
    # A permalink guid that is not a URL: a reader resolving it against the feed URL would make
    # the identity depend on where the feed is served from.
    doc = ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>a</title>'
           '<item><guid>12345</guid><title>警察局</title><description>d</description></item>'
           '<item><guid>  https://x/2  </guid><title>b</title></item></channel></rss>')
    feed.raw = doc.encode("utf-8")
    first = _run(collector_run, sim, feed)
    feed.raw = doc.replace('encoding="UTF-8"', 'encoding="BIG5"').encode("big5")
    second = _run(collector_run, sim, feed)
    assert sorted(first.items) == sorted(second.items) == ["12345", "https://x/2"]
    for key in first.items:  # the same words in another encoding are not a new version
        assert first.items[key].version_hash() == second.items[key].version_hash()


def test_a_feed_cut_mid_token_is_a_problem_but_a_bad_reference_mid_feed_is_not():
    with pytest.raises(FeedError, match="ends before"):
        parse_feed(b'<rss version="2.0"><channel><item><guid>1</guid></item>\n<item><guid>2</guid><title>a &am')
    [one, two] = parse_feed(b'<rss version="2.0"><channel><item><guid>1</guid><title>&#x;</title></item>\n'
                            b'<item><guid>2</guid></item></channel></rss>\n')
    assert (one["guid"], two["guid"]) == ("1", "2")


def test_description_and_content_are_each_what_the_feed_gave():
    [atom] = parse_feed(b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>x</id>'
                        b'<content type="html">&lt;p&gt;c&lt;/p&gt;</content></entry></feed>')
    assert atom["content"] == "<p>c</p>" and atom["description"] is None  # no summary in the feed
    [rss] = parse_feed(b'<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
                       b'<item><guid>x</guid><content:encoded><![CDATA[<p>full</p>]]></content:encoded>'
                       b'<description>short</description></item></channel></rss>')
    assert (rss["content"], rss["description"]) == ("<p>full</p>", "short")


def test_enclosures_on_another_origin_are_fetched_and_indexed_at_their_url(replay, make_config):
    from archiver.replay import ReplayServer

    sim = RssSimulator()
    replay.mount(sim)
    with ReplayServer() as cdn_server:  # the agency's CDN: another port, another origin
        cdn = RssSimulator()
        cdn_server.mount(cdn)
        feed = sim.add_feed("f", "Agency", media_base=cdn.base_url)
        feed.entries.append(FeedEntry("a", "Map", "<p>see map</p>", NOW, enclosure="map?sig=a%7eb%2Fc+d"))
        cfg = make_config([{"name": "feed", "platform": "rss", "id": sim.feed_url(feed)}])
        settings, report = night(cfg, NOW)
        assert report.ok, report.results
        url = sim.media_url("map?sig=a%7eb%2Fc+d", feed)
        assert url.startswith(cdn.base_url) and len(cdn_server.requests_matching(r"/media/map")) == 1
    rows = open_index(settings.index_path).conn.execute("SELECT url, status FROM media").fetchall()
    assert rows == [(url, "fetched")]  # as the feed wrote it: %7e, %2F and + kept
