"""A small but real archive for exporter tests and the export benchmark.

Writes genuine WARC/1.1 records with warcio (one gzip member each) into a LocalStore,
registers them in ``objects``/``records`` and fills ``items``/``versions``/``media``/
``events`` of a real SQLite index the way ingest does, so the exporters read exactly
what they read in production: rows from the index, bytes from the store by
(object_key, offset, length).

The content is deliberately hostile in places: a comment with <script>, RTL and
zero-width text, an emoji ZWJ sequence, a phone number to redact, an edited comment
with two versions, a hidden and a deleted comment, an SVG "image" carrying script.

With ``platforms=True`` it adds one thread per platform in that platform's own JSON shape
(platforms.md; the recorded responses in shared/realworld): Mastodon HTML ``content`` with
entities and an h-card @mention, YouTube ``textDisplay`` HTML beside ``textOriginal``, an X
post whose whole text is only in ``note_tweet``, Bluesky DID authors and at:// ids — each
with one person (``PERSON``) to redact by author and a department reply that mentions them.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.index import item_id, open_index, transaction
from archiver.store import LocalStore, sha256_file
from archiver.timefmt import iso

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> شرطة\u200f\u200b 👮\u200d♀️'
PHONE = "414-555-0100"
API = "http://127.0.0.1:9/v21.0"


def tiny_png(seed: int = 0) -> bytes:
    """A valid 2x2 PNG (different bytes per seed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes([seed % 256, 80, 160] * 2) for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@dataclass
class Fixture:
    root: Path
    index_path: Path
    store: LocalStore
    items: list[str] = field(default_factory=list)  # archive ids
    threads: list[tuple[str, str]] = field(default_factory=list)  # (account, root)
    hostile_item: str | None = None
    phone_item: str | None = None

    platform_items: dict[str, str] = field(default_factory=dict)  # role -> archive id

    def db(self):
        return open_index(self.index_path)


class _Warc:
    """Appends records to one gzip WARC and remembers (offset, length) of each."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.writer = WARCWriter(self.buf, gzip=True, warc_version="1.1")
        self.rows: list[dict] = []

    def write(self, record, http_status=None) -> str:
        start = self.buf.tell()
        self.writer.write_record(record)
        h = record.rec_headers
        rid = h.get_header("WARC-Record-ID")
        self.rows.append({
            "record_id": rid, "offset": start, "length": self.buf.tell() - start,
            "type": h.get_header("WARC-Type"), "target_uri": h.get_header("WARC-Target-URI"),
            "date": h.get_header("WARC-Date"), "payload_digest": h.get_header("WARC-Payload-Digest"),
            "content_type": record.http_headers.get_header("Content-Type") if record.http_headers else None,
            "http_status": http_status, "refers_to": h.get_header("WARC-Refers-To"),
        })
        return rid

    def info(self, agency: str) -> str:
        rec = self.writer.create_warcinfo_record("fixture.warc.gz", {"operator": agency, "software": "fixture"})
        return self.write(rec)

    def response(self, uri: str, body: bytes, ctype: str, date: str) -> str:
        http = StatusAndHeaders("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body)))],
                                protocol="HTTP/1.1")
        rec = self.writer.create_warc_record(uri, "response", payload=io.BytesIO(body), http_headers=http,
                                             warc_headers_dict={"WARC-Date": date})
        return self.write(rec, 200)


def build_archive(root: Path, *, threads: int = 3, comments: int = 4, account: str = "ocpd-facebook",
                  start: datetime | None = None, agency: str = "Oak Creek Police Department",
                  platforms: bool = False) -> Fixture:
    """``threads`` posts, each with ``comments`` comments (every third has a reply); with
    ``platforms`` also one hostile thread per platform (``_platform_threads``)."""
    root.mkdir(parents=True, exist_ok=True)
    start = start or datetime(2024, 3, 1, 15, 0, tzinfo=timezone.utc)
    store = LocalStore(root / "store")
    fx = Fixture(root=root, index_path=root / "index.db", store=store)
    db = open_index(fx.index_path)
    warc = _Warc()
    warc.info(agency)
    captured = iso(start + timedelta(days=40))
    items, versions, media, events = [], [], [], []

    def add(pid, kind, parent, post_pid, author, text, created, status="live", texts=None, media_blobs=(),
            platform="facebook", account=account, natives=None, author_id=None, url=None):
        """One item; ``natives`` (one platform JSON per version) for a platform other than
        Graph, whose shape ``native``/``message`` is built here."""
        iid = item_id(platform, account, pid)
        native = {"id": pid, "message": text, "created_time": created.strftime("%Y-%m-%dT%H:%M:%S+0000"),
                  "from": {"id": f"u-{author}", "name": author}}
        if natives:
            native = natives[-1]
        body = json.dumps(native, ensure_ascii=False).encode("utf-8")
        rid = warc.response(f"{API}/{pid}?fields=id,message", body, "application/json", captured)
        rowid = len(items) + 1
        all_texts = texts or [text]
        items.append({
            "rowid": rowid, "id": iid, "account": account, "platform": platform, "platform_id": pid,
            "kind": kind, "parent": parent, "root": post_pid, "author": author,
            "author_id": author_id if natives else f"u-{author}",
            "is_department": 1 if kind == "post" or author in (agency, *DEPARTMENT_AUTHORS) else 0, "text": all_texts[-1], "created_at": iso(created),
            "url": url or f"https://www.facebook.com/{pid}", "status": status, "status_at": captured,
            "hidden": 1 if status == "hidden" else 0, "versions": len(all_texts), "first_seen": captured,
            "last_seen": captured, "has_media": 1 if media_blobs else 0, "counts": "{}", "record_id": rid,
        })
        for n, vtext in enumerate(all_texts, 1):
            vnative = natives[n - 1] if natives else dict(native, message=vtext)
            versions.append({
                "item_rowid": rowid, "n": n, "hash": hashlib.sha256(vtext.encode("utf-8")).hexdigest(),
                "text": vtext, "content": json.dumps({"message": vtext}), "native": json.dumps(vnative, ensure_ascii=False),
                "first_seen": iso(start + timedelta(days=40 + n)), "last_seen": captured, "record_id": rid,
            })
        events.append({"item_rowid": rowid, "at": captured, "event": "new", "record_id": rid})
        if len(all_texts) > 1:
            events.append({"item_rowid": rowid, "at": iso(start + timedelta(days=42)), "event": "edited"})
        if status in ("hidden", "deleted"):
            events.append({"item_rowid": rowid, "at": iso(start + timedelta(days=43)), "event": status})
        for k, (blob, ctype) in enumerate(media_blobs):
            url = f"http://127.0.0.1:9/media/{pid}-{k}"
            mrid = warc.response(url, blob, ctype, captured)
            media.append({"item_rowid": rowid, "version_n": len(all_texts), "url": url, "record_id": mrid,
                          "payload_digest": warc.rows[-1]["payload_digest"], "content_type": ctype,
                          "size": len(blob), "status": "fetched"})
        fx.items.append(iid)
        return iid

    for t in range(threads):
        when = start + timedelta(days=t % 28, hours=t % 5)
        post = f"1000001_{t}"
        fx.threads.append((account, post))
        add(post, "post", None, post, agency, f"Traffic advisory {t}: Howell Ave closed.\nDetour via 27th St.",
            when, media_blobs=[(tiny_png(t), "image/png")] + ([(SVG, "image/svg+xml")] if t == 0 else []))
        for c in range(comments):
            cid = f"{post}_c{c}"
            ctime = when + timedelta(minutes=10 * (c + 1))
            if c == 0 and t == 0:
                fx.hostile_item = add(cid, "comment", post, post, "Mallory", HOSTILE, ctime)
            elif c == 1 and t == 0:
                fx.phone_item = add(cid, "comment", post, post, "Alice Example",
                                    f"Call me at {PHONE} about the crash", ctime, status="edited",
                                    texts=["first text before the edit", f"Call me at {PHONE} about the crash"])
            elif c == 2:
                add(cid, "comment", post, post, "Bob", f"Hidden remark {t}", ctime, status="hidden")
            elif c == 3:
                add(cid, "comment", post, post, "Carol", f"Deleted remark {t}", ctime, status="deleted")
            else:
                add(cid, "comment", post, post, f"Resident {c}", f"Comment {c} on post {t}", ctime)
            if c % 3 == 0:
                add(f"{cid}_r", "reply", cid, post, agency, f"Reply to comment {c}", ctime + timedelta(minutes=3))

    if platforms:
        _platform_threads(fx, add, start)

    key = f"warc/{account}/fixture-{start:%Y%m%d}.warc.gz"
    spool = root / "spool.warc.gz"
    spool.write_bytes(warc.buf.getvalue())
    digest, size = sha256_file(spool)
    store.put(key, spool, digest)
    with transaction(db):
        db["accounts"].insert({"name": account, "platform": "facebook", "platform_account_id": "1000001"},
                              replace=True)
        for name, platform, pid in PLATFORM_ACCOUNTS if platforms else ():
            db["accounts"].insert({"name": name, "platform": platform, "platform_account_id": pid}, replace=True)
        db["objects"].insert({"key": key, "account": account, "sha256": digest, "size": size,
                              "stored_at": captured, "first_date": captured, "last_date": captured})
        db["records"].insert_all([dict(r, object_key=key) for r in warc.rows])
        # Items, versions, media and events name a record by its key; an item's "new" event is its first sighting.
        keys = dict(db.conn.execute("SELECT record_id, id FROM records"))

        def keyed(rows):
            return [{**{k: v for k, v in r.items() if k != "record_id"}, "record": keys.get(r.get("record_id"))}
                    for r in rows]
        db["items"].insert_all(keyed(items))
        db["versions"].insert_all(keyed(versions))
        db["media"].insert_all(keyed(media))
        db["events"].insert_all(keyed(e for e in events if e["event"] != "new"))
    db.conn.close()
    return fx


# -- one hostile thread per platform -------------------------------------------------------
# The person a records officer redacts by author, in every form the platforms give a person.
PERSON = {
    "mastodon": {"id": "109000000000000027", "username": "driver27", "acct": "driver27@other.example",
                 "display_name": "Dana Driver 🚗", "url": "https://other.example/@driver27",
                 "avatar": "https://other.example/system/accounts/avatars/109000000000000027.png"},
    "youtube": {"authorDisplayName": "@danadrives", "authorChannelUrl": "http://www.youtube.com/@danadrives",
                "authorChannelId": {"value": "UCd4n4Dr1v3sXyZ0123456789"},
                "authorProfileImageUrl": "https://yt3.ggpht.example/UCd4n4Dr1v3sXyZ0123456789=s48"},
    "x": {"id": "1456789012345678901", "username": "dana_x27", "name": "Dana X. Driver"},
    "bluesky": {"did": "did:plc:d4n4dr1v3r27abcdefghijk", "handle": "dana27.bsky.social",
                "displayName": "Dana Bsky"},
}
XSS = "alert('xss')"  # archived as alert(&#x27;xss&#x27;) / alert(&#39;xss&#39;) in HTML fields
NOTE_ONLY = "12 Elm Street"  # in an X post's note_tweet only: its cut ``text`` does not have it
PRIVILEGED = "Advice from the city attorney about the claim"
DEPARTMENT_AUTHORS = ("oakcreekpd", "@oakcreekpd", "Oak Creek PD", "oakcreekpd.bsky.social")
PLATFORM_ACCOUNTS = [("ocpd-mastodon", "mastodon", "109000000000000001"), ("ocpd-youtube", "youtube", "UCocpd"),
                     ("ocpd-x", "x", "1400000000000000001"), ("ocpd-bluesky", "bluesky", "did:plc:ocpd")]
DEPT_MASTODON = {"id": "109000000000000001", "username": "oakcreekpd", "acct": "oakcreekpd",
                 "display_name": "Oak Creek PD", "url": "https://mastodon.example/@oakcreekpd"}


def _platform_threads(fx: Fixture, add, start: datetime) -> None:
    when = start + timedelta(days=5, hours=2)
    t = lambda minutes: when + timedelta(minutes=minutes)  # noqa: E731
    stamp = lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.000Z")  # noqa: E731
    roles = fx.platform_items

    # Mastodon: content is HTML; the comment was edited (v1 without the XSS text).
    m, person = "ocpd-mastodon", PERSON["mastodon"]
    post = {"id": "111000000000000001", "in_reply_to_id": None, "account": DEPT_MASTODON,
            "content": "<p>Crash at Howell &amp; Rawson.</p><p>Avoid the area; see "
                       '<a href="https://www.oakcreekwi.gov/traffic" rel="nofollow noopener" target="_blank">'
                       '<span class="invisible">https://www.</span><span class="">oakcreekwi.gov/traffic</span>'
                       '<span class="invisible"></span></a></p>',
            "created_at": stamp(t(0)), "url": "https://mastodon.example/@oakcreekpd/111000000000000001",
            "media_attachments": [], "mentions": [], "card": None}
    comment_html = ("<p>I saw it: alert(&#x27;xss&#x27;) &lt;script&gt;alert(1)&lt;/script&gt; near "
                    '<a href="https://maps.example/?q=12%20Elm%20Street" rel="nofollow">my house</a></p>'
                    "<p>\u0634\u0631\u0637\u0629\u200f second\u200b paragraph \U0001f46e\u200d\u2640\ufe0f</p>")
    comment_v1 = dict(post, id="111000000000000002", in_reply_to_id=post["id"], account=person,
                      content="<p>I saw it happen</p>", created_at=stamp(t(5)),
                      url="https://other.example/@driver27/111000000000000002",
                      media_attachments=[{"type": "image", "description": "photo sent by Dana Driver",
                                          "url": "https://other.example/media/1.png"}],
                      card={"title": "Dana Driver on the crash", "description": "a post by driver27"})
    comment = dict(comment_v1, content=comment_html)
    reply = dict(post, id="111000000000000003", in_reply_to_id=comment["id"],
                 in_reply_to_account_id=person["id"], created_at=stamp(t(9)),
                 content='<p><span class="h-card" translate="no"><a href="https://other.example/@driver27" '
                         'class="u-url mention">@<span>driver27</span></a></span> yes, officers are there</p>',
                 mentions=[{"id": person["id"], "username": "driver27", "acct": person["acct"],
                            "url": person["url"]}],
                 url="https://mastodon.example/@oakcreekpd/111000000000000003")
    fx.threads.append((m, post["id"]))
    add(post["id"], "post", None, post["id"], "oakcreekpd", post["content"], t(0), platform="mastodon",
        account=m, natives=[post], author_id=DEPT_MASTODON["id"], url=post["url"])
    roles["mastodon_comment"] = add(
        comment["id"], "comment", post["id"], post["id"], person["acct"], comment_html, t(5), status="edited",
        texts=[comment_v1["content"], comment_html], platform="mastodon", account=m,
        natives=[comment_v1, comment], author_id=person["id"], url=comment["url"])
    roles["mastodon_reply"] = add(reply["id"], "reply", comment["id"], post["id"], "oakcreekpd", reply["content"],
                                  t(9), platform="mastodon", account=m, natives=[reply],
                                  author_id=DEPT_MASTODON["id"], url=reply["url"])

    # YouTube: the index keeps textOriginal; textDisplay (HTML, entities) stays in the native.
    y, person = "ocpd-youtube", PERSON["youtube"]
    video = {"kind": "youtube#video", "id": "vid0000001",
             "snippet": {"title": "Winter driving tips", "description": "From the traffic unit.",
                         "channelTitle": "Oak Creek PD", "channelId": "UCocpd", "publishedAt": stamp(t(0))}}
    ycomment = {"kind": "youtube#comment", "id": "UgzC0mment1",
                "snippet": dict(person, videoId=video["id"], publishedAt=stamp(t(6)),
                                textOriginal=f"Thanks! {XSS} <b>bold?</b>",
                                textDisplay="Thanks! alert(&#39;xss&#39;) &lt;b&gt;bold?&lt;/b&gt;")}
    yreply = {"kind": "youtube#comment", "id": "UgzC0mment1.r1",
              "snippet": {"authorDisplayName": "@oakcreekpd", "authorChannelId": {"value": "UCocpd"},
                          "parentId": "UgzC0mment1", "publishedAt": stamp(t(8)),
                          "textOriginal": "@danadrives you are welcome",
                          "textDisplay": '<a href="http://www.youtube.com/channel/UCd4n4Dr1v3sXyZ0123456789">'
                                         "@danadrives</a> you are welcome"}}
    fx.threads.append((y, video["id"]))
    add(video["id"], "post", None, video["id"], "Oak Creek PD", "Winter driving tips\n\nFrom the traffic unit.",
        t(0), platform="youtube", account=y, natives=[video], author_id="UCocpd",
        url=f"https://www.youtube.com/watch?v={video['id']}")
    roles["youtube_comment"] = add(
        ycomment["id"], "comment", video["id"], video["id"], person["authorDisplayName"],
        ycomment["snippet"]["textOriginal"], t(6), platform="youtube", account=y, natives=[ycomment],
        author_id=person["authorChannelId"]["value"],
        url=f"https://www.youtube.com/watch?v={video['id']}&lc={ycomment['id']}")
    roles["youtube_reply"] = add(
        yreply["id"], "reply", ycomment["id"], video["id"], "@oakcreekpd", yreply["snippet"]["textOriginal"], t(8),
        platform="youtube", account=y, natives=[yreply], author_id="UCocpd",
        url=f"https://www.youtube.com/watch?v={video['id']}&lc={yreply['id']}")

    # X: a long post's whole text is only in note_tweet; ``text`` is cut at 280 characters.
    x, person = "ocpd-x", PERSON["x"]
    tweet = {"id": "1800000000000000001", "author_id": "1400000000000000001", "conversation_id": "1800000000000000001",
             "text": "Road closure on Drexel Ave tonight.", "created_at": stamp(t(0))}
    long_text = "Complaint: " + "the detour signs are confusing. " * 9 + f"Reach me at {NOTE_ONLY}."
    xcomment = {"id": "1800000000000000002", "author_id": person["id"], "conversation_id": tweet["id"],
                "in_reply_to_user_id": "1400000000000000001", "created_at": stamp(t(4)),
                "text": long_text[:277] + "…", "note_tweet": {"text": long_text},
                "referenced_tweets": [{"type": "replied_to", "id": tweet["id"]}]}
    xreply = {"id": "1800000000000000003", "author_id": "1400000000000000001", "conversation_id": tweet["id"],
              "in_reply_to_user_id": person["id"], "created_at": stamp(t(7)),
              "text": f"@{person['username']} thanks, we will fix the signs",
              "entities": {"mentions": [{"start": 0, "end": 9, "username": person["username"], "id": person["id"]}]},
              "referenced_tweets": [{"type": "replied_to", "id": xcomment["id"]}]}
    xprivileged = {"id": "1800000000000000004", "author_id": "1400000000000000001", "conversation_id": tweet["id"],
                   "created_at": stamp(t(11)), "text": PRIVILEGED,
                   "referenced_tweets": [{"type": "replied_to", "id": xcomment["id"]}]}
    fx.threads.append((x, tweet["id"]))
    add(tweet["id"], "post", None, tweet["id"], "oakcreekpd", tweet["text"], t(0), platform="x", account=x,
        natives=[tweet], author_id=tweet["author_id"], url=f"https://x.com/oakcreekpd/status/{tweet['id']}")
    roles["x_comment"] = add(xcomment["id"], "comment", tweet["id"], tweet["id"], person["username"],
                             xcomment["text"], t(4), platform="x", account=x, natives=[xcomment],
                             author_id=person["id"], url=f"https://x.com/{person['username']}/status/{xcomment['id']}")
    roles["x_reply"] = add(xreply["id"], "reply", xcomment["id"], tweet["id"], "oakcreekpd", xreply["text"], t(7),
                           platform="x", account=x, natives=[xreply], author_id=tweet["author_id"],
                           url=f"https://x.com/oakcreekpd/status/{xreply['id']}")
    roles["x_privileged"] = add(xprivileged["id"], "reply", xcomment["id"], tweet["id"], "oakcreekpd", PRIVILEGED,
                                t(11), platform="x", account=x, natives=[xprivileged], author_id=tweet["author_id"],
                                url=f"https://x.com/oakcreekpd/status/{xprivileged['id']}")

    # Bluesky: ids are at:// URIs that carry the author's DID; the reply's parent is one.
    b, person = "ocpd-bluesky", PERSON["bluesky"]
    dept = {"did": "did:plc:ocpd", "handle": "oakcreekpd.bsky.social", "displayName": "Oak Creek PD"}
    root_uri = "at://did:plc:ocpd/app.bsky.feed.post/3kpost000001"
    c_uri = f"at://{person['did']}/app.bsky.feed.post/3kcomment0001"
    r_uri = "at://did:plc:ocpd/app.bsky.feed.post/3kreply000001"
    bpost = {"uri": root_uri, "cid": "bafy1", "author": dept, "indexedAt": stamp(t(0)),
             "record": {"$type": "app.bsky.feed.post", "text": "Lane closures on 27th St.", "createdAt": stamp(t(0))}}
    bcomment = {"uri": c_uri, "cid": "bafy2", "author": person, "indexedAt": stamp(t(3)),
                "record": {"$type": "app.bsky.feed.post", "createdAt": stamp(t(3)),
                           "text": f"{XSS} \u202eevil\u202c zero\u200bwidth; ask dri\u200bver27 too",
                           "reply": {"root": {"uri": root_uri}, "parent": {"uri": root_uri}},
                           "embed": {"$type": "app.bsky.embed.images",
                                     "images": [{"alt": "my car, plate DANA27"}]}}}
    breply = {"uri": r_uri, "cid": "bafy3", "author": dept, "indexedAt": stamp(t(6)),
              "record": {"$type": "app.bsky.feed.post", "createdAt": stamp(t(6)),
                         "text": f"@{person['handle']} thank you",
                         "facets": [{"index": {"byteStart": 0, "byteEnd": 19},
                                     "features": [{"$type": "app.bsky.richtext.facet#mention", "did": person["did"]}]}],
                         "reply": {"root": {"uri": root_uri}, "parent": {"uri": c_uri}}}}
    fx.threads.append((b, root_uri))
    add(root_uri, "post", None, root_uri, dept["handle"], bpost["record"]["text"], t(0), platform="bluesky",
        account=b, natives=[bpost], author_id=dept["did"],
        url="https://bsky.app/profile/oakcreekpd.bsky.social/post/3kpost000001")
    roles["bluesky_comment"] = add(c_uri, "comment", root_uri, root_uri, person["handle"],
                                   bcomment["record"]["text"], t(3), platform="bluesky", account=b,
                                   natives=[bcomment], author_id=person["did"],
                                   url=f"https://bsky.app/profile/{person['handle']}/post/3kcomment0001")
    roles["bluesky_reply"] = add(r_uri, "reply", c_uri, root_uri, dept["handle"], breply["record"]["text"], t(6),
                                 platform="bluesky", account=b, natives=[breply], author_id=dept["did"],
                                 url="https://bsky.app/profile/oakcreekpd.bsky.social/post/3kreply000001")
