"""Request bundle (Wis. Stat. 19.35): a valid bag, WARC copy and WACZ; rendered threads with
hostile content escaped; letter, fees, index; redacted releases leak nothing."""

from __future__ import annotations

import csv
import hashlib
import io
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pypdf
import pytest

from archiver.exporters.letter import REVIEW_NOTICE
from archiver.exporters.request import RequestSpec, export_request
from archiver.exporters.select import Selection
from archiver.index import open_index
from tests.exporters.archive_fixture import PHONE
from tests.exporters.conftest import NOW
from tests.helpers import pdftotext, warcio_check

BIN = Path(sys.executable).parent


def pdf_text(path: Path) -> str:
    """Text of a PDF with whitespace and NULs removed: pypdf decodes WeasyPrint's subset
    fonts with interleaved NULs and spaces, so the comparison is on the glyphs alone."""
    reader = pypdf.PdfReader(io.BytesIO(path.read_bytes()))
    return "".join("".join(page.extract_text().replace("\x00", "").split()) for page in reader.pages)


def bundle(archive, settings, out: Path, **kw) -> tuple[Path, object]:
    db = open_index(archive.index_path)
    spec = RequestSpec("PRR-2024-017", "Jane Q. Public", "2024-04-02", Selection("2024-03-01", "2024-03-31"),
                       out, actor="records.officer", **kw)
    result = export_request(settings, db, archive.store, spec, now=NOW)
    db.conn.close()
    return out, result


@pytest.fixture(scope="module")
def plain(archive, export_settings, tmp_path_factory):
    return bundle(archive, export_settings, tmp_path_factory.mktemp("req") / "bag")


REDACTIONS = f"""
[[redaction]]
item = "*"
term = "{PHONE}"
what = "telephone number of a private individual"
reason = "a private caller's phone number would expose them to unwanted contact"
basis = "balancing test: privacy of a non-party outweighs the public interest"

[[redaction]]
item = "ITEM"
field = "author"
what = "name of a private individual"
reason = "a crash witness who asked not to be named"
basis = "balancing test"
"""


@pytest.fixture(scope="module")
def redacted(archive, export_settings, tmp_path_factory):
    root = tmp_path_factory.mktemp("red")
    (root / "redactions.toml").write_text(REDACTIONS.replace("ITEM", archive.phone_item), encoding="utf-8")
    (root / "deny.toml").write_text('[[reason]]\nrecords = "direct messages"\nreason = "not held"\n'
                                    'basis = "no record exists, s. 19.35(1)"\n', encoding="utf-8")
    return bundle(archive, export_settings, root / "bag", redactions=root / "redactions.toml",
                  deny_reasons=root / "deny.toml")


