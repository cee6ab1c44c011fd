"""The command line as cron jobs and scripts use it: real subprocesses, real files."""

from __future__ import annotations

import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from archiver.index import open_index
from archiver.replay.facebook import FacebookSimulator, FbComment
from archiver.replay.samples import facebook_sample
from archiver.search import RESULT_FIELDS
from tests.helpers import files_containing, run_cli, warc_files, warcio_check

TOKEN = "EAAGcliTOKENvalue1234567890"


@pytest.fixture
def fb(replay):
    sim = FacebookSimulator("1000001", "Oak Creek Police Department", token=TOKEN)
    base = replay.mount(sim)
    facebook_sample(sim, datetime.now(timezone.utc) - timedelta(days=1))
    return sim, f"{base}/{sim.version}"


def _acct(api):
    return {"name": "ocpd-facebook", "platform": "facebook", "id": "1000001", "token_env": "OCPD_FB_TOKEN",
            "api_base": api}


def test_collect_search_show_runs_and_no_token_anywhere(fb, make_config, tmp_path):
    sim, api = fb
    log_file = tmp_path / "data" / "archiver.log"
    cfg = make_config([_acct(api)], extra=f'[log]\nfile = "{log_file}"\n')
    env = {"OCPD_FB_TOKEN": TOKEN}
    outputs = []
    res = run_cli("--config", str(cfg), "collect", env=env)
    outputs.append(res.stdout + res.stderr)
    assert res.returncode == 0, res.stderr
    assert "ocpd-facebook" in res.stdout and "ok" in res.stdout

    res = run_cli("--config", str(cfg), "search", "--format", "json", "--limit", "0", env=env)
    outputs.append(res.stdout + res.stderr)
    rows = json.loads(res.stdout)
    assert len(rows) == 11
    for row in rows:
        assert set(RESULT_FIELDS) <= set(row)
        assert (row["parent"] is None) == (row["kind"] == "post")
        assert row["created_at"].endswith("Z")

    res = run_cli("--config", str(cfg), "show", rows[0]["id"], "--format", "json", env=env)
    outputs.append(res.stdout + res.stderr)
    detail = json.loads(res.stdout)
    assert detail["item"]["id"] == rows[0]["id"] and detail["versions"] and detail["thread"]

    res = run_cli("--config", str(cfg), "search", "--format", "csv", "--query", "closure", env=env)
    outputs.append(res.stdout + res.stderr)
    assert res.stdout.splitlines()[0].startswith("id,platform,account")

    res = run_cli("--config", str(cfg), "runs", "--format", "json", env=env)
    outputs.append(res.stdout + res.stderr)
    assert json.loads(res.stdout)[0]["status"] == "ok"

    # An expired token: its message, the logs and every file still carry no token.
    sim.expired = True
    res = run_cli("--config", str(cfg), "collect", env=env)
    outputs.append(res.stdout + res.stderr)
    assert res.returncode == 1 and "Error:" in res.stderr and "ocpd-facebook" in res.stderr
    assert files_containing(tmp_path, TOKEN) == []
    assert all(TOKEN not in out for out in outputs)


def test_usage_and_config_errors(tmp_path, make_config):
    res = run_cli("search", "--format", "yaml", cwd=tmp_path)
    assert res.returncode == 2
    res = run_cli("runs", cwd=tmp_path)
    assert res.returncode == 1 and res.stderr.startswith("Error: no config file")
    bad = tmp_path / "bad.toml"
    bad.write_text('[[accounts]]\nname = "x"\nplatform = "myspace"\nid = "1"\n')
    res = run_cli("--config", str(bad), "runs")
    assert res.returncode == 1 and "myspace" in res.stderr and "Traceback" not in res.stderr
    leaky = tmp_path / "leaky.toml"
    leaky.write_text('[[accounts]]\nname = "x"\nplatform = "facebook"\nid = "1"\ntoken = "abc"\n')
    res = run_cli("--config", str(leaky), "runs")
    assert res.returncode == 1 and "token_env" in res.stderr
    cfg = make_config([])
    assert run_cli("--config", str(cfg), "init").returncode == 0
    res = run_cli("--config", str(cfg), "search", "--query", '"unclosed AND', "--format", "json")
    assert res.returncode == 2 and res.stderr.startswith("Error: ") and "Traceback" not in res.stderr


def test_init_writes_config_and_index(tmp_path):
    res = run_cli("init", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "archiver.toml").exists() and (tmp_path / "archive-data" / "index.db").exists()
    res = run_cli("init", cwd=tmp_path)
    assert res.returncode == 0 and "exists" in res.stderr


