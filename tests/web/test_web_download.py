"""CSV/JSON downloads of a large result set stream: memory stays flat while tens of MB go out."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc

import pytest

from archiver.config import load_settings
from archiver.index import open_index
from archiver.web import create_app
from archiver.web.users import add_user

ITEMS = 20_000
TEXT = "word " * 400  # 2 kB per item: about 40 MB of text in the result set


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    work = tmp_path_factory.mktemp("big")
    (work / "archiver.toml").write_text(f'[index]\npath = "{work / "index.db"}"\n[storage]\nurl = "{work / "store"}"\n')
    settings = load_settings(work / "archiver.toml", environ={})
    db = open_index(settings.index_path)
    db.conn.execute("BEGIN")
    db.conn.executemany(
        "INSERT INTO items (id, account, platform, platform_id, kind, root, author, text, created_at, status,"
        " first_seen, last_seen) VALUES (?, 'acct', 'facebook', ?, 'post', ?, 'Author', ?, ?, 'live', ?, ?)",
        [(f"big{n:08d}", str(n), str(n), f"{n} {TEXT}", f"2024-03-{1 + n % 28:02d}T12:00:{n % 60:02d}Z",
          "2024-04-01T00:00:00Z", "2024-04-01T00:00:00Z") for n in range(ITEMS)])
    db.conn.execute("COMMIT")
    add_user(db, "counsel", "legal", "correct horse battery staple")
    app = create_app(settings, environ={"ARCHIVER_WEB_SECRET": "k"})
    return app


def _client(app, web):
    client = app.test_client()
    assert web.login(client, "counsel").status_code == 302
    return client


def _streamed_size_and_peak(client, url: str) -> tuple[int, int]:
    """Bytes sent, and the peak Python memory allocated while producing them (the chunks are
    counted and dropped here, so the peak is what the app held at once)."""
    tracemalloc.start()
    try:
        resp = client.get(url, buffered=False)
        assert resp.status_code == 200 and resp.is_streamed
        size = sum(len(chunk) for chunk in resp.response)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return size, peak


def test_csv_download_streams(big, web):
    client = _client(big, web)
    size, peak = _streamed_size_and_peak(client, "/export.csv?from=2024-01-01")
    assert size > 40_000_000 and peak < 8_000_000, f"peak {peak:,} bytes for {size:,} bytes sent"
    rows = list(csv.DictReader(io.StringIO(client.get("/export.csv?from=2024-01-01").get_data(as_text=True)
                                           .lstrip("\ufeff"))))
    assert len(rows) == ITEMS and rows[0]["created_at"] <= rows[-1]["created_at"]  # oldest first


def test_json_download_streams(big, web):
    client = _client(big, web)
    size, peak = _streamed_size_and_peak(client, "/export.json?q=word")
    assert size > 40_000_000 and peak < 8_000_000, f"peak {peak:,} bytes for {size:,} bytes sent"
    data = json.loads(client.get("/export.json?q=word").get_data(as_text=True))
    assert len(data) == ITEMS and {"id", "text", "created_at"} <= set(data[0])


def test_a_bad_query_is_refused_before_the_download_starts(big, web):
    resp = _client(big, web).get("/export.csv?q=%22unclosed")
    assert resp.status_code == 400 and "closing double quote" in resp.get_data(as_text=True)
