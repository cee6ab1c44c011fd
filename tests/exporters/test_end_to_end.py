"""Capture with the Facebook simulator through the real pipeline, then export both kinds
with the real CLI and verify them: nothing here is a fixture-built archive."""

from __future__ import annotations

from datetime import datetime, timezone

from archiver.capture import collect
from archiver.index import open_index
from tests.helpers import facebook_page, run_cli, warcio_check

TOKEN = "EAAGexportTESTtoken=="
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


def test_capture_then_export_request_and_ediscovery(replay, make_config, tmp_path):
    _, settings = facebook_page(replay, make_config, token=TOKEN, now=NOW)
    cfg = settings.config_path
    report = collect(settings, environ={"OCPD_FB_TOKEN": TOKEN}, now=NOW)
    assert report.ok, report.results
    items = open_index(settings.index_path).conn.execute("SELECT count(*) FROM items").fetchone()[0]

    bag, vol = tmp_path / "bag", tmp_path / "vol"
    dates = ["--from", "2026-11-01", "--to", "2026-11-30"]
    run = run_cli("--config", str(cfg), "export", "request", "--request-id", "PRR-9", "--requester", "A. Reporter",
                  "--received", "2026-11-20", *dates, "--out", str(bag), "--actor", "officer")
    assert run.returncode == 0, run.stderr
    run = run_cli("--config", str(cfg), "export", "ediscovery", "--matter", "Doe v. City", "--bates-prefix", "OC",
                  *dates, "--account", "ocpd-facebook", "--out", str(vol), "--actor", "attorney")
    assert run.returncode == 0, run.stderr

    assert len(list((bag / "data/natives").iterdir())) == items
    assert warcio_check(bag / "data/warc/records.warc.gz").returncode == 0
    assert len((vol / "DATA/VOL001.dat").read_bytes().split(b"\r\n")) - 2 >= items
    for path in (bag, vol, bag / "data/replay/records.wacz"):
        check = run_cli("verify", str(path))
        assert check.returncode == 0, check.stdout + check.stderr
    # The credential never reaches an export.
    for path in list(bag.rglob("*")) + list(vol.rglob("*")):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    audit = open_index(settings.index_path).conn.execute(
        "SELECT actor, action FROM audit_log WHERE action LIKE 'export.%' ORDER BY id").fetchall()
    assert audit == [("officer", "export.request"), ("attorney", "export.ediscovery")]


def test_unknown_account_and_missing_option_are_usage_errors(make_config, tmp_path):
    cfg = make_config([])
    assert run_cli("--config", str(cfg), "init").returncode == 0
    run = run_cli("--config", str(cfg), "export", "ediscovery", "--matter", "M", "--bates-prefix", "X",
                  "--from", "2026-11-01", "--to", "2026-11-30", "--account", "nope", "--out", str(tmp_path / "v"))
    assert run.returncode == 2 and "unknown account 'nope'" in run.stderr
    run = run_cli("--config", str(cfg), "export", "request", "--out", str(tmp_path / "b"))
    assert run.returncode == 2
