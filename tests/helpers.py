"""Test helpers shared across the suite (import as ``from tests.helpers import ...``)."""

from __future__ import annotations

import gzip
import subprocess
import sys
import zlib
from pathlib import Path

from archiver.index import open_index
from archiver.index.queries import version_rows
from archiver.sightings import VersionBodies
from archiver.store import open_store


def facebook_page(replay, make_config, *, token: str, now, extra: str = ""):
    """The Oak Creek Page (``facebook_sample``, posted the day before ``now``) on the Graph
    simulator, and an archive configured to capture it with ``token`` from OCPD_FB_TOKEN:
    (simulator, settings)."""
    from datetime import timedelta

    from archiver.config import load_settings
    from archiver.replay.facebook import FacebookSimulator
    from archiver.replay.samples import facebook_sample

    sim = FacebookSimulator("1000001", "Oak Creek Police Department", token=token)
    base = replay.mount(sim)
    facebook_sample(sim, now - timedelta(days=1))
    cfg = make_config([{"name": "ocpd-facebook", "platform": "facebook", "id": "1000001",
                        "token_env": "OCPD_FB_TOKEN", "api_base": f"{base}/{sim.version}"}], extra=extra)
    return sim, load_settings(cfg, environ={})


def files_containing(root: Path, needle: str) -> list[Path]:
    """Every file under ``root`` whose bytes — or, for gzip files, decompressed bytes —
    contain ``needle`` (raw, or URL-encoded)."""
    from urllib.parse import quote

    needles = {needle.encode(), quote(needle, safe="").encode()}
    hits = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        blobs = [data]
        if data[:2] == b"\x1f\x8b":
            try:
                blobs.append(_gunzip_members(data))
            except (OSError, EOFError, zlib.error):
                pass
        if any(n in blob for n in needles for blob in blobs):
            hits.append(path)
    return hits


def _gunzip_members(data: bytes) -> bytes:
    out = []
    while data:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out.append(d.decompress(data))
        data = d.unused_data
    return b"".join(out)


def warc_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.warc.gz"))


def warcio_check(path: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("warcio")
    return subprocess.run([str(exe), "check", "-v", str(path)], capture_output=True, text=True)


def cdxj_index(path: Path) -> list[str]:
    exe = Path(sys.executable).with_name("cdxj-indexer")
    res = subprocess.run([str(exe), str(path)], capture_output=True, text=True, check=True)
    return [line for line in res.stdout.splitlines() if line.strip()]


def pdftotext(path: Path) -> str:
    """A PDF's text as poppler's pdftotext reads it (an outside reader, not our renderer),
    whitespace collapsed."""
    run = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    return " ".join(run.stdout.split())


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 120):
    """Run the real ``archiver`` command in a subprocess (what cron runs)."""
    import os

    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "archiver", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout)




# What an index says about the archive, whatever WARC files it was split into.
INDEX_CONTENT = {
    "items": "SELECT platform_id, kind, root, parent, status, hidden, versions, text FROM items ORDER BY platform_id",
    "events": "SELECT i.platform_id, e.event FROM events e JOIN items i ON i.rowid = e.item_rowid"
              " ORDER BY i.platform_id, e.event, e.at",
    "retention": "SELECT i.platform_id, a.series, a.disposition_date FROM retention_assignments a"
                 " JOIN items i ON i.id = a.item_id ORDER BY i.platform_id",
}


def index_content(settings) -> dict:
    """The archive as the index tells it (``INDEX_CONTENT``), for comparing two archives."""
    db = open_index(settings.index_path)
    content = {name: db.conn.execute(sql).fetchall() for name, sql in INDEX_CONTENT.items()}
    # Every version whole: its text, content and native as read back from the WARC.
    content["versions"] = [(pid, v["n"], v["hash"], v["text"], v["content"], v["native"])
                           for pid, _ in db.conn.execute("SELECT platform_id, rowid FROM items ORDER BY platform_id")
                           for v in versions_of(settings, pid, db)]
    return content


def versions_of(settings, platform_id: str, db=None) -> list[dict]:
    """An item's versions as exports see them (``archiver.index.queries.version_rows``): text,
    content and native read back from the WARC where the index keeps none."""
    db = db or open_index(settings.index_path)
    rowid, = db.conn.execute("SELECT rowid FROM items WHERE platform_id = ?", (platform_id,)).fetchone()
    return version_rows(db.conn, rowid, VersionBodies(db.conn, open_store(settings)))


__all__ = ["files_containing", "warc_files", "warcio_check", "cdxj_index", "run_cli", "gzip", "INDEX_CONTENT",
           "index_content", "versions_of"]
