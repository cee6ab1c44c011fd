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


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name,changed,removed", [
    ("bag", ["data/index.csv", "data/letter.html"], "data/README.txt"),
    ("vol", ["DATA/VOL001.opt", "custody.csv"], "README.txt"),
])
def test_every_problem_is_listed_not_only_the_first(exports, tmp_path, name, changed, removed):
    """Two files changed by one bit and a third removed: all three are named, each for what
    happened to it (bagit alone stops at the first failing stage: the Payload-Oxum count)."""
    root = copy(exports / name, tmp_path)
    for rel in changed:
        flip_a_byte(root / rel)
    (root / removed).unlink()
    (root / "extra.txt" if name == "vol" else root / "data/extra.txt").write_text("added later")
    run = verify(root)
    assert run.returncode == 1
    lines = [line for line in run.stdout.splitlines() if line.startswith("  - ")]
    for rel in changed:
        assert any(f"{rel} was changed" in line for line in lines), run.stdout
    assert any(f"{removed} is listed in" in line and "missing" in line for line in lines), run.stdout
    assert any("extra.txt" in line and ("not listed" in line or "not in any payload manifest" in line)
               for line in lines), run.stdout
    if name == "bag":
        assert any("Payload-Oxum" in line for line in lines), run.stdout
    assert run.stderr.count("Error") == 0 and "exists in manifest" not in run.stderr


def test_malformed_manifest_lines_are_named_with_the_rest(exports, tmp_path):
    root = copy(exports / "bag", tmp_path)
    with open(root / "manifest-sha256.txt", "a", encoding="utf-8") as fh:
        fh.write("not-a-digest  data/index.csv\n" + "0" * 64 + "  ../../etc/passwd\n")
    flip_a_byte(root / "data/letter.html")
    run = verify(root)
    assert run.returncode == 1
    assert "manifest-sha256.txt line" in run.stdout and "is malformed" in run.stdout
    assert "points outside the bag" in run.stdout and "data/letter.html was changed" in run.stdout


def test_opt_page_count_that_does_not_match_its_lines_is_named(exports, tmp_path):
    root = copy(exports / "vol", tmp_path)
    opt = root / "DATA/VOL001.opt"
    lines = opt.read_text(encoding="utf-8").splitlines()
    lines[0] = lines[0][:-1] + "3"  # the first document claims 3 pages; it has 1 line
    opt.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8", newline="")
    run = verify(root)
    assert run.returncode == 1
    assert f"document {lines[0].split(',')[0]} has 1 page line, but its page count is 3" in run.stdout
