"""`archiver verify` (the real command): intact bundles, volumes and WACZ files exit 0;
a tampered or removed file exits 1 with the problem named; signatures are checked."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import bagit
import pytest

from archiver.exporters.ediscovery import EdiscoverySpec, export_ediscovery
from archiver.exporters.request import RequestSpec, export_request
from archiver.exporters.select import Selection
from archiver.index import open_index
from tests.exporters.conftest import NOW
from tests.helpers import run_cli


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    run = run_cli("keys", "create", "--dir", str(root), "--name", "ocpd")
    assert run.returncode == 0, run.stderr
    assert (root / "ocpd.key").stat().st_mode & 0o077 == 0
    return root / "ocpd.key", root / "ocpd.pub"


@pytest.fixture(scope="module")
def exports(archive, export_settings, keys, tmp_path_factory):
    """A signed bag (no PDFs: verification does not depend on them) and a signed volume."""
    root = tmp_path_factory.mktemp("exports")
    db = open_index(archive.index_path)
    sel = Selection("2024-03-01", "2024-03-31")
    export_request(export_settings, db, archive.store,
                   RequestSpec("PRR-1", "R", "2024-04-01", sel, root / "bag", pdf=False, sign_key=keys[0]), now=NOW)
    sel1 = Selection("2024-03-01", "2024-03-01")
    export_ediscovery(export_settings, db, archive.store,
                      EdiscoverySpec("M", "ABC", sel1, root / "vol", sign_key=keys[0]), now=NOW)
    return root


def copy(src: Path, tmp_path: Path) -> Path:
    dest = tmp_path / src.name
    shutil.copytree(src, dest)
    return dest


def verify(path: Path, *extra: str):
    return run_cli("verify", str(path), *extra)


@pytest.mark.parametrize("name", ["bag", "vol"])
def test_intact_signed_exports_verify(exports, keys, name):
    run = verify(exports / name, "--key", str(keys[1]))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "OK:" in run.stdout and "signed by sha256:" in run.stdout


def test_wacz_on_its_own_verifies_and_a_tampered_one_does_not(exports, tmp_path):
    wacz = exports / "bag/data/replay/records.wacz"
    assert verify(wacz).returncode == 0
    bad = tmp_path / "bad.wacz"
    with zipfile.ZipFile(wacz) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "pages/pages.jsonl":
                data = data.replace(b"post", b"p0st")
            dst.writestr(info, data)
    run = verify(bad)
    assert run.returncode == 1 and "pages/pages.jsonl does not match" in run.stdout


@pytest.mark.parametrize("name,target", [("bag", "data/index.csv"), ("vol", "DATA/VOL001.dat")])
def test_tampered_file_fails(exports, tmp_path, name, target):
    root = copy(exports / name, tmp_path)
    path = root / target
    path.write_bytes(path.read_bytes().replace(b"ocpd-facebook", b"ocpd-f4cebook", 1))
    run = verify(root)
    assert run.returncode == 1 and "FAILED" in run.stdout
    assert Path(target).name in run.stdout


@pytest.mark.parametrize("name,target", [("bag", "data/letter.html"), ("vol", "TEXT/001/ABC0000002.txt")])
def test_removed_file_fails(exports, tmp_path, name, target):
    root = copy(exports / name, tmp_path)
    (root / target).unlink()
    run = verify(root)
    assert run.returncode == 1
    assert Path(target).name in run.stdout


def test_volume_load_file_pointing_at_missing_native_is_reported(exports, tmp_path):
    root = copy(exports / "vol", tmp_path)
    native = next((root / "NATIVES").rglob("*.json"))
    native.unlink()
    run = verify(root)
    assert run.returncode == 1 and "NATIVEPATH" in run.stdout


def test_re_manifested_tampering_breaks_the_signature(exports, tmp_path):
    """An attacker who edits a file and rewrites every manifest still cannot re-sign."""
    root = copy(exports / "bag", tmp_path)
    csv_path = root / "data/index.csv"
    csv_path.write_bytes(csv_path.read_bytes().replace(b"deleted", b"live"))
    bag = bagit.Bag(str(root))
    bag.save(manifests=True)
    assert bagit.Bag(str(root)).is_valid()  # the bag alone no longer shows the change
    run = verify(root)
    assert run.returncode == 1 and "signature" in run.stdout


def test_wrong_expected_key_fails(exports, tmp_path):
    other = tmp_path / "k"
    assert run_cli("keys", "create", "--dir", str(other)).returncode == 0
    run = verify(exports / "vol", "--key", str(other / "archiver-export.pub"))
    assert run.returncode == 1 and "not the expected" in run.stdout


def test_unknown_path_is_an_error(tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    run = verify(tmp_path)
    assert run.returncode == 1 and "Error:" in run.stderr
