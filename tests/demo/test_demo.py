"""`archiver demo` shows the product honestly: the same archive every run, two nights a day
apart on the simulated clock, real pictures, and a closing hint that runs as printed."""

from __future__ import annotations

import io
import os
import shlex
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image
from warcio.archiveiterator import ArchiveIterator

from archiver.demo import run_demo
from archiver.errors import UsageError
from archiver.index import open_index
from archiver.sightings import latest_sighting
from tests.helpers import run_cli, warc_files

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=timezone.utc)


def _content(workdir) -> dict:
    db = open_index(workdir / "index.db", create=False)
    q = db.conn.execute
    return {
        # Some simulated platforms make ids from the clock: compare what the items say.
        "items": sorted(q("SELECT platform, kind, status, author, text FROM items").fetchall()),
        "versions": q("SELECT count(*) FROM versions").fetchone()[0],
        "events": q("SELECT count(*), group_concat(event) FROM (SELECT event FROM events ORDER BY id)").fetchone(),
        "runs": q("SELECT count(*) FROM runs").fetchone()[0],
    }


def test_running_it_twice_gives_the_same_archive(tmp_path):
    out = io.StringIO()
    run_demo(tmp_path / "d", out=out, now=NOW)
    first = _content(tmp_path / "d")
    out = io.StringIO()
    run_demo(tmp_path / "d", out=out, now=NOW + timedelta(minutes=5))
    assert "Replacing the earlier demo archive" in out.getvalue()
    assert _content(tmp_path / "d") == first
    assert first["runs"] == 14 and sum(1 for i in first["items"] if i[2] == "deleted") >= 5


def test_it_refuses_a_directory_it_did_not_make(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError, match="not a demo archive"):
        run_demo(tmp_path / "mine", out=io.StringIO(), now=NOW)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_the_two_nights_are_a_day_apart_and_the_media_are_pictures(tmp_path):
    run_demo(tmp_path / "d", out=io.StringIO(), now=NOW)
    db = open_index(tmp_path / "d" / "index.db", create=False)
    q = db.conn.execute
    days = {"2026-03-09", "2026-03-10"}
    assert {r[0][:10] for r in q("SELECT started_at FROM runs")} == days
    assert {r[0][:10] for r in q("SELECT finished_at FROM runs")} == days
    assert {r[0][:10] for r in q("SELECT first_seen FROM items")} == days
    # What changed on the second night was detected then, not in the first night's second.
    changed = q("SELECT DISTINCT substr(at, 1, 10) FROM events WHERE event != 'new'").fetchall()
    assert changed == [("2026-03-10",)]
    assert {r[0][:10] for r in q(f"SELECT {latest_sighting('last_seen')} FROM items i WHERE status = 'live'")
            } == {"2026-03-10"}
    pictures = 0
    for path in warc_files(tmp_path / "d" / "store"):
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "response" and \
                        (record.http_headers.get_header("Content-Type") or "").startswith("image/"):
                    image = Image.open(io.BytesIO(record.content_stream().read()))
                    image.load()  # decodes every pixel: a real picture, not JPEG-shaped bytes
                    assert image.format == "JPEG" and image.size[0] >= 100
                    pictures += 1
    assert pictures >= 5


def test_the_closing_hint_runs_as_printed(tmp_path):
    res = run_cli("demo", "--dir", str(tmp_path / "d"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    hint = res.stdout.split("Try it (these commands run as printed):\n", 1)[1].splitlines()
    env = {k: v for k, v in os.environ.items() if k != "ARCHIVER_CONFIG"}
    commands = [line.strip() for line in hint if line.startswith("  ")]
    assert commands[0].startswith("export ARCHIVER_CONFIG=")
    env["ARCHIVER_CONFIG"] = commands[0].split("=", 1)[1]
    for command in commands[1:]:
        ran = subprocess.run(shlex.split(command), capture_output=True, text=True, env=env, cwd=tmp_path.parent,
                             timeout=60)
        assert ran.returncode == 0 and ran.stdout.strip(), (command, ran.stderr)
