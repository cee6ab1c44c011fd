"""E-discovery volume: DAT re-parsed byte-wise, OPT lines, Bates stamps on the page images,
families, natives/text present and hashed, chain of custody, continuing Bates numbers."""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
from pathlib import Path

import pypdf
import pytest

from archiver.exporters.ediscovery import FIELDS, EdiscoverySpec, export_ediscovery
from archiver.exporters.select import Selection
from archiver.index import open_index
from tests.exporters.conftest import NOW
from tests.exporters.test_request import pdf_text

SEP, QUOTE, NL = b"\x14", "þ".encode(), "®".encode()


def index_copy(archive, dest: Path) -> Path:
    """A private copy of the archive's index: the Bates ranges a test's productions record
    there (unique per prefix) do not reach other tests."""
    import sqlite3

    dest.parent.mkdir(parents=True, exist_ok=True)
    src, dst = sqlite3.connect(archive.index_path), sqlite3.connect(dest)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    return dest


def produce(archive, settings, out: Path, start: int | None = 1, index: Path | None = None, **kw):
    db = open_index(index or index_copy(archive, out.parent / f"{out.name}-index.db"))
    spec = EdiscoverySpec("Doe v. City of Oak Creek", "OCPD-SM-", Selection("2024-03-01", "2024-03-31", **kw),
                          out, start=start, actor="city.attorney")
    result = export_ediscovery(settings, db, archive.store, spec, now=NOW)
    db.conn.close()
    return out, result


@pytest.fixture(scope="module")
def volume(archive, export_settings, tmp_path_factory):
    # Start just below a power of ten so the stamp must gain a digit mid-production.
    return produce(archive, export_settings, tmp_path_factory.mktemp("vol") / "VOL001", start=9990)


def parse_bytes(data: bytes) -> tuple[list[str], list[list[str]]]:
    """Byte-level parse, independent of the exporter's own parser."""
    assert data.startswith(b"\xef\xbb\xbf")
    body = data[3:]
    assert body.endswith(b"\r\n")
    lines = body.split(b"\r\n")[:-1]
    rows = []
    for line in lines:
        cells = line.split(SEP)
        assert all(c.startswith(QUOTE) and c.endswith(QUOTE) for c in cells)
        rows.append([c[len(QUOTE):-len(QUOTE)].decode("utf-8") for c in cells])
    return rows[0], rows[1:]


def test_dat_bytes_fields_and_paths(volume):
    out, result = volume
    data = (out / "DATA/VOL001.dat").read_bytes()
    assert b"\xc2\xb6" not in data.split(b"\r\n")[0]  # the separator is 0x14, never U+00B6
    header, rows = parse_bytes(data)
    assert header == FIELDS and all(len(name) <= 12 for name in header)
    assert len(rows) == result.documents == 21 + 4 + 1  # items + media + the edited comment's first version
    assert NL in data and b"\n" not in data.replace(b"\r\n", b"")  # in-field newlines became ®
    for values in rows:
        row = dict(zip(header, values))
        native = out / Path(*row["NATIVEPATH"].split("\\"))
        text = out / Path(*row["TEXTPATH"].split("\\"))
        assert native.is_file() and text.is_file()
        assert native.name.startswith(row["BEGBATES"]) and text.name == row["BEGBATES"] + ".txt"
        blob = native.read_bytes()
        assert hashlib.sha256(blob).hexdigest() == row["SHA256HASH"]
        assert hashlib.md5(blob).hexdigest() == row["MD5HASH"]
        assert row["CUSTODIAN"] == "ocpd-facebook" and row["WARCRECID"].startswith("<urn:uuid:")
        assert " " not in row["BEGBATES"] and len(row["BEGBATES"]) == len("OCPD-SM-") + 7


def test_families_keep_post_and_comments_together(volume):
    out, _ = volume
    header, rows = parse_bytes((out / "DATA/VOL001.dat").read_bytes())
    rows = [dict(zip(header, r)) for r in rows]
    posts = [r for r in rows if r["ITEMTYPE"] == "post"]
    assert len(posts) == 3
    for post in posts:
        family = [r for r in rows if r["BEGATTACH"] == post["BEGBATES"]]
        assert family[0] is post and post["PARENTID"] == ""
        assert all(r["PARENTID"] == post["BEGBATES"] for r in family[1:])
        assert all(r["ENDATTACH"] == family[-1]["ENDBATES"] for r in family)
        assert {"comment", "reply", "media"} <= {r["ITEMTYPE"] for r in family}
    reply = next(r for r in rows if r["ITEMTYPE"] == "reply")
    parent = next(r for r in rows if r["BEGBATES"] == reply["INREPLYTO"])
    assert parent["ITEMTYPE"] == "comment"