def test_sigkill_mid_run_loses_nothing_and_duplicates_nothing(replay, make_config, tmp_path):
    sim = FacebookSimulator("1000001", token=TOKEN, page_size=5)
    base = replay.mount(sim)
    now = datetime.now(timezone.utc)
    for p in range(12):
        post = sim.add_post(100 + p, f"post {p}", now - timedelta(hours=p + 1))
        for c in range(12):
            post.comments.append(FbComment(id=f"{100 + p}_{c}", message=f"comment {c} of {p}",
                                           created_time=post.created_time + timedelta(minutes=c + 1)))
    cfg = make_config([_acct(f"{base}/{sim.version}")])
    replay.delay = 0.02
    env = {**os.environ, "OCPD_FB_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(cfg), "collect"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    spool = tmp_path / "data" / "spool"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not list(spool.rglob("*.open")):
        time.sleep(0.05)
    time.sleep(0.6)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(spool.rglob("*.open")), "the kill should land mid-run"
    replay.delay = 0
    res = run_cli("--config", str(cfg), "collect", env={"OCPD_FB_TOKEN": TOKEN})
    assert res.returncode == 0, res.stderr
    db = open_index(tmp_path / "data" / "index.db")
    assert db.conn.execute("SELECT count(*) FROM items").fetchone()[0] == 12 * 13
    assert db.conn.execute("SELECT count(*) FROM versions").fetchone()[0] == 12 * 13  # no duplicates
    assert db.conn.execute("SELECT count(*) FROM events WHERE event != 'new'").fetchone()[0] == 0
    statuses = dict(db.conn.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall())
    assert statuses == {"interrupted": 1, "ok": 1}
    # Index and store agree object for object, every record points inside a stored object.
    store_files = {p.relative_to(tmp_path / "data" / "store").as_posix() for p in warc_files(tmp_path / "data" / "store")}
    indexed = {r[0] for r in db.conn.execute("SELECT key FROM objects")}
    assert store_files == indexed and len(indexed) == 2
    assert list(spool.rglob("*")) == [] or all(p.is_dir() for p in spool.rglob("*"))
    for path in warc_files(tmp_path / "data" / "store"):
        assert warcio_check(path).returncode == 0


def test_timezone_date_range(make_config, tmp_path):
    """--to 2024-03-31 includes 10:30 pm March 31 Central and excludes 00:30 April 1."""
    cfg = make_config([])
    db = open_index(tmp_path / "data" / "index.db")
    rows = [("a", "2024-04-01T03:30:00Z"), ("b", "2024-04-01T05:30:00Z"), ("c", "2024-03-01T05:59:00Z"),
            ("d", "2024-03-01T06:00:00Z")]
    for pid, created in rows:
        db.conn.execute(
            "INSERT INTO items (id, account, platform, platform_id, kind, root, status, versions, first_seen,"
            " last_seen, created_at, text) VALUES (?, 'a', 'facebook', ?, 'post', ?, 'live', 1, ?, ?, ?, 'x')",
            (pid, pid, pid, created, created, created))
    res = run_cli("--config", str(cfg), "search", "--from", "2024-03-01", "--to", "2024-03-31", "--format", "json")
    assert sorted(r["platform_id"] for r in json.loads(res.stdout)) == ["a", "d"]


def test_demo_runs_offline(tmp_path):
    res = run_cli("demo", "--dir", str(tmp_path / "demo"))
    assert res.returncode == 0, res.stderr
    assert "night 2" in res.stdout and "deleted" in res.stdout and "hidden" in res.stdout


def test_wheel_install_runs_from_any_directory(tmp_path):
    """A non-editable install carries templates and schedules (no reliance on the checkout)."""
    root = Path(__file__).resolve().parents[1]
    # Build from a copy: setuptools writes build/ into the source tree, and a stale or shared
    # build/ could put files in the wheel that the checkout no longer has.
    src = tmp_path / "src"
    shutil.copytree(root, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", "test-artifacts", "archiver-demo"))
    wheel_dir = tmp_path / "wheel"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v",
                            "-w", str(wheel_dir), str(src)], check=True, capture_output=True, text=True)
    # setuptools warns of a template folder it would leave out, or a deprecated license form.
    warnings = [line for line in (built.stdout + built.stderr).splitlines()
                if "would be ignored" in line or "Warning" in line or "deprecated" in line.lower()]
    assert not warnings, warnings
    target = tmp_path / "site"
    wheel = next(wheel_dir.glob("*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    res = subprocess.run([sys.executable, "-c", "import archiver, archiver.templates as t; print(archiver.__file__);"
                          "import importlib.resources as r; print(r.files('archiver.templates').joinpath('archiver.toml').is_file());"
                          "print(any(r.files('archiver.schedules').iterdir()))"],
                         capture_output=True, text=True, cwd=elsewhere, env=env)
    assert res.returncode == 0, res.stderr
    assert str(target) in res.stdout and res.stdout.split()[1:] == ["True", "True"]
    res = subprocess.run([sys.executable, "-m", "archiver", "init"], capture_output=True, text=True, cwd=elsewhere,
                         env=env)
    assert res.returncode == 0, res.stderr
    # Every module and data file of the checkout made it into the wheel.
    for pkg_dir, dest in (("archiver", "archiver"), ("exporters", "archiver/exporters"),
                          ("templates", "archiver/templates"), ("schedules", "archiver/schedules")):
        for path in (root / pkg_dir).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc" \
                    and not path.name.startswith("."):
                rel = path.relative_to(root / pkg_dir)
                assert (target / dest / rel).exists(), f"{pkg_dir}/{rel} is missing from the wheel"


