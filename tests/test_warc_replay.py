"""The WARC files replay in the standard tools: pywb serves, for every captured API URL, the
response the platform sent (not the archiver's metadata about it)."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.index import open_index
from archiver.replay.facebook import FacebookSimulator
from archiver.replay.rss import RssSimulator, demo_account, sample_world
from archiver.replay.samples import facebook_sample
from archiver.warc import META_HEADER
from tests.collectors.e2e_social import night
from tests.conftest import free_port
from tests.helpers import warc_files

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
TOKEN = "EAAGreplayTOKEN1234567890"


@pytest.fixture
def archive(replay, make_config, tmp_path):
    fb = FacebookSimulator("1000001", "Oak Creek Police Department", token=TOKEN)
    base = replay.mount(fb)
    facebook_sample(fb, NOW - timedelta(days=1))
    rss = RssSimulator()
    replay.mount(rss)
    sample_world(rss, NOW - timedelta(days=1))
    cfg = make_config([
        {"name": "ocpd-facebook", "platform": "facebook", "id": "1000001", "token_env": "FB_TOKEN",
         "api_base": f"{base}/{fb.version}"},
        {"name": "ocpd-nixle", **demo_account(rss)},
    ])
    settings, report = night(cfg, NOW, environ={"FB_TOKEN": TOKEN})
    assert report.ok, report.results
    # Media is fetched without the credential and indexed at the URL the platform gave (the
    # DAT's URL field reads this column).
    media = [r[0] for r in open_index(settings.index_path).conn.execute("SELECT url FROM media")]
    assert fb.media_url("drexel-closure.jpg") in media
    assert not any("access_token" in url or "REDACTED" in url for url in media)
    assert not any("access_token" in target for _, target, _ in replay.log if "/cdn/" in target)
    return warc_files(tmp_path / "data")


def _responses(paths: list[Path]) -> list[tuple[str, str, bytes]]:
    """(url, 14-digit timestamp, payload) of every 200 response record."""
    out = []
    for path in paths:
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type == "response" and rec.http_headers.get_statuscode() == "200":
                    date = rec.rec_headers.get_header("WARC-Date")
                    ts = "".join(c for c in date if c.isdigit())[:14]
                    out.append((rec.rec_headers.get_header("WARC-Target-URI"), ts, rec.content_stream().read()))
    return out


def test_metadata_records_have_their_own_uri_and_point_at_the_response(archive):
    responses = {url for url, _, _ in _responses(archive)}
    metadata = 0
    for path in archive:
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type == "metadata" and rec.rec_headers.get_header(META_HEADER) == "items/1":
                    metadata += 1
                    uri = rec.rec_headers.get_header("WARC-Target-URI")
                    refers = rec.rec_headers.get_header("WARC-Refers-To")
                    assert uri.startswith("urn:archiver:metadata:") and uri not in responses
                    assert refers and rec.rec_headers.get_header("WARC-Concurrent-To") == refers
                    assert uri.endswith(refers.strip("<>").rsplit(":", 1)[-1])
                    assert rec.rec_headers.get_header("Archiver-Describes") in responses
    assert metadata > 5


def test_pywb_replays_the_response_for_every_captured_api_url(archive, tmp_path):
    bin_dir = Path(sys.executable).parent
    work = tmp_path / "pywb"
    work.mkdir()
    subprocess.run([str(bin_dir / "wb-manager"), "init", "c"], cwd=work, check=True, capture_output=True)
    subprocess.run([str(bin_dir / "wb-manager"), "add", "c", *map(str, archive)], cwd=work, check=True,
                   capture_output=True)
    port = free_port()
    server = subprocess.Popen([str(bin_dir / "wayback"), "-p", str(port), "-b", "127.0.0.1"], cwd=work,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "pywb did not start"
                time.sleep(0.3)
        responses = _responses(archive)
        assert len(responses) >= 8
        wrong = []
        for url, ts, payload in responses:
            # id_: the archived payload as it was, without pywb's rewriting.
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/c/{ts}id_/{url}", timeout=30) as got:
                body = got.read()
            if body != payload:
                wrong.append((url, body[:80]))
        assert wrong == []
    finally:
        server.terminate()
        server.wait(timeout=20)


def _old_style(src: Path, dst: Path) -> None:
    """A copy of ``src`` as files were written before metadata records had their own URI:
    each metadata record's target URI is the URL it describes."""
    from warcio.warcwriter import WARCWriter

    with open(src, "rb") as fh, open(dst, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for rec in ArchiveIterator(fh):
            described = rec.rec_headers.get_header("Archiver-Describes")
            if rec.rec_type == "metadata" and described:
                rec.rec_headers.replace_header("WARC-Target-URI", described)
                rec.rec_headers.remove_header("Archiver-Describes")
            writer.write_record(rec)


def test_files_with_the_old_metadata_uri_still_ingest_alike(archive, tmp_path):
    from archiver.index import open_index
    from archiver.ingest import ingest_warc

    def ingest(paths: list[Path], name: str) -> list[tuple]:
        db = open_index(tmp_path / name)
        for path in paths:
            with open(path, "rb") as fh:
                ingest_warc(db, path.name, fh, sha256="", size=path.stat().st_size, stored_at=NOW)
        return sorted(db.conn.execute("SELECT platform_id, status, text FROM items").fetchall())

    old = []
    for path in archive:
        old.append(tmp_path / f"old-{path.name}")
        _old_style(path, old[-1])
    with open(old[0], "rb") as fh:
        assert any(r.rec_type == "metadata" and r.rec_headers.get_header("WARC-Target-URI").startswith("http")
                   for r in ArchiveIterator(fh))
    new_items = ingest(archive, "new.sqlite")
    assert len(new_items) > 10 and ingest(old, "old.sqlite") == new_items