def test_opt_lines(volume):
    out, result = volume
    lines = (out / "DATA/VOL001.opt").read_bytes().decode().split("\r\n")[:-1]
    assert len(lines) == result.pages
    header, rows = parse_bytes((out / "DATA/VOL001.dat").read_bytes())
    begins = {dict(zip(header, r))["BEGBATES"]: int(dict(zip(header, r))["PAGECOUNT"]) for r in rows}
    for line in lines:
        fields = line.split(",")
        assert len(fields) == 7 and fields[1] == "VOL001"
        assert (out / Path(*fields[2].split("\\"))).is_file()
        if fields[3] == "Y":
            assert int(fields[6]) == begins[fields[0]]
        else:
            assert fields[6] == ""
    assert {l.split(",")[0] for l in lines if l.split(",")[3] == "Y"} == set(begins)


def test_bates_stamped_bottom_right_and_crossing_a_digit(volume):
    out, result = volume
    assert result.first_bates == "OCPD-SM-0009990"
    for bates in ("OCPD-SM-0009990", "OCPD-SM-0009999", "OCPD-SM-0010000", result.last_bates):
        text = pdf_text(next(out.glob(f"IMAGES/*/{bates}.pdf")))
        assert text.endswith(bates) or bates in text
    assert "Page" not in pdf_text(next(out.glob("IMAGES/*/OCPD-SM-0010000.pdf")))


def test_custody_report(volume):
    out, result = volume
    rows = list(csv.DictReader(open(out / "custody.csv", encoding="utf-8")))
    assert len(rows) == result.documents
    for row in rows:
        assert row["warc_file"].startswith("warc/") and len(row["warc_file_sha256"]) == 64
        assert row["digest_at_export"].startswith("verified ") and row["exported_by"] == "city.attorney"
    assert (out / "custody.pdf").stat().st_size > 1000


def test_second_volume_continues_numbering(volume, archive, export_settings, tmp_path):
    _, first = volume
    out, second = produce(archive, export_settings, tmp_path / "VOL002", start=first.next_start, query="Deleted")
    assert second.first_bates == f"OCPD-SM-{first.next_start:07d}"


def test_changed_archive_record_stops_the_production(export_settings, tmp_path):
    import gzip
    import zlib

    from archiver.errors import ExportError
    from tests.exporters.archive_fixture import build_archive

    fx = build_archive(tmp_path / "a", threads=1, comments=1)
    (key, _), = fx.store.list()
    path = fx.store.root / key
    data = path.read_bytes()
    db = open_index(fx.index_path)
    rid, offset, length = db.conn.execute(
        "SELECT record_id, offset, length FROM records WHERE type = 'response' ORDER BY offset LIMIT 1").fetchone()
    # The same record with one payload byte changed (bit rot, or tampering), as a valid gzip
    # member appended to the object; the index row now points at it.
    raw = zlib.decompress(data[offset:offset + length], 16 + zlib.MAX_WBITS)
    changed = gzip.compress(raw.replace(b'"message": "Traffic', b'"message": "Tr4ffic'))
    path.write_bytes(data + changed)
    db.conn.execute("UPDATE records SET offset = ?, length = ? WHERE record_id = ?", (len(data), len(changed), rid))
    spec = EdiscoverySpec("M", "X", Selection("2024-03-01", "2024-03-31"), tmp_path / "out")
    with pytest.raises(ExportError, match="not exported.*Digest does not match"):
        export_ediscovery(export_settings, db, fx.store, spec, now=NOW)
    # An unreadable record is an export error naming it, never a raw traceback.
    db.conn.execute("UPDATE records SET offset = ? WHERE record_id = ?", (len(data) + 5, rid))
    spec = EdiscoverySpec("M", "X", Selection("2024-03-01", "2024-03-31"), tmp_path / "out2")
    with pytest.raises(ExportError, match="unreadable|truncated|cut short"):
        export_ediscovery(export_settings, db, fx.store, spec, now=NOW)


def dat_rows(out: Path) -> list[dict]:
    header, rows = parse_bytes((out / "DATA/VOL001.dat").read_bytes())
    return [dict(zip(header, r)) for r in rows]


def number(bates: str) -> int:
    return int(bates[len("OCPD-SM-"):])


def test_small_jobs_and_one_process_give_the_same_production(volume, archive, export_settings, tmp_path, monkeypatch):
    """Job boundaries (a family cut across jobs) and the number of workers change nothing."""
    out, _ = volume
    monkeypatch.setattr("archiver.exporters.ediscovery.JOB_DOCS", 4)
    for workers in (2, 0):
        spec = EdiscoverySpec("Doe v. City of Oak Creek", "OCPD-SM-", Selection("2024-03-01", "2024-03-31"),
                              tmp_path / f"w{workers}", start=9990, actor="city.attorney", workers=workers)
        db = open_index(index_copy(archive, tmp_path / f"w{workers}-index.db"))
        export_ediscovery(export_settings, db, archive.store, spec, now=NOW)
        db.conn.close()
        assert (spec.out / "DATA/VOL001.dat").read_bytes() == (out / "DATA/VOL001.dat").read_bytes()
        assert (spec.out / "DATA/VOL001.opt").read_bytes() == (out / "DATA/VOL001.opt").read_bytes()
        assert (spec.out / "custody.csv").read_bytes() == (out / "custody.csv").read_bytes()


