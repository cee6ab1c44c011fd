"""Safe nightly runs: one collect at a time, SIGTERM and SIGKILL mid-run, cron-friendly logs."""

from __future__ import annotations

import json
import signal
from pathlib import Path
import pytest

from archiver.config import load_settings
from archiver.errors import LockError
from archiver.fixity import run_fixity
from archiver.lock import writer_lock
from archiver.store import open_store
from archiver.sightings import latest_sighting
from archiver.timefmt import utcnow
from tests.helpers import warc_files, warcio_check
from tests.ops.support import count_rows, finish, index_of, kill, run_collect, start_cli, wait_for


def _consistent(db) -> None:
    """Nothing half-indexed: every record belongs to a known object, every sighting to a record."""
    orphans = db.conn.execute("SELECT count(*) FROM records WHERE object_key NOT IN (SELECT key FROM objects)")
    assert orphans.fetchone()[0] == 0
    dangling = db.conn.execute(f"SELECT count(*) FROM items i WHERE {latest_sighting('record')}"
                               " NOT IN (SELECT id FROM records WHERE object_key IS NOT NULL)")
    assert dangling.fetchone()[0] == 0
    # Every record a version names is one the index can read (a file ingested again keeps its keys).
    unread = db.conn.execute("SELECT count(*) FROM versions v JOIN records r ON r.id IN (v.record, v.meta_record)"
                             " WHERE r.object_key IS NULL")
    assert unread.fetchone()[0] == 0


def _recovered_completely(page, settings, cfg) -> None:
    page.sim.delay = 0
    _, report = run_collect(cfg, utcnow())  # after the CLI run, which used the real clock
    assert report.ok, report.results
    db = index_of(settings)
    _consistent(db)
    assert db.conn.execute("SELECT count(*) FROM items").fetchone()[0] == page.world_size()
    assert not [p for p in settings.spool_dir.rglob("*") if p.is_file()]
    assert run_fixity(db, open_store(settings)).ok


def test_lock_is_exclusive_and_released(tmp_path):
    index = tmp_path / "index.db"
    with writer_lock(index, "collect"):
        with pytest.raises(LockError) as exc:
            with writer_lock(index, "reindex"):
                pass
        assert exc.value.exit_code == 3 and "collect by pid" in str(exc.value)
    with writer_lock(index, "collect"):  # released on exit
        pass


def test_overlapping_collects_and_json_logs(page, make_config, tmp_path):
    page.grow(4, 2)
    # Slow enough that the second process (a cold Python start, slower on a busy machine) is
    # sure to find the first still running.
    page.sim.delay = 0.4
    log_file = tmp_path / "logs" / "archiver.log"
    cfg = make_config([page.account()], extra=f'[log]\njson = true\nfile = "{log_file}"\n')
    first = start_cli(cfg, "collect")
    wait_for(lambda: page.sim.calls >= 2, what="the first collect to start capturing")
    code, out, err = finish(start_cli(cfg, "collect"))
    assert code == 3, err
    assert err.startswith("Error: another archiver process is writing this archive (collect by pid")
    assert "Traceback" not in err
    code, out, err = finish(first)
    assert code == 0, err
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    done = [line for line in lines if line.get("event") == "account_done"]
    assert len(done) == 1 and done[0]["account"] == "ocpd-facebook" and done[0]["status"] == "ok"
    assert done[0]["new"] == page.world_size() and done[0]["level"] == "info"
    assert all(json.loads(line) for line in err.splitlines() if line.strip())  # stderr is JSON lines too
    assert "ocpd-facebook" in out  # the summary table goes to stdout


def test_sigterm_finishes_the_record_and_closes_the_warc(page, make_config):
    page.grow(6, 3)
    page.sim.delay = 0.1
    cfg = make_config([page.account()])
    proc = start_cli(cfg, "collect")
    wait_for(lambda: page.sim.calls >= 4, what="capture to be under way")
    kill(proc, signal.SIGTERM)
    code, out, err = finish(proc, timeout=15)
    assert code == 1 and "stop requested" in err and "Traceback" not in err, err
    settings = load_settings(cfg, environ={})
    db = index_of(settings)
    status, message = db.conn.execute("SELECT status, message FROM runs").fetchone()
    assert status == "interrupted" and "capture so far is kept" in message
    stored = warc_files(Path(settings.storage_url))
    assert len(stored) == 1 and warcio_check(stored[0]).returncode == 0  # closed properly, run record included
    assert 0 < db.conn.execute("SELECT count(*) FROM items").fetchone()[0] < page.world_size()
    assert not list(settings.spool_dir.rglob("*.open"))
    _consistent(db)
    _recovered_completely(page, settings, cfg)


def test_sigkill_loses_nothing_confirmed(page, make_config):
    page.grow(6, 3)
    page.sim.delay = 0.1
    cfg = make_config([page.account()], extra="warc_max_bytes = 3000\n")  # commit often
    settings = load_settings(cfg, environ={})
    proc = start_cli(cfg, "collect")
    wait_for(lambda: count_rows(settings.index_path, "objects") >= 2, what="two committed WARC files")
    kill(proc, signal.SIGKILL)
    finish(proc)
    db = index_of(settings)
    confirmed = {k for (k,) in db.conn.execute("SELECT key FROM objects")}
    items_before = db.conn.execute("SELECT count(*) FROM items").fetchone()[0]
    assert items_before > 0
    _consistent(db)
    audit = run_fixity(db, open_store(settings))  # every confirmed object is stored intact
    assert not [p for p in audit.problems if p.kind != "unexpected"], audit.problems
    assert db.conn.execute("SELECT status FROM runs").fetchone()[0] == "running"  # killed: no summary

    _recovered_completely(page, settings, cfg)
    db = index_of(settings)
    assert confirmed <= {k for (k,) in db.conn.execute("SELECT key FROM objects")}
    statuses = [s for (s,) in db.conn.execute("SELECT status FROM runs ORDER BY started_at")]
    assert statuses == ["interrupted", "ok"]
