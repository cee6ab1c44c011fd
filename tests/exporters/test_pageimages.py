"""Page images as review platforms take them (domain.md §C2, §C5): single-page Group 4 TIFF,
LZW colour TIFF or JPG, one Opticon line per page image, and the protective-order designation
stamped on each page. Every image is read back with Pillow and counted against the OPT,
which is parsed here on its own (not with the exporter's parser)."""

from __future__ import annotations

from pathlib import Path

import pypdf
import pytest
from PIL import Image

from archiver.errors import ExportValueError
from archiver.exporters.ediscovery import EdiscoverySpec, export_ediscovery
from archiver.exporters.select import Selection
from archiver.index import open_index
from tests.exporters.archive_fixture import build_archive
from tests.exporters.conftest import NOW, write_export_config
from tests.exporters.test_ediscovery import parse_bytes
from tests.helpers import run_cli

LONG = "A very long statement from the department. " * 400  # about three pages


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    fx = build_archive(tmp_path_factory.mktemp("pi"), threads=1, comments=2)
    db = open_index(fx.index_path)
    db.conn.execute("UPDATE items SET text = ? WHERE kind = 'post'", (LONG,))
    db.conn.commit()
    db.conn.close()
    fx.config = write_export_config(fx.root, fx)
    return fx


def produce(fx, settings, out: Path, **kw):
    db = open_index(fx.index_path)
    spec = EdiscoverySpec("Doe v. City", "OCPD-SM-", Selection("2024-03-01", "2024-03-31"), out, workers=0, **kw)
    result = export_ediscovery(settings, db, fx.store, spec, now=NOW)
    db.conn.close()
    return result


@pytest.fixture(scope="module")
def settings(fx):
    from archiver.config import load_settings

    return load_settings(fx.config, environ={})


def read_opt(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    assert data.endswith(b"\r\n") and b"\r\n\r\n" not in data
    return [line.split(",") for line in data.decode("utf-8").split("\r\n")[:-1]]


def documents(opt: list[list[str]]) -> list[list[list[str]]]:
    """Group OPT lines into documents by the Y break."""
    docs: list[list[list[str]]] = []
    for fields in opt:
        assert len(fields) == 7
        if fields[3] == "Y":
            docs.append([])
        else:
            assert fields[3] == "" and fields[6] == ""  # later pages: blank break and count
        docs[-1].append(fields)
    return docs


def dat(out: Path) -> list[dict]:
    header, rows = parse_bytes(next((out / "DATA").glob("*.dat")).read_bytes())
    return [dict(zip(header, r)) for r in rows]


def footer_ink(image: Image.Image, left: bool) -> int:
    """Dark pixels in the bottom margin's left or right third (where the stamps go)."""
    gray = image.convert("L")
    w, h = gray.size
    box = (0, int(h * 0.93), w // 3, h) if left else (2 * w // 3, int(h * 0.93), w, h)
    return sum(gray.crop(box).histogram()[:128])


@pytest.mark.parametrize("kind,ext,mode,compression", [
    ("tiff", "tif", "1", "group4"), ("tiff-color", "tif", "RGB", "tiff_lzw"), ("jpg", "jpg", "RGB", None)])
def test_single_page_images_one_opt_line_each(fx, settings, tmp_path, kind, ext, mode, compression):
    out = tmp_path / "vol"
    result = produce(fx, settings, out, images=kind, confidentiality="CONFIDENTIAL")
    opt = read_opt(out / "DATA/VOL001.opt")
    docs = documents(opt)
    rows = dat(out)
    assert len(docs) == len(rows) == result.documents
    assert len(opt) == result.pages == len(list(out.glob(f"IMAGES/*/*.{ext}")))
    assert not list(out.glob("IMAGES/*/*.pdf"))
    multi = 0
    for doc, row in zip(docs, rows):
        assert doc[0][0] == row["BEGBATES"] and doc[-1][0] == row["ENDBATES"]
        assert doc[0][6] == row["PAGECOUNT"] == str(len(doc))  # count on the first page's line only
        multi += len(doc) > 1
        for fields in doc:
            path = out / Path(*fields[2].split("\\"))
            assert path.name == f"{fields[0]}.{ext}" and fields[1] == "VOL001"
            with Image.open(path) as image:
                assert getattr(image, "n_frames", 1) == 1  # single-page files
                assert image.mode == mode and image.size == (2550, 3300)  # letter at 300 DPI
                assert round(image.info["dpi"][0]) == 300
                if compression:
                    assert image.format == "TIFF" and image.info["compression"] == compression
                else:
                    assert image.format == "JPEG"
                assert footer_ink(image, left=False) > 100  # the Bates number
                assert footer_ink(image, left=True) > 100  # the designation
        assert row["CONFIDENTIAL"] == "CONFIDENTIAL"
    assert multi >= 1  # the long post spans several page images


def test_pdf_pages_carry_the_designation_as_text(fx, settings, tmp_path):
    out = tmp_path / "vol"
    produce(fx, settings, out, confidentiality="HIGHLY CONFIDENTIAL - ATTORNEYS' EYES ONLY")
    opt = read_opt(out / "DATA/VOL001.opt")
    for doc in documents(opt):
        pdf = pypdf.PdfReader(out / Path(*doc[0][2].split("\\")))
        assert len(pdf.pages) == len(doc) and all(f[2] == doc[0][2] for f in doc)
        for page, fields in zip(pdf.pages, doc):
            text = page.extract_text()
            assert "HIGHLY CONFIDENTIAL - ATTORNEYS' EYES ONLY" in text and fields[0] in text
    assert {r["CONFIDENTIAL"] for r in dat(out)} == {"HIGHLY CONFIDENTIAL - ATTORNEYS' EYES ONLY"}


def test_without_a_designation_the_field_is_empty_and_nothing_is_stamped(fx, settings, tmp_path):
    out = tmp_path / "vol"
    produce(fx, settings, out, images="tiff")
    assert {r["CONFIDENTIAL"] for r in dat(out)} == {""}
    for path in out.glob("IMAGES/*/*.tif"):
        with Image.open(path) as image:
            assert footer_ink(image, left=True) == 0 and footer_ink(image, left=False) > 100


def test_bad_values_are_refused_before_anything_is_written(fx, settings, tmp_path):
    with pytest.raises(ExportValueError, match="--images must be one of pdf, tiff, tiff-color, jpg"):
        produce(fx, settings, tmp_path / "a", images="png")
    run = run_cli("--config", str(fx.config), "export", "ediscovery", "--matter", "M", "--bates-prefix", "X",
                  "--from", "2024-03-01", "--to", "2024-03-31", "--out", str(tmp_path / "b"),
                  "--confidentiality", "CONFIDENTIAL – AEO")
    assert run.returncode == 2 and "Error: --confidentiality must be printable ASCII" in run.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
