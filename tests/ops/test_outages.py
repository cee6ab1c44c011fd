"""A full spool and an S3 server that goes away mid-run: reported plainly, nothing lost,
recovered by the next run without duplicates."""

from __future__ import annotations

import resource
import signal
from pathlib import Path
from datetime import timedelta

from archiver.config import load_settings
from archiver.fixity import run_fixity
from archiver.index.queries import item_events
from archiver.store import open_store
from tests.ops.support import NOW, count_rows, finish, index_of, run_collect, start_cli, wait_for

MEDIA = 600_000  # each photo; the spool's file-size limit lets one through, not two
LIMIT = 1_000_000


def _tiny_spool():
    """In the child: files may not grow past LIMIT bytes (a full disk, as the writer sees it)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def _no_duplicates(db) -> None:
    twice = db.conn.execute("SELECT count(*) FROM (SELECT item_rowid, event FROM events"
                            " GROUP BY item_rowid, event HAVING count(*) > 1)").fetchone()[0]
    assert twice == 0


def test_full_spool_is_reported_kept_and_recovered(page, make_config):
    page.sim.media_size = MEDIA
    cfg = make_config([page.account()])
    settings = load_settings(cfg, environ={})
    code, out, err = finish(start_cli(cfg, "collect", preexec=_tiny_spool))
    assert code == 1, err
    assert "Error: cannot write the WARC file in the spool" in err and "File too large" in err
    assert "Traceback" not in err
    torn = list(settings.spool_dir.rglob("*.warc.gz.open"))
    assert len(torn) == 1  # kept for the next run
    db = index_of(settings)
    assert db.conn.execute("SELECT status FROM runs").fetchone()[0] == "failed"
    assert db.conn.execute("SELECT count(*) FROM objects").fetchone()[0] == 0

    page.sim.media_size = 0
    _, report = run_collect(cfg, NOW + timedelta(days=1))
    assert report.ok and len(report.recovered) == 1, report.results
    db = index_of(settings)
    assert db.conn.execute("SELECT count(*) FROM items").fetchone()[0] == page.world_size()
    failed = db.conn.execute("SELECT id FROM runs WHERE status = 'failed'").fetchone()[0]
    recovered = sum(e["event"] == "new" and e["run_id"] == failed
                    for (rowid,) in db.conn.execute("SELECT rowid FROM items") for e in item_events(db.conn, rowid))
    assert recovered > 0  # what the failed night wrote before the disk filled is in the archive
    _no_duplicates(db)
    assert not list(settings.spool_dir.rglob("*.warc.gz*"))
    assert run_fixity(db, open_store(settings)).ok


def test_s3_stopped_mid_run_then_restarted(page, make_config, s3_bucket, moto_server):
    url, endpoint, client = s3_bucket
    bucket = url[5:].split("/", 1)[0]
    page.grow(3, 2)
    cfg = make_config([page.account()], storage=url, endpoint=endpoint, extra="warc_max_bytes = 3000\n")

    def outage():
        # The S3 server dies while the night is being captured, once a first file is committed
        # (closed files are committed by a second process while capture goes on: wait for it).
        wait_for(lambda: count_rows(Path(cfg.parent / "data" / "index.db"), "objects") >= 1,
                 what="a first committed file")
        moto_server.stop()
    page.sim.hooks[6] = outage
    try:
        settings, report = run_collect(cfg, NOW)
    finally:
        if moto_server.proc is None:
            moto_server.start()
    result = report.results[0]
    assert result.status == "failed" and not report.ok
    assert "storage failed" in result.message and "kept in the spool" in result.message
    kept = sorted(settings.spool_dir.rglob("*.warc.gz"))
    assert len(kept) >= 2
    db = index_of(settings)
    uploaded = db.conn.execute("SELECT count(*) FROM objects").fetchone()[0]
    assert uploaded >= 1  # the files confirmed before the outage are indexed; the rest wait

    # moto forgets everything on restart: recreate the bucket as the operator would find it.
    client = moto_server.client()
    client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    settings, again = run_collect(cfg, NOW + timedelta(hours=2))
    assert again.ok, again.results
    assert len(again.recovered) == len(kept)
    db = index_of(settings)
    keys = {k for (k,) in db.conn.execute("SELECT key FROM objects")}
    assert {"warcs/" + p.relative_to(settings.spool_dir).as_posix() for p in kept} <= keys
    assert db.conn.execute("SELECT count(*) FROM items").fetchone()[0] == page.world_size()
    _no_duplicates(db)
    assert not list(settings.spool_dir.rglob("*.warc.gz*"))
    run = db.conn.execute("SELECT status, message FROM runs ORDER BY started_at").fetchone()
    assert run[0] == "failed" and "S3" in run[1]


def test_store_down_for_two_nights(page, make_config, s3_bucket):
    """Unreachable when the run starts, two nights running: both nights capture into the spool;
    the first night with the store back uploads both, in order, without repeating any event."""
    from tests.conftest import free_port

    url, endpoint, _ = s3_bucket
    down = make_config([page.account()], storage=url, endpoint=f"http://127.0.0.1:{free_port()}")
    settings, first = run_collect(down, NOW - timedelta(days=1))
    assert not first.ok and "storage failed" in first.results[0].message
    page.sim.posts[0].message += " UPDATE: reopened."
    _, second = run_collect(down, NOW)
    assert not second.ok and second.recovery_error and "stay there for the next run" in second.recovery_error
    assert len(list(settings.spool_dir.rglob("*.warc.gz"))) == 2

    up = make_config([page.account()], storage=url, endpoint=endpoint)
    _, third = run_collect(up, NOW + timedelta(days=1))
    assert third.ok and len(third.recovered) == 2, third.results
    db = index_of(settings)
    assert db.conn.execute("SELECT count(*) FROM items").fetchone()[0] == page.world_size()
    _no_duplicates(db)
    edited = db.conn.execute("SELECT status, versions FROM items WHERE platform_id = '1000001_101'").fetchone()
    assert edited == ("edited", 2)
    assert third.results[0].counts["new"] == 0 and third.results[0].counts["edited"] == 0


def test_a_refused_schedule_keeps_the_nights_in_the_spool(page, make_config, tmp_path):
    """A records officer's broken edit of the schedule: capture goes on (into the spool), no
    file is indexed without its items' retention, and the night after the fix commits both
    nights, every item with its series."""
    broken = tmp_path / "schedule.toml"
    broken.write_text('name = "Oak Creek PD\n', encoding="utf-8")  # unterminated string
    page.grow(2, 3)
    cfg = make_config([page.account()], extra=f'commit_items = 3\n[retention]\nschedule = "{broken}"\n')
    settings, first = run_collect(cfg, NOW - timedelta(days=1))
    result = first.results[0]
    assert result.status == "failed" and result.counts["seen"] == page.world_size()  # captured whole
    assert "indexing failed" in result.message and "fix the schedule" in result.message
    assert "internal error" not in result.message
    db = index_of(settings)
    assert db.conn.execute("SELECT count(*) FROM items").fetchone()[0] == 0  # no item without retention
    kept = list(settings.spool_dir.rglob("*.warc.gz"))
    assert len(kept) > 2

    page.sim.posts[0].message += " UPDATE: reopened."
    _, second = run_collect(cfg, NOW)  # still broken: the second night is captured too
    assert second.recovery_error and "stay there for the next run" in second.recovery_error
    assert second.results[0].counts["seen"] == page.world_size()
    assert len(list(settings.spool_dir.rglob("*.warc.gz"))) > len(kept)

    cfg.write_text(cfg.read_text(encoding="utf-8").replace(f'schedule = "{broken}"', ""), encoding="utf-8")
    settings, third = run_collect(cfg, NOW + timedelta(days=1))
    assert third.ok, third.results
    db = index_of(settings)
    assert db.conn.execute("SELECT count(*) FROM items").fetchone()[0] == page.world_size()
    unassigned = db.conn.execute("SELECT count(*) FROM items i LEFT JOIN retention_assignments a"
                                 " ON a.item_id = i.id WHERE a.item_id IS NULL").fetchone()[0]
    assert unassigned == 0
    assert db.conn.execute("SELECT status, versions FROM items WHERE platform_id = ?",
                           (page.sim.posts[0].id,)).fetchone() == ("edited", 2)
    _no_duplicates(db)
    assert not list(settings.spool_dir.rglob("*.warc.gz*"))
