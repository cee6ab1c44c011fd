"""Recovering the spool after a crash or a full disk (archiver.spool, archiver.warc.repair):
a torn file keeps exactly its intact records, its damaged tail is kept as evidence, and the
night's capture always goes on."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from datetime import timedelta

from archiver.health import check_health
from archiver.index import open_index
from archiver.ingest import iter_records
from archiver.reindex import reindex
from archiver.spool import quarantine_dir
from archiver.store import open_store
from archiver.warc import QUARANTINE_REPORT, iter_members, repair
from tests.conftest import free_port
from tests.ops.support import NOW, finish, index_of, run_collect, start_cli

CUTS = 40
SEED = 19


def _spooled_night(page, make_config):
    """A night captured while the store was unreachable: its WARC stays in the spool."""
    down = make_config([page.account()], storage="s3://archive/records", endpoint=f"http://127.0.0.1:{free_port()}")
    settings, night = run_collect(down, NOW - timedelta(days=1))
    assert not night.ok
    (path,) = settings.spool_dir.rglob("*.warc.gz")
    return settings, path


def _ends(data: bytes) -> list[int]:
    return [m.offset + m.length for m in iter_members(io.BytesIO(data))]


def test_torn_files_keep_exactly_their_intact_records(page, make_config, tmp_path):
    settings, path = _spooled_night(page, make_config)
    data = path.read_bytes()
    ends = _ends(data)
    assert len(ends) > 10
    cuts = sorted(random.Random(SEED).sample(range(1, len(data)), CUTS))
    aside = tmp_path / "quarantine"
    for n, cut in enumerate(cuts):
        torn = tmp_path / f"cut{n}" / "a.warc.gz.open"
        torn.parent.mkdir()
        torn.write_bytes(data[:cut])
        fixed = repair(torn, aside, now=NOW)
        kept_end = max([e for e in ends if e <= cut], default=0)
        assert not torn.exists()
        if kept_end == 0:  # not even the warcinfo record: the whole file is evidence
            assert fixed.path is None and fixed.tail.read_bytes() == data[:cut]
            continue
        assert fixed.path.read_bytes() == data[:kept_end], cut
        assert fixed.records == ends.index(kept_end) + 1
        if kept_end == cut:
            assert fixed.tail is None
            continue
        assert fixed.tail.read_bytes() == data[kept_end:cut], cut
        report = json.loads(fixed.tail.with_name(fixed.tail.name + QUARANTINE_REPORT).read_text())
        assert report["records_kept"] == fixed.records and report["tail_offset"] == kept_end and report["reason"]
        with open(fixed.path, "rb") as fh:  # every kept record reads back, metadata included
            for _, _, _, payload in iter_records(fh):
                if payload is not None:
                    json.loads(payload)
    # The kept part of a torn file is a valid WARC for outside readers too.
    check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(fixed.path)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_collect_captures_after_a_torn_file_and_a_damaged_one(page, make_config, tmp_path):
    settings, path = _spooled_night(page, make_config)
    data = path.read_bytes()
    ends = _ends(data)
    torn_at = (ends[-3] + ends[-2]) // 2  # inside a record near the end (the run summary is last)
    path.with_name(path.name + ".open").write_bytes(data[:torn_at])
    # A second, closed file with one flipped byte in a record: it cannot be archived as it is.
    damaged = bytearray(data)
    damaged[(ends[2] + ends[3]) // 2] ^= 0x01
    path.with_name("damaged-" + path.name).write_bytes(bytes(damaged))
    path.unlink()

    up = make_config([page.account()])
    settings, night = run_collect(up, NOW)
    assert night.ok, night.results
    assert len(night.recovered) == 1  # the repaired file; the damaged one is set aside
    db = index_of(settings)
    assert db.conn.execute("SELECT count(*) FROM items").fetchone()[0] == page.world_size()
    assert not list(settings.spool_dir.rglob("*.warc.gz*"))
    aside = quarantine_dir(settings.spool_dir)
    reports = sorted(aside.glob("*" + QUARANTINE_REPORT))
    assert len(reports) == 2
    kinds = {json.loads(r.read_text())["records_kept"] for r in reports}
    assert kinds == {0, len([e for e in ends if e <= torn_at])}
    whole = [p for p in aside.iterdir() if p.name.endswith("damaged-" + path.name)]
    assert whole and whole[0].read_bytes() == bytes(damaged)  # evidence, byte for byte

    # The morning check lists both files until someone has reviewed them.
    health = check_health(db, ["ocpd-facebook"], quarantine=aside, now=NOW + timedelta(hours=1))
    assert not health.ok and [f.what for f in health.findings] == ["quarantine", "quarantine"]
    assert all(a.ok for a in health.accounts)
    code, _, err = finish(start_cli(up, "health", "--max-age", "100000"))
    assert code == 1 and err.count("quarantine: ") == 2 and "damaged-" + path.name in err
    (aside / "reviewed").mkdir()
    for item in list(aside.iterdir()):
        if item.is_file():
            item.rename(aside / "reviewed" / item.name)
    assert check_health(db, ["ocpd-facebook"], quarantine=aside, now=NOW + timedelta(hours=1)).ok

    # The torn night lost its run summary with its tail; a rebuild still has a row for its run.
    rebuilt = reindex(open_store(settings), settings.index_path, into=tmp_path / "rebuilt.db", now=NOW)
    assert rebuilt.ok
    runs = "SELECT id FROM runs ORDER BY id"
    assert open_index(tmp_path / "rebuilt.db").conn.execute(runs).fetchall() == db.conn.execute(runs).fetchall()
