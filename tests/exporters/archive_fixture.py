"""A small but real archive for exporter tests and the export benchmark.

Writes genuine WARC/1.1 records with warcio (one gzip member each) into a LocalStore,
registers them in ``objects``/``records`` and fills ``items``/``versions``/``media``/
``events`` of a real SQLite index the way ingest does, so the exporters read exactly
what they read in production: rows from the index, bytes from the store by
(object_key, offset, length).

The content is deliberately hostile in places: a comment with <script>, RTL and
zero-width text, an emoji ZWJ sequence, a phone number to redact, an edited comment
with two versions, a hidden and a deleted comment, an SVG "image" carrying script.
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
                  start: datetime | None = None, agency: str = "Oak Creek Police Department") -> Fixture:
    """``threads`` posts, each with ``comments`` comments (every third has a reply)."""
    root.mkdir(parents=True, exist_ok=True)
    start = start or datetime(2024, 3, 1, 15, 0, tzinfo=timezone.utc)
    store = LocalStore(root / "store")
    fx = Fixture(root=root, index_path=root / "index.db", store=store)
    db = open_index(fx.index_path)
    warc = _Warc()
    warc.info(agency)
    captured = iso(start + timedelta(days=40))
    items, versions, media, events = [], [], [], []

    def add(pid, kind, parent, post_pid, author, text, created, status="live", texts=None, media_blobs=()):
        iid = item_id("facebook", account, pid)
        native = {"id": pid, "message": text, "created_time": created.strftime("%Y-%m-%dT%H:%M:%S+0000"),
                  "from": {"id": f"u-{author}", "name": author}}
        body = json.dumps(native, ensure_ascii=False).encode("utf-8")
        rid = warc.response(f"{API}/{pid}?fields=id,message", body, "application/json", captured)
        rowid = len(items) + 1
        all_texts = texts or [text]
        items.append({
            "rowid": rowid, "id": iid, "account": account, "platform": "facebook", "platform_id": pid,
            "kind": kind, "parent": parent, "root": post_pid, "author": author, "author_id": f"u-{author}",
            "is_department": 1 if kind == "post" else 0, "text": all_texts[-1], "created_at": iso(created),
            "url": f"https://www.facebook.com/{pid}", "status": status, "status_at": captured,
            "hidden": 1 if status == "hidden" else 0, "versions": len(all_texts), "first_seen": captured,
            "last_seen": captured, "has_media": 1 if media_blobs else 0, "counts": "{}", "record_id": rid,
        })
        for n, vtext in enumerate(all_texts, 1):
            vnative = dict(native, message=vtext)
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

    key = f"warc/{account}/fixture-{start:%Y%m%d}.warc.gz"
    spool = root / "spool.warc.gz"
    spool.write_bytes(warc.buf.getvalue())
    digest, size = sha256_file(spool)
    store.put(key, spool, digest)
    with transaction(db):
        db["accounts"].insert({"name": account, "platform": "facebook", "platform_account_id": "1000001"},
                              replace=True)
        db["objects"].insert({"key": key, "account": account, "sha256": digest, "size": size,
                              "stored_at": captured, "first_date": captured, "last_date": captured})
        db["records"].insert_all([dict(r, object_key=key) for r in warc.rows])
        db["items"].insert_all(items)
        db["versions"].insert_all(versions)
        db["media"].insert_all(media)
        db["events"].insert_all(events)
    db.conn.close()
    return fx
