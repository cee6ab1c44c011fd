"""Progress of long work: bars on stderr at a terminal (a real pty), nothing in a pipe or a log;
the library reports through ``archiver.progress`` and prints nothing itself."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys

from archiver import progress
from archiver.demo import run_demo
from archiver.fixity import run_fixity
from archiver.index import open_index
from archiver.reindex import reindex
from archiver.store import open_store
from tests.ops.support import ENV

BAR = "━"  # rich draws its bars with this character


def _run(cfg, *args, tty: bool) -> tuple[int, str, str]:
    """``archiver --config CFG ARGS`` with stderr on a pseudo-terminal (``tty``) or a pipe."""
    env = {**os.environ, **ENV, "COLUMNS": "120", "TERM": "xterm"}
    argv = [sys.executable, "-m", "archiver", "--config", str(cfg), *args]
    if not tty:
        res = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        return res.returncode, res.stdout, res.stderr
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    out = proc.stdout.read().decode()
    proc.wait(timeout=120)
    os.close(master)
    return proc.returncode, out, b"".join(chunks).decode("utf-8", "replace")


def test_fixity_and_reindex_draw_bars_on_a_terminal_only(two_nights, tmp_path):
    _, cfg = two_nights
    code, out, err = _run(cfg, "fixity", tty=True)
    assert code == 0, err
    assert BAR in err and "objects" in err and "bytes" in err and BAR not in out
    code, out, err = _run(cfg, "fixity", tty=False)
    assert code == 0 and BAR not in err and BAR not in out
    code, out, err = _run(cfg, "reindex", "--into", str(tmp_path / "a.db"), tty=True)
    assert code == 0 and BAR in err and "objects" in err and '"objects": 2' in out, err
    code, out, err = _run(cfg, "reindex", "--into", str(tmp_path / "b.db"), tty=False)
    assert code == 0 and BAR not in err


def test_collect_shows_accounts_and_threads_on_a_terminal(page, make_config):
    cfg = make_config([page.account()])
    code, out, err = _run(cfg, "collect", tty=True)
    assert code == 0, err
    assert BAR in err and "accounts" in err and "threads: ocpd-facebook" in err
    assert "ocpd-facebook" in out and BAR not in out


def test_the_library_reports_objects_and_bytes(two_nights, tmp_path):
    settings, _ = two_nights
    seen: list[tuple] = []

    def record(bar, *, advance=0, total=None, label=None, unit=""):
        seen.append((bar, advance, unit))

    with progress.reporting(record):
        reindex(open_store(settings), settings.index_path, into=tmp_path / "r.db")
        fixity = run_fixity(open_index(settings.index_path), open_store(settings))
    objects = [s for s in seen if s[0] == "objects"]
    size = sum(s[1] for s in seen if s[0] == "bytes")
    assert len(objects) == 2 * fixity.objects and size == 2 * fixity.bytes > 0
    assert all(s[2] == "bytes" for s in seen if s[0] == "bytes")
    seen.clear()
    run_fixity(open_index(settings.index_path), open_store(settings))  # outside the block: nobody listens
    assert seen == []


def test_exports_show_documents_and_pages_on_a_terminal(tmp_path):
    run_demo(tmp_path / "demo", out=io.StringIO())
    cfg = tmp_path / "demo" / "archiver.toml"
    code, out, err = _run(cfg, "export", "ediscovery", "--matter", "M", "--bates-prefix", "P-", "--from",
                          "2000-01-01", "--to", "2099-12-31", "--out", str(tmp_path / "vol"), tty=True)
    assert code == 0, err
    assert BAR in err and "documents" in err and "pages" in err and BAR not in out
    code, out, err = _run(cfg, "export", "request", "--request-id", "R-1", "--requester", "r", "--received",
                          "2026-01-02", "--from", "2000-01-01", "--to", "2099-12-31", "--out", str(tmp_path / "bag"),
                          tty=False)
    assert code == 0 and BAR not in err, err
