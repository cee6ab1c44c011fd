"""Web UI fixtures: a real archive (the demo department, captured from a local replay into a
local store and index), one user per role, a settable clock, and helpers to log in."""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.config import load_settings
from archiver.demo import run_demo
from archiver.index import open_index
from archiver.store import open_store
from archiver.web import create_app
from archiver.web.users import ROLES, add_user

PASSWORD = "correct horse battery staple"


class Clock:
    def __init__(self):
        self.now = datetime.now(timezone.utc)

    def __call__(self):
        return self.now

    def advance(self, **kw):
        self.now += timedelta(**kw)


@pytest.fixture(scope="session")
def archive(tmp_path_factory):
    """The demo archive (two nights: an edit, a hidden <script> comment, a deleted onerror
    comment, media) plus one user per role and an SVG/HTML media item for hostile-type tests."""
    work = tmp_path_factory.mktemp("web") / "archive"
    run_demo(work, io.StringIO())
    settings = load_settings(work / "archiver.toml", environ={})
    db = open_index(settings.index_path)
    for role in ROLES:
        add_user(db, role, role, PASSWORD)
    add_hostile_media(settings, db)
    add_hostile_comment(db)
    return settings


HOSTILE_TEXT = ("<script>document.title='pwned';window.__xss_ran=1</script>"
                "<img src=x onerror=\"document.title='pwned2';window.__xss_ran=2\">"
                "<svg onload=\"window.__xss_ran=3\"></svg> \u202eRTL\u200d👩‍👩‍👧")


def add_hostile_comment(db) -> None:
    """A comment whose text would change the page title and set a global if it ever ran."""
    post = db.conn.execute("SELECT account, platform, platform_id, created_at FROM items WHERE kind = 'post' "
                           "ORDER BY rowid LIMIT 1").fetchone()
    db.conn.execute(
        "INSERT INTO items (id, account, platform, platform_id, kind, parent, root, author, text, created_at, "
        "status, first_seen, last_seen) VALUES ('mallory000000001', ?, ?, 'mallory-1', 'comment', ?, ?, 'Mallory', ?, ?, "
        "'live', ?, ?)", (post[0], post[1], post[2], post[2], HOSTILE_TEXT, post[3], post[3], post[3]))


def add_hostile_media(settings, db) -> None:
    """Attach a real PNG, an SVG with a script and an HTML page to the first post, as WARC records."""
    rowid = db.conn.execute("SELECT rowid FROM items WHERE kind = 'post' ORDER BY rowid LIMIT 1").fetchone()[0]
    bodies = {
        "image/png": tiny_png(),
        "image/svg+xml": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "text/html": b"<html><script>alert(2)</script></html>",
    }
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    spans = []
    for ctype, body in bodies.items():
        http = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
        rec = writer.create_warc_record(f"https://cdn.example/{uuid.uuid4().hex}", "response",
                                        payload=io.BytesIO(body), http_headers=http)
        start = buf.tell()
        writer.write_record(rec)
        spans.append((ctype, rec.rec_headers.get_header("WARC-Record-ID"), start, buf.tell() - start))
    path = Path(settings.index_path).parent / "hostile.warc.gz"
    path.write_bytes(buf.getvalue())
    digest = hashlib.sha256(buf.getvalue()).hexdigest()
    key = "test/hostile.warc.gz"
    open_store(settings).put(key, path, digest)
    db.conn.execute("INSERT INTO objects (key, sha256, size, stored_at) VALUES (?, ?, ?, '2024-01-01T00:00:00Z')",
                    (key, digest, len(buf.getvalue())))
    for n, (ctype, record_id, start, length) in enumerate(spans):
        record = db.conn.execute("INSERT INTO records (record_id, object_key, offset, length, type, content_type) "
                                 "VALUES (?, ?, ?, ?, 'response', ?)", (record_id, key, start, length, ctype)).lastrowid
        db.conn.execute("INSERT INTO media (item_rowid, version_n, url, record, content_type, size, status) "
                        "VALUES (?, 1, ?, ?, ?, 10, 'fetched')", (rowid, f"https://cdn.example/{n}", record, ctype))


def tiny_png(size: int = 24) -> bytes:
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + b"\x1f\x3a\x5f" * size for _ in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(archive, clock):
    app = create_app(archive, now=clock, environ={"ARCHIVER_WEB_SECRET": "test-secret-key"})
    app.config["TESTING"] = True
    return app


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def login(client, name: str, password: str = PASSWORD):
    page = client.get("/login")
    return client.post("/login", data={"csrf_token": csrf_of(page.get_data(as_text=True)),
                                        "name": name, "password": password})


@pytest.fixture
def as_role(app):
    """``as_role("legal")`` -> a test client logged in with that role."""
    def make(role: str):
        client = app.test_client()
        assert login(client, role).status_code == 302
        return client
    return make


def item_id(settings, where: str) -> str:
    db = open_index(settings.index_path)
    return db.conn.execute(f"SELECT id FROM items WHERE {where} LIMIT 1").fetchone()[0]


@pytest.fixture
def web():
    """The helpers above, for test modules (conftest is not importable by name)."""
    import types

    return types.SimpleNamespace(PASSWORD=PASSWORD, csrf_of=csrf_of, login=login, item_id=item_id)