def test_bag_validates_with_bagit_cli(plain):
    out, result = plain
    run = subprocess.run([str(BIN / "bagit.py"), "--validate", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    info = (out / "bag-info.txt").read_text()
    for needle in ("Source-Organization: Oak Creek Police Department", "WI-Request-ID: PRR-2024-017",
                   "Legal-Custodian: Jane Roe, Chief of Police", "Bagging-Date: 2024-04-05", "Selection-Filter:"):
        assert needle in info
    assert (out / "manifest-sha512.txt").exists() and (out / "manifest-sha256.txt").exists()
    assert result.threads == 3 and result.items == 21


def test_warc_copy_and_wacz_validate(plain):
    out, result = plain
    warc = out / "data/warc/records.warc.gz"
    check = warcio_check(warc)
    assert check.returncode == 0, check.stdout + check.stderr
    assert result.records > 21
    run = subprocess.run([str(BIN / "wacz"), "validate", "-f", str(out / "data/replay/records.wacz")],
                         capture_output=True, text=True)
    assert run.returncode == 0 and "is valid" in run.stdout, run.stdout + run.stderr


def test_warc_records_are_byte_for_byte(plain, archive):
    out, _ = plain
    copy = (out / "data/warc/records.warc.gz").read_bytes()
    db = open_index(archive.index_path)
    for key, offset, length in db.conn.execute("SELECT object_key, offset, length FROM records"):
        assert archive.store.read(key, offset, length) in copy


def test_index_csv_rows_and_native_hashes(plain):
    out, _ = plain
    rows = list(csv.DictReader(open(out / "data/index.csv", encoding="utf-8")))
    assert len(rows) == 21
    assert {"id", "platform", "account", "kind", "author", "created", "status", "url", "native_sha256"} <= set(rows[0])
    assert {r["status"] for r in rows} == {"live", "edited", "hidden", "deleted"}
    for row in rows:
        versions = sorted((out / "data/natives" / row["id"]).glob("v*.json"))
        assert hashlib.sha256(versions[-1].read_bytes()).hexdigest() == row["native_sha256"]
        assert (out / "data" / row["document"]).exists()


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_hostile_comment_is_escaped_in_html_and_pdf(plain):
    out, _ = plain
    html_path = sorted((out / "data/records").glob("00001-*.html"))[0]
    html = html_path.read_text(encoding="utf-8")
    parser = _Elements()
    parser.feed(html)
    assert "script" not in {t for t, _ in parser.tags}
    assert not any(k.startswith("on") for _, attrs in parser.tags for k in attrs)
    assert all(a.get("src", "data:").startswith("data:") for t, a in parser.tags if t == "img")
    assert "&lt;script&gt;alert(" in html
    assert "\u200f" in html  # RTL mark kept inside <bdi>, not stripped
    text = pdf_text(html_path.with_suffix(".pdf"))
    assert '<script>alert("x")</script>' in text  # shown as text, not interpreted or dropped
    assert "Trafficadvisory0" in text


def test_thread_shows_versions_status_and_inline_image(plain, archive):
    out, _ = plain
    html = sorted((out / "data/records").glob("00001-*.html"))[0].read_text(encoding="utf-8")
    assert "first text before the edit" in html and "Version 2" in html
    assert "status-hidden" in html and "status-deleted" in html
    assert 'src="data:image/png;base64,' in html
    assert "data:image/svg" not in html  # SVG can carry script: shipped as a native, never rendered
    assert "CST" in html  # agency time


def test_release_letter_and_fees(plain):
    out, _ = plain
    letter = (out / "data/letter.html").read_text(encoding="utf-8")
    assert "request is granted" in letter and "Jane Roe" in letter and "Chief of Police" in letter
    assert REVIEW_NOTICE not in letter  # no denial, no review notice
    fees = (out / "data/fee-worksheet.html").read_text(encoding="utf-8")
    assert "never charged" in fees and "Total due" in fees
    assert (out / "data/letter.pdf").exists() and (out / "data/README.txt").exists()


def test_redacted_release_leaks_nothing(redacted, plain, archive):
    out, result = redacted
    assert PHONE in pdf_text(sorted((plain[0] / "data/records").glob("00001-*.pdf"))[0])  # control: present unredacted
    assert not (out / "data/warc").exists() and not (out / "data/replay").exists()
    checked = 0
    for path in out.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        assert PHONE.encode() not in data, path
        assert b"Alice Example" not in data, path
        if path.suffix == ".pdf":
            text = pdf_text(path)
            assert PHONE.replace(" ", "") not in text and "AliceExample" not in text, path
            checked += 1
    assert checked >= 5
    log = (out / "data/redaction-log.csv").read_text(encoding="utf-8")
    assert "telephone number of a private individual" in log and "balancing test" in log
    assert result.redactions == 2
    natives = list((out / "data/natives" / archive.phone_item).glob("*.json"))
    assert natives and all("-redacted" in p.name for p in natives)
    assert "[REDACTED]" in natives[0].read_text(encoding="utf-8")


def test_partial_denial_letter_has_reasons_and_verbatim_notice(redacted):
    out, result = redacted
    assert result.denied
    letter = (out / "data/letter.html").read_text(encoding="utf-8")
    assert "granted in part and denied in part" in letter
    assert REVIEW_NOTICE in letter and "mandamus under s. 19.37 (1)" in letter
    assert "direct messages" in letter and "telephone number of a private individual" in letter
    assert "".join(REVIEW_NOTICE.split()) in pdf_text(out / "data/letter.pdf")


def test_unknown_query_syntax_is_a_query_error(archive, export_settings, tmp_path):
    from archiver.errors import QueryError

    db = open_index(archive.index_path)
    spec = RequestSpec("X", "Y", "2024-04-02", Selection("2024-03-01", "2024-03-31", query='"unbalanced'),
                       tmp_path / "bag", pdf=False)
    with pytest.raises(QueryError):
        export_request(export_settings, db, archive.store, spec, now=NOW)


def test_output_directory_is_never_reused(plain, archive, export_settings):
    from archiver.errors import ExportError

    with pytest.raises(ExportError, match="not empty"):
        bundle(archive, export_settings, plain[0])


def request_bundle(archive, settings, out: Path, selection: Selection, **kw):
    db = open_index(archive.index_path)
    spec = RequestSpec("PRR-2024-018", "Jane Q. Public", "2024-04-02", selection, out, actor="records.officer", **kw)
    result = export_request(settings, db, archive.store, spec, now=NOW)
    db.conn.close()
    return out, result


def test_no_responsive_records_letter_says_so_with_the_search(archive, export_settings, tmp_path):
    out, result = request_bundle(archive, export_settings, tmp_path / "bag",
                                 Selection("2023-01-01", "2023-01-31", query="fireworks"))
    assert result.items == 0
    text = pdftotext(out / "data/letter.pdf")
    assert "Determination: no responsive records exist" in text
    assert "from January 1 through January 31, 2023" in text and "“fireworks”" in text
    assert "granted" not in text and "enclosed in full" not in text
    assert " ".join(REVIEW_NOTICE.split()) in text


def test_letter_is_prose_for_a_person(plain):
    """Dates in words in the agency's timezone, the filter in sentences, no reprs, no clock time."""
    out, _ = plain
    text = pdftotext(out / "data/letter.pdf")
    assert "April 5, 2024" in text and "received on April 2, 2024" in text
    assert "created from March 1 through March 31, 2024" in text and "America/Chicago" in text
    assert "Determination: your request is granted." in text and "granted in part" not in text
    import re
    assert not re.search(r"\d{1,2}:\d{2}", text), text  # no clock time on the letter
    for path in (out / "data/letter.html", out / "data/README.txt"):
        body = path.read_text(encoding="utf-8")
        assert "date_from" not in body and "date_to=" not in body and "'2024-03-01'" not in body, path


def test_granted_in_part_only_when_something_was_withheld(archive, export_settings, tmp_path):
    (tmp_path / "redactions.toml").write_text(
        '[[redaction]]\nitem = "*"\nterm = "no such words anywhere"\nwhat = "telephone number"\n'
        'reason = "a private caller would be exposed to unwanted contact"\n'
        'basis = "balancing test"\n', encoding="utf-8")
    out, result = request_bundle(archive, export_settings, tmp_path / "bag", Selection("2024-03-01", "2024-03-31"),
                                 redactions=tmp_path / "redactions.toml", pdf=False)
    assert result.redactions == 0 and not result.denied
    text = pdftotext(out / "data/letter.pdf")
    assert "Determination: your request is granted." in text and "in part" not in text
    assert " ".join(REVIEW_NOTICE.split()) not in text


def test_letter_fees_prepayment_is_the_custodians_choice_and_reduction(archive, export_settings, tmp_path):
    from archiver.exporters.letter import FeeInputs

    out, _ = request_bundle(archive, export_settings, tmp_path / "a", Selection("2024-03-01", "2024-03-31"),
                            fees=FeeInputs(location_hours="3"), pdf=False)
    text = pdftotext(out / "data/letter.pdf")
    assert "Fees: $66.00, as itemized" in text
    assert "prepayment" not in text.lower()  # allowed over $5, but this custodian did not choose it
    sheet = pdftotext(out / "data/fee-worksheet.pdf")
    assert "$66.00" in sheet and "the custodian does not" in sheet

    out, _ = request_bundle(archive, export_settings, tmp_path / "b", Selection("2024-03-01", "2024-03-31"),
                            fees=FeeInputs(location_hours="3", reduced_to="20", waiver="a student newspaper"),
                            pdf=False)
    text = pdftotext(out / "data/letter.pdf")
    assert "$20.00, a charge reduced from $66.00 in the public interest (s. 19.35(3)(e)): a student newspaper" in text
    assert "Reduced to $20.00" in pdftotext(out / "data/fee-worksheet.pdf")


def test_unset_rate_is_a_warning_in_the_worksheet_and_the_result(archive, tmp_path):
    from archiver.config import load_settings
    from archiver.exporters.letter import FeeInputs

    settings = load_settings(archive.config, environ={"ARCHIVER_FEES_LOCATION_HOURLY": ""})
    out, result = request_bundle(archive, settings, tmp_path / "bag", Selection("2024-03-01", "2024-03-31"),
                                 fees=FeeInputs(location_hours="4"), pdf=False)
    assert any("fees.location_hourly is not set" in w for w in result.warnings)
    sheet = pdftotext(out / "data/fee-worksheet.pdf")
    assert "Warning: fees.location_hourly is not set" in sheet and "not priced" in sheet
    assert "not determined: see the warning" in sheet and "Total due $0.00" not in sheet
    letter = pdftotext(out / "data/letter.pdf")
    assert "Fees: not yet determined" in letter and "Fees: none" not in letter
