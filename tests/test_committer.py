"""Closed WARC files committed by a second process while capture goes on (archiver.committer)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from archiver import committer as committer_module
from archiver.committer import Committer
from archiver.config import load_settings
from archiver.index import open_index
from archiver.replay.facebook import FacebookSimulator
from archiver.replay.samples import facebook_sample
from archiver.retention.assign import AfterIngest, unassigned_item_ids
from archiver.spool import commit_spool_files
from archiver.store import open_store
from tests.helpers import index_content, warc_files, warcio_check
from tests.conftest import free_port, write_config
from tests.ops.support import (NOW, TOKEN, Page, SlowFacebook, count_rows, finish, kill, run_collect, start_cli,
                               two_nights, wait_for)

def _archive(replay, tmp_path: Path, commit_items: int):
    return two_nights(replay, tmp_path, f"commit_items = {commit_items}\n")


def test_files_committed_alongside_capture_index_the_same(replay, tmp_path):
    one, _ = _archive(replay, tmp_path / "one", commit_items=0)
    many, reports = _archive(replay, tmp_path / "many", commit_items=3)
    # The same archive, however it was cut into files and whichever process indexed them.
    assert index_content(many) == index_content(one)
    files = warc_files(Path(many.storage_url))
    assert len(files) > 2 * len(warc_files(Path(one.storage_url)))
    assert all(warcio_check(f).returncode == 0 for f in files)
    db = open_index(many.index_path)
    assert db.conn.execute("SELECT count(*) FROM objects").fetchone()[0] == len(files)
    assert not [p for p in many.spool_dir.rglob("*") if p.is_file()]  # every file committed
    counts = reports[1].results[0].counts
    assert counts["edited"] == 1 and counts["hidden"] == 1 and counts["deleted"] == 1


def test_a_failing_worker_leaves_the_commits_to_the_capture_process(replay, tmp_path, monkeypatch):
    # A worker that dies at once: every file it was given is committed by the capture process.
    def broken(cmd, **kw):
        return subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.buffer.read(1); sys.exit(1)"], **kw)

    monkeypatch.setattr(Committer, "__init__", _with_spawn(Committer.__init__, broken))
    many, _ = _archive(replay, tmp_path / "many", commit_items=3)
    one, _ = _archive(replay, tmp_path / "one", commit_items=0)
    monkeypatch.undo()
    assert index_content(many) == index_content(one)
    assert not [p for p in many.spool_dir.rglob("*") if p.is_file()]


def _with_spawn(init, spawn):
    def patched(self, settings, now, **kw):
        init(self, settings, now, spawn=spawn)
    return patched


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_the_worker_dies_with_a_killed_collect(replay, make_config):
    sim = SlowFacebook("1000001", "Oak Creek Police Department", token=TOKEN, delay=0.1)
    base = replay.mount(sim)
    facebook_sample(sim, NOW - timedelta(days=1))
    page = Page(sim, f"{base}/{sim.version}")
    page.grow(6, 3)
    cfg = make_config([page.account()], extra="commit_items = 2\n")
    proc = start_cli(cfg, "collect")
    workers: list[int] = []
    wait_for(lambda: workers.extend(_children(proc.pid)) or workers, what="the commit worker to start")
    kill(proc)
    finish(proc)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{w}") and _alive(w) for w in workers):
        time.sleep(0.05)
    assert not [w for w in workers if os.path.exists(f"/proc/{w}") and _alive(w)]
    # The next run recovers whatever the worker had not committed.
    sim.delay = 0
    settings, report = run_collect(cfg, NOW)
    assert report.ok, report.results
    assert not [p for p in settings.spool_dir.rglob("*") if p.is_file()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie is dead, waiting to be reaped by init


def test_after_a_failed_upload_the_worker_refuses_the_files_that_follow(tmp_path):
    # Commits stay in order: once one upload fails, later files wait in the spool with it.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    cfg = write_config(tmp_path, [], storage=str(blocker / "store"))
    settings = load_settings(cfg, environ={})
    files = []
    # Enough files that their outcomes overflow a pipe: the committer must read as it submits.
    for n in range(1000):
        path = settings.spool_dir / "ocpd" / f"file-{n}.warc.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not really a warc %d" % n)
        files.append(path)
    committer = Committer(settings, NOW)
    for path in files:
        committer.submit(path)
    outcomes = committer.drain()
    assert [o.path for o in outcomes] == files
    assert [o.key for o in outcomes] == [None] * len(files)
    assert "cannot create the store directory" in outcomes[0].store_error
    assert all(o.store_error == outcomes[0].store_error for o in outcomes)
    assert all(p.exists() for p in files)  # still in the spool for the next run


def test_a_worker_started_ahead_and_given_no_file_is_stopped_without_waiting(tmp_path):
    # `collect` starts the worker before it knows whether the run will close a file for it; a
    # run too small to close one must not wait for the worker to finish starting up.
    cfg = write_config(tmp_path, [])
    settings = load_settings(cfg, environ={})
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    committer = Committer(settings, NOW, spawn=lambda cmd, **kw: subprocess.Popen(sleeper, **kw))
    committer.start()
    proc = committer.proc
    committer.start()  # started once
    assert committer.proc is proc
    started = time.monotonic()
    assert committer.drain() == []
    assert time.monotonic() - started < 10
    assert proc.poll() is not None and committer.proc is None


def test_collect_from_the_command_line_commits_every_file_through_its_worker(replay, make_config):
    sim = FacebookSimulator("1000001", "Oak Creek Police Department", token=TOKEN)
    base = replay.mount(sim)
    facebook_sample(sim, NOW - timedelta(days=1))
    page = Page(sim, f"{base}/{sim.version}")
    page.grow(6, 3)
    cfg = make_config([page.account()], extra="commit_items = 2\n")
    code, out, err = finish(start_cli(cfg, "collect"))
    assert code == 0, err
    settings = load_settings(cfg, environ={})
    files = warc_files(Path(settings.storage_url))
    db = open_index(settings.index_path)
    assert len(files) > 2 and db.conn.execute("SELECT count(*) FROM objects").fetchone()[0] == len(files)
    assert not [p for p in settings.spool_dir.rglob("*") if p.is_file()]


# A stand-in for the commit worker: answers each file in turn (a name with "refused" in it as a
# failed upload), then lingers for argv[1] seconds, like an interpreter slow to wind down.
FAKE_WORKER = r"""
import pickle, sys, time
from pathlib import Path
from archiver.committer import Outcome
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
pickle.load(stdin)
while True:
    try:
        _, name = pickle.load(stdin)
    except EOFError:
        break
    refused = "refused" in name
    pickle.dump(Outcome(Path(name), key=None if refused else "warcs/" + Path(name).name,
                        store_error="the store refused it" if refused else None), stdout)
    stdout.flush()
