"""Bates numbers are unique per prefix across volumes, as legal staff produce them: with the
real command, volume after volume, reading the DAT of each (parsed byte-wise, not with the
exporter's parser)."""

from __future__ import annotations

import sqlite3

import pytest

from tests.exporters.archive_fixture import build_archive
from tests.exporters.conftest import write_export_config
from tests.exporters.test_ediscovery import parse_bytes
from tests.helpers import run_cli


@pytest.fixture
def cfg(tmp_path):
    fx = build_archive(tmp_path / "archive", threads=2, comments=1)
    return fx, write_export_config(tmp_path / "archive", fx)


def produce(cfg, out, *extra):
    fx, config = cfg
    return run_cli("--config", str(config), "export", "ediscovery", "--matter", "Doe v. City", "--bates-prefix",
                   "OCPD-SM-", "--from", "2024-03-01", "--to", "2024-03-31", "--out", str(out), "--actor", "att",
                   *extra)


def bates_column(out, volume="VOL001"):
    header, rows = parse_bytes((out / "DATA" / f"{volume}.dat").read_bytes())
    return [(dict(zip(header, r))["BEGBATES"], dict(zip(header, r))["ENDBATES"]) for r in rows]


def n(bates: str) -> int:
    return int(bates[len("OCPD-SM-"):])


def test_volumes_continue_after_the_last_issued_number(cfg, tmp_path):
    first = produce(cfg, tmp_path / "v1")
    assert first.returncode == 0, first.stderr
    second = produce(cfg, tmp_path / "v2", "--volume", "VOL002")
    assert second.returncode == 0, second.stderr
    one, two = bates_column(tmp_path / "v1"), bates_column(tmp_path / "v2", "VOL002")
    assert one[0][0] == "OCPD-SM-0000001"
    assert n(two[0][0]) == n(one[-1][1]) + 1  # no number issued twice
    assert not {b for b, _ in one} & {b for b, _ in two}
    # Another prefix has its own numbers.
    other = run_cli("--config", str(cfg[1]), "export", "ediscovery", "--matter", "M", "--bates-prefix", "OTHER",
                    "--from", "2024-03-01", "--to", "2024-03-31", "--out", str(tmp_path / "v3"))
    assert other.returncode == 0, other.stderr
    header, rows = parse_bytes((tmp_path / "v3/DATA/VOL001.dat").read_bytes())
    assert rows[0][header.index("BEGBATES")] == "OTHER0000001"
    db = sqlite3.connect(cfg[0].index_path)
    ranges = db.execute("SELECT prefix, first, last, volume FROM production_bates_ranges ORDER BY id").fetchall()
    assert ranges == [("OCPD-SM-", 1, n(one[-1][1]), "VOL001"), ("OCPD-SM-", n(two[0][0]), n(two[-1][1]), "VOL002"),
                      ("OTHER", 1, len(rows), "VOL001")]


def test_start_inside_an_issued_range_is_refused_before_anything_is_written(cfg, tmp_path):
    assert produce(cfg, tmp_path / "v1").returncode == 0
    last = bates_column(tmp_path / "v1")[-1][1]
    run = produce(cfg, tmp_path / "v2", "--volume", "VOL002", "--start", "3")
    assert run.returncode == 2
    assert "Error: --start 3 overlaps" in run.stderr
    assert f"VOL001 of 'Doe v. City' (OCPD-SM-0000001–{last}" in run.stderr
    assert not (tmp_path / "v2").exists()
    # A --start after every issued range is taken as given (a gap is the producer's choice).
    run = produce(cfg, tmp_path / "v3", "--volume", "VOL002", "--start", "500")
    assert run.returncode == 0, run.stderr
    assert bates_column(tmp_path / "v3", "VOL002")[0][0] == "OCPD-SM-0000500"


def test_start_in_a_gap_stops_before_the_next_issued_range(cfg, tmp_path):
    assert produce(cfg, tmp_path / "v1", "--start", "20").returncode == 0
    pages = len(bates_column(tmp_path / "v1"))  # one page a document here
    run = produce(cfg, tmp_path / "v2", "--volume", "VOL002", "--start", str(20 - pages + 2))
    assert run.returncode == 2
    assert "would reach Bates number OCPD-SM-0000020, already issued by volume VOL001" in run.stderr
    # Filling the gap exactly is allowed.
    run = produce(cfg, tmp_path / "v3", "--volume", "VOL000", "--start", str(20 - pages))
    assert run.returncode == 0, run.stderr
    assert bates_column(tmp_path / "v3", "VOL000")[-1][1] == "OCPD-SM-0000019"
