"""Helpers for the operations tests: a sample Facebook page on a replay server, archives
captured over several nights, and the real ``archiver`` command run as cron runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from archiver.capture import collect
from archiver.config import load_settings
from archiver.index import open_index
from archiver.replay.facebook import FacebookSimulator, FbComment
from archiver.replay.samples import facebook_next_night, facebook_sample

TOKEN = "EAAGopsTESTtoken"
ENV = {"OCPD_FB_TOKEN": TOKEN}
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


class SlowFacebook(FacebookSimulator):
    """A Graph simulator that answers after ``delay`` seconds (a slow night), can run a hook
    on the n-th request (stop the S3 server mid-run) and can serve large media."""

    def __init__(self, *args, delay: float = 0.0, media_size: int = 0, **kw):
        super().__init__(*args, **kw)
        self.delay, self.media_size = delay, media_size
        self.hooks: dict[int, callable] = {}

    def handle(self, request):
        hook = self.hooks.pop(self.calls + 1, None)
        if hook:
            hook()
        if self.delay:
            time.sleep(self.delay)
        return super().handle(request)

    def media_bytes(self, name: str) -> bytes:
        if not self.media_size:
            return super().media_bytes(name)
        return os.urandom(self.media_size)  # incompressible, so the WARC really grows


@dataclass
class Page:
    sim: SlowFacebook
    api: str

    def account(self, name: str = "ocpd-facebook") -> dict:
        return {"name": name, "platform": "facebook", "id": "1000001", "token_env": "OCPD_FB_TOKEN",
                "api_base": self.api}

    def grow(self, posts: int, comments: int, now: datetime = NOW) -> None:
        """More posts and comments, so a run takes long enough to be interrupted."""
        for p in range(posts):
            post = self.sim.add_post(500 + p, f"Extra post {p}", now - timedelta(hours=30 + p))
            for n in range(comments):
                post.comments.append(FbComment(id=f"{500 + p}_{9000 + n}", message=f"comment {n} on {p}",
                                               created_time=post.created_time + timedelta(minutes=n + 1)))

    def world_size(self) -> int:
        """Posts and comments the platform shows right now (deleted ones excluded)."""
        live = [p for p in self.sim.posts if not p.deleted]
        return len(live) + sum(1 for p in live for c in p.comments if not c.deleted)


def run_collect(cfg: Path, now: datetime = NOW, environ: dict | None = None, **kw):
    settings = load_settings(cfg, environ={})
    return settings, collect(settings, environ=ENV if environ is None else environ, now=now, **kw)


def index_of(settings):
    return open_index(settings.index_path)


def count_rows(path: Path, table: str) -> int:
    """Rows in a table of an index another process is writing (read-only; 0 until it exists)."""
    import sqlite3

    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.Error:
        return 0  # not created yet


def start_cli(cfg: Path, *args: str, preexec=None) -> subprocess.Popen:
    """``archiver --config CFG ARGS`` in its own process, as cron starts it."""
    env = {**os.environ, **ENV, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(cfg), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=preexec)


def wait_for(predicate, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def finish(proc: subprocess.Popen, timeout: float = 30.0) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, sig)


def two_nights(replay, tmp_path: Path, extra: str, *, sim_class: type = FacebookSimulator, day=None):
    """Two nights of the sample page (new items, then an edit, a hide, a deletion; ``day``
    changes more), in an archive of its own under ``tmp_path`` with ``extra`` in [collect].
    Returns the settings and both nights' reports, each checked ok."""
    from tests.conftest import write_config

    sim = sim_class("1000001", "Oak Creek Police Department", token=TOKEN)
    base = replay.mount(sim)
    facebook_sample(sim, NOW - timedelta(days=1))
    tmp_path.mkdir()
    cfg = write_config(tmp_path, [Page(sim, f"{base}/{sim.version}").account()], extra=extra)
    reports = [run_collect(cfg, NOW - timedelta(days=1))[1]]
    facebook_next_night(sim, NOW)
    if day:
        day(sim)
    reports.append(run_collect(cfg, NOW)[1])
    assert all(r.ok for r in reports), [r.results for r in reports]
    return load_settings(cfg, environ={}), reports