def test_start_continues_the_numbering_exactly(volume, archive, export_settings, tmp_path):
    _, first = volume
    out, second = produce(archive, export_settings, tmp_path / "VOL002", start=first.next_start)
    shift = first.next_start - 9990
    earlier = dat_rows(volume[0])
    later = dat_rows(out)
    assert [number(r["BEGBATES"]) - shift for r in later] == [number(r["BEGBATES"]) for r in earlier]
    assert second.next_start == first.next_start + first.pages
    assert pdf_text(next(out.glob(f"IMAGES/*/{second.first_bates}.pdf"))).endswith(second.first_bates)


@pytest.fixture(scope="module")
def long_volume(export_settings, tmp_path_factory):
    """A post whose text runs over several pages, with jobs of 3 documents and custody parts
    of 4 rows, so a family, the numbering and the custody report all cross part boundaries."""
    from tests.exporters.archive_fixture import build_archive

    fx = build_archive(tmp_path_factory.mktemp("long"), threads=2, comments=2)
    db = open_index(fx.index_path)
    db.conn.execute("UPDATE items SET text = ? WHERE kind = 'post' AND platform_id = '1000001_0'",
                    ("A very long statement from the department. " * 700,))
    db.conn.commit()
    db.conn.close()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("archiver.exporters.ediscovery.JOB_DOCS", 3)
        mp.setattr("archiver.exporters.custody.ROWS_PER_PART", 4)
        return produce(fx, export_settings, tmp_path_factory.mktemp("longvol") / "VOL001", start=41)


def test_multi_page_document_spans_its_bates_range(long_volume):
    out, result = long_volume
    rows = dat_rows(out)
    post = rows[0]
    pages = int(post["PAGECOUNT"])
    assert pages > 2 and post["BEGBATES"] == "OCPD-SM-0000041"
    assert number(post["ENDBATES"]) == 41 + pages - 1
    for before, after in zip(rows, rows[1:]):  # no gap, no overlap, across jobs and families
        assert number(after["BEGBATES"]) == number(before["ENDBATES"]) + 1
        assert number(after["ENDBATES"]) - number(after["BEGBATES"]) + 1 == int(after["PAGECOUNT"])
    family = [r for r in rows if r["BEGATTACH"] == post["BEGBATES"]]
    assert len(family) > 3  # longer than one job of 3 documents
    assert all(r["ENDATTACH"] == family[-1]["ENDBATES"] for r in family)
    assert result.pages == sum(int(r["PAGECOUNT"]) for r in rows) and result.next_start == 41 + result.pages
    image = pypdf.PdfReader(out / "IMAGES/001/OCPD-SM-0000041.pdf")
    assert len(image.pages) == pages
    assert [p.extract_text().split()[-1] for p in image.pages] == [f"OCPD-SM-{n:07d}" for n in range(41, 41 + pages)]
    opt = (out / "DATA/VOL001.opt").read_text(encoding="utf-8").splitlines()
    assert opt[0] == f"OCPD-SM-0000041,VOL001,IMAGES\\001\\OCPD-SM-0000041.pdf,Y,,,{pages}"
    assert opt[pages - 1].startswith(post["ENDBATES"] + ",") and opt[pages].split(",")[3] == "Y"


def test_custody_report_in_parts_is_one_numbered_pdf(long_volume):
    out, result = long_volume
    reader = pypdf.PdfReader(out / "custody.pdf")
    assert len(reader.pages) >= 3  # parts of 4 rows each start a page
    assert [p.extract_text().split()[-2:] for p in reader.pages] == [["Page", str(n)] for n in
                                                                   range(1, len(reader.pages) + 1)]
    text = pdf_text(out / "custody.pdf")
    rows = dat_rows(out)
    assert all(r["BEGBATES"] in text for r in rows) and text.count("verified") >= len(rows)
    assert "Chainofcustody" in text and text.count("WARCfiles") == 1


def test_emoji_are_drawn_with_the_colour_emoji_font_when_installed(volume):
    families = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True).stdout \
        if shutil.which("fc-list") else ""
    if "Noto Color Emoji" not in families:
        pytest.skip("fonts-noto-color-emoji is not installed (scripts/test-env.sh installs it)")
    out, _ = volume
    hostile = next(r for r in dat_rows(out) if r["AUTHOR"] == "Mallory")
    page = pypdf.PdfReader(next(out.glob(f"IMAGES/*/{hostile['BEGBATES']}.pdf"))).pages[0]
    fonts = {str(f.get_object()["/BaseFont"]) for f in page["/Resources"]["/Font"].values()}
    assert any("Noto-Color-Emoji" in f for f in fonts), fonts  # not a box from a font without the glyph