time.sleep(float(sys.argv[1]))
"""


def _fake_committer(tmp_path, linger: float) -> Committer:
    settings = load_settings(write_config(tmp_path, []), environ={})
    return Committer(settings, NOW, spawn=lambda cmd, **kw: subprocess.Popen(
        [sys.executable, "-c", FAKE_WORKER, str(linger)], **kw))


def test_the_run_goes_on_once_the_worker_has_answered_and_close_reaps_it(tmp_path):
    committer = _fake_committer(tmp_path, linger=5)  # long enough that a slow machine sees it still there
    committer.submit(tmp_path / "a.warc.gz")
    committer.submit(tmp_path / "b.warc.gz")
    started = time.monotonic()
    assert [o.key for o in committer.drain()] == ["warcs/a.warc.gz", "warcs/b.warc.gz"]
    assert time.monotonic() - started < 2.5  # not held up by the worker's exit
    worker = committer.exiting[0]
    assert worker.poll() is None and committer.proc is None
    committer.close()
    assert worker.poll() is not None and committer.exiting == []


def test_committed_names_each_file_the_worker_has_committed_once(tmp_path):
    # Capture drops what it holds of a file once the index has it (CaptureSession._forget):
    # only files really committed, each once, and asking never waits for the worker.
    committer = _fake_committer(tmp_path, linger=0)
    assert committer.committed() == []  # no worker yet
    files = [tmp_path / name for name in ("a.warc.gz", "refused.warc.gz", "b.warc.gz")]
    for path in files:
        committer.submit(path)
    told = []
    wait_for(lambda: told.extend(committer.committed()) or len(committer.received) == 3, what="three answers")
    assert told == [files[0], files[2]]
    assert committer.committed() == []
    assert [o.path for o in committer.drain()] == files
    committer.close()


def _spooled_files(replay, make_config):
    """A night captured while the store was down, cut into several files that wait in the
    spool; then the same archive with its store back: its config, settings and the files."""
    sim = FacebookSimulator("1000001", "Oak Creek Police Department", token=TOKEN)
    base = replay.mount(sim)
    facebook_sample(sim, NOW - timedelta(days=1))
    page = Page(sim, f"{base}/{sim.version}")
    page.grow(6, 3)
    down = make_config([page.account()], storage="s3://archive/records", endpoint=f"http://127.0.0.1:{free_port()}",
                       extra="commit_items = 3\n")
    settings, night = run_collect(down, NOW - timedelta(days=1))
    assert not night.ok
    files = sorted(settings.spool_dir.rglob("*.warc.gz"))
    assert len(files) > 3
    cfg = make_config([page.account()], extra="commit_items = 3\n")
    return page, cfg, load_settings(cfg, environ={}), files


def test_files_waiting_are_committed_together_and_a_killed_worker_loses_none(replay, make_config, monkeypatch):
    # Files the worker finds waiting are uploaded, then indexed in one transaction; killed
    # before that transaction commits, the worker leaves every file in the spool, and the
    # next run indexes them all.
    page, cfg, settings, files = _spooled_files(replay, make_config)
    monkeypatch.setattr(committer_module, "MAX_BEHIND", len(files))  # all submitted while the worker waits
    store = Path(settings.storage_url)
    lock = sqlite3.connect(settings.index_path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another writer holds the index
    committer = Committer(settings, NOW)
    for path in files:
        committer.submit(path)
    # Every file is uploaded before the one transaction that indexes them all begins: a worker
    # committing file by file would wait for the lock with the first file's transaction.
    wait_for(lambda: len(warc_files(store)) == len(files), what="every file uploaded")
    committer.kill()
    lock.execute("ROLLBACK")
    lock.close()
    assert all(path.exists() for path in files)
    assert count_rows(settings.index_path, "objects") == 0
    _, report = run_collect(cfg, NOW)
    assert report.ok, report.results
    assert not [p for p in settings.spool_dir.rglob("*") if p.is_file()]
    db = open_index(settings.index_path)
    keys = {r[0] for r in db.conn.execute("SELECT key FROM objects")}
    assert {"warcs/" + p.relative_to(settings.spool_dir).as_posix() for p in files} <= keys
    assert db.conn.execute("SELECT count(*) FROM items").fetchone()[0] == page.world_size()


def test_a_worker_that_keeps_up_commits_each_file_as_it_comes(replay, make_config):
    # Nothing waiting behind a file: the worker commits it alone, without waiting for more.
    _, _, settings, files = _spooled_files(replay, make_config)
    committer = Committer(settings, NOW)
    told: list[Path] = []
    for path in files[:2]:
        committer.submit(path)
        wait_for(lambda: told.extend(committer.committed()) or path in told, what=f"{path.name} committed")
    assert told == files[:2]
    assert count_rows(settings.index_path, "objects") == 2
    for path in files[2:]:
        committer.submit(path)
    assert all(o.key for o in committer.drain())
    committer.close()
    assert not [p for p in settings.spool_dir.rglob("*") if p.is_file()]


@pytest.mark.parametrize("swept", [False, True], ids=["first-commit", "later-commits"])
def test_a_batch_of_files_gives_every_item_its_retention(replay, make_config, swept):
    # One transaction for several files. A process's first commit looks across the archive
    # once, after the batch's last file; later commits give each file's new items their
    # retention as that file is indexed, so the batch never holds more than one file's items.
    page, _, settings, files = _spooled_files(replay, make_config)
    db, store = open_index(settings.index_path), open_store(settings)
    after = AfterIngest(settings, store, NOW)
    after.swept = swept
    calls: list[int | None] = []
    indexed = after.indexed
    after.indexed = lambda db, key, created=None: calls.append(None if created is None else len(created)) or \
        indexed(db, key, created)
    keys, error = commit_spool_files(db, store, settings.spool_dir, files, now=NOW, retain_years=7,
                                     after_ingest=after)
    assert error is None and len(keys) == len(files)
    assert db.conn.execute("SELECT count(*) FROM items").fetchone()[0] == page.world_size()
    assert unassigned_item_ids(db) == []
    if swept:
        assert len(calls) == len(files) and sum(calls) == page.world_size()
    else:
        assert calls == [None]


def test_capture_waits_for_a_worker_that_falls_far_behind(replay, make_config, monkeypatch):
    # The run's uncommitted changes live in the capture process's memory: MAX_BEHIND files
    # ahead of the worker, submit waits for its answers instead of growing without bound.
    monkeypatch.setattr(committer_module, "MAX_BEHIND", 2)
    _, _, settings, files = _spooled_files(replay, make_config)
    lock = sqlite3.connect(settings.index_path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another writer holds the index: the worker cannot index
    committer = Committer(settings, NOW)
    committer.start()  # here: the worker dies with the thread that started it (PR_SET_PDEATHSIG)
    submitted: list[Path] = []

    def capture() -> None:
        for path in files:
            committer.submit(path)
            submitted.append(path)

    thread = threading.Thread(target=capture, daemon=True)
    thread.start()
    wait_for(lambda: len(submitted) == 2, what="two files submitted")
    thread.join(1.0)
    assert thread.is_alive() and submitted == files[:2]  # waiting for the worker, not running ahead
    lock.execute("ROLLBACK")
    lock.close()
    thread.join(60)
    assert not thread.is_alive() and submitted == files
    outcomes = committer.drain()
    assert all(o.key for o in outcomes), [(o.path.name, o.store_error, o.error) for o in outcomes if not o.key]
    committer.close()
    assert count_rows(settings.index_path, "objects") == len(files)