def test_the_process_skips_the_shutdown_collection_but_still_runs_its_exit_handlers(tmp_path):
    # main() freezes what is alive as the process exits (a full collection of capture's
    # libraries costs 0.06-0.1 s); exit handlers, such as logging's flush, still run.
    log = tmp_path / "exit.log"
    code = ("import atexit, gc, logging, sys\n"
            f"logging.basicConfig(filename={str(log)!r}, level=logging.INFO)\n"
            "atexit.register(lambda: logging.info('frozen at exit: %s', gc.get_freeze_count() > 0))\n"
            "from archiver.cli import main\n"
            "main()\n")
    result = subprocess.run([sys.executable, "-c", code, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "collect" in result.stdout
    assert "frozen at exit: True" in log.read_text()


def test_collect_as_the_process_tunes_the_cycle_collector_and_in_process_calls_leave_it_alone(tmp_path):
    # `archiver collect` freezes its loaded libraries and collects the older generations less
    # often (archiver.cli.core.collect); main(argv) from a test or a library changes nothing.
    cfg = tmp_path / "archiver.toml"
    cfg.write_text(f'[storage]\nurl = "{tmp_path / "store"}"\n[index]\npath = "{tmp_path / "index.db"}"\n'
                   '[[accounts]]\nname = "pd"\nplatform = "facebook"\nid = "1"\ntoken_env = "UNSET_TOKEN_VAR"\n')
    log = tmp_path / "gc.log"
    code = ("import atexit, gc, sys\n"
            f"atexit.register(lambda: open({str(log)!r}, 'w').write(repr(gc.get_threshold())))\n"
            "from archiver.cli import main\n"
            "main()\n")
    env = {k: v for k, v in os.environ.items() if k != "UNSET_TOKEN_VAR"}
    result = subprocess.run([sys.executable, "-c", code, "--config", str(cfg), "collect"], capture_output=True,
                            text=True, timeout=120, env=env)
    assert result.returncode == 1 and "UNSET_TOKEN_VAR" in result.stderr  # the account failed; the run ended
    assert log.read_text() == repr((gc.get_threshold()[0], 100, 100))
    before = gc.get_threshold()
    from archiver.cli import main
    with pytest.raises(SystemExit):
        main(["--config", str(cfg), "collect"])
    assert gc.get_threshold() == before


def test_collect_without_a_config_file_says_so(tmp_path, monkeypatch, capsys):
    # No --config, no ARCHIVER_CONFIG, no ./archiver.toml: the nightly job must not run with
    # the defaults (and no accounts).
    from archiver.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ARCHIVER_CONFIG", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main(["collect"])
    assert exit_.value.code == 1 and "no config file" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_every_command_summary_in_help_is_a_whole_phrase():
    """`archiver --help` shortens each command's help to its first sentence: an abbreviation
    such as "Wis. Stat." must not cut it mid-phrase ("Records requests (Wis.")."""
    out = subprocess.run([sys.executable, "-m", "archiver", "--help"], capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "200"}, check=True).stdout
    lines = out.split("Commands:", 1)[1].splitlines()
    summaries = {line.split()[0]: line.split(None, 1)[1] for line in lines
                 if line.startswith("  ") and len(line.split(None, 1)) == 2}
    assert "request" in summaries and "Wisconsin" in summaries["request"], summaries
    for name, summary in summaries.items():
        if not summary.endswith("..."):
            assert summary.count("(") == summary.count(")"), (name, summary)
            assert not summary.endswith(("Wis.", " Stat.", " s.")), (name, summary)
