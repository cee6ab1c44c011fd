"""Rules in small pieces: 19.35(3) fees, Bates formatting, DAT delimiters, redaction files."""

from __future__ import annotations

from decimal import Decimal

import pytest

from archiver.config import load_settings
from archiver.errors import ExportError
from archiver.exporters.bates import Bates
from archiver.exporters.dat import BOM, DatWriter, opt_lines, parse_dat, parse_opt
from archiver.exporters.letter import FeeInputs, fee_worksheet, load_deny_reasons
from archiver.exporters.redact import MARK, Redactor, load_redactions, redact_json


@pytest.fixture
def rates():
    return load_settings(None, environ={"ARCHIVER_FEES_PER_PAGE": "0.25", "ARCHIVER_FEES_LOCATION_HOURLY": "22",
                                        "ARCHIVER_FEES_MAILING": "4.5", "ARCHIVER_FEES_PER_MEDIA": "3"})


def line(sheet, basis):
    return next(l for l in sheet.lines if l.basis.startswith(basis))


def test_location_fee_only_at_50_dollars_or_more(rates):
    under = fee_worksheet(rates, FeeInputs(location_hours=2.0))  # $44
    assert not line(under, "19.35(3)(c)").charged and under.total == 0
    exactly = fee_worksheet(rates, FeeInputs(location_hours="2.5"))  # $55.00
    assert line(exactly, "19.35(3)(c)").amount == Decimal("55.00") and line(exactly, "19.35(3)(c)").charged
    fifty = fee_worksheet(rates, FeeInputs(location_hours=Decimal(50) / Decimal(22)))  # $50.00: "$50 or more"
    assert line(fifty, "19.35(3)(c)").charged and fifty.total == Decimal("50.00")


def test_location_cost_is_compared_with_50_dollars_before_rounding(rates):
    """2.2727 h x $22 = $49.9994: under $50, although it rounds to $50.00 -- not charged."""
    sheet = fee_worksheet(rates, FeeInputs(location_hours="2.2727"))
    location = line(sheet, "19.35(3)(c)")
    assert location.amount == Decimal("49.9994") and not location.charged and sheet.total == 0
    assert "under $50" in location.note


def test_rate_is_multiplied_before_rounding_and_total_rounded_once(tmp_path):
    """$0.125 a page x 101 pages = $12.625 -> $12.63 (a rate rounded first gives $13.13); and
    three lines with fractions of a cent are summed exactly, then rounded once."""
    settings = load_settings(None, environ={"ARCHIVER_FEES_PER_PAGE": "0.125"})
    sheet = fee_worksheet(settings, FeeInputs(printed_pages=101))
    assert line(sheet, "19.35(3)(a)").amount == Decimal("12.625") and sheet.total == Decimal("12.63")
    thirds = load_settings(None, environ={"ARCHIVER_FEES_PER_PAGE": "0.004", "ARCHIVER_FEES_PER_MEDIA": "0.004",
                                          "ARCHIVER_FEES_MAILING": "0.004"})
    once = fee_worksheet(thirds, FeeInputs(printed_pages=1, media=1, mailed=True))
    assert once.total == Decimal("0.01")  # 0.012 rounded once; rounding each line first would give $0.00


def test_redaction_time_is_never_billed_and_prepayment_above_five_is_a_choice(rates):
    sheet = fee_worksheet(rates, FeeInputs(printed_pages=20, redaction_hours=10))
    assert line(sheet, "Milwaukee Journal").amount == 0 and not line(sheet, "Milwaukee Journal").charged
    assert sheet.total == Decimal("5.00") and not sheet.prepayment_allowed  # exactly $5: not "exceeds"
    more = fee_worksheet(rates, FeeInputs(printed_pages=21, mailed=True))
    assert more.total == Decimal("9.75") and more.prepayment_allowed
    assert not more.prepayment_required  # the custodian did not choose to require it
    chosen = load_settings(None, environ={"ARCHIVER_FEES_PER_PAGE": "0.25", "ARCHIVER_FEES_MAILING": "4.5",
                                          "ARCHIVER_FEES_REQUIRE_PREPAYMENT": "true"})
    assert fee_worksheet(chosen, FeeInputs(printed_pages=21, mailed=True)).prepayment_required


def test_waiver_is_recorded_and_zeroes_the_total(rates):
    sheet = fee_worksheet(rates, FeeInputs(printed_pages=100, waiver="news media, public interest"))
    assert sheet.subtotal == Decimal("25.00") and sheet.total == 0 and sheet.waived


def test_reduced_charge_in_the_public_interest(rates):
    """19.35(3)(e): 'free or at a reduced charge' -- a reduction, not only a full waiver."""
    sheet = fee_worksheet(rates, FeeInputs(printed_pages=100, waiver="nonprofit, public interest", reduced_to="10"))
    assert sheet.subtotal == Decimal("25.00") and sheet.total == Decimal("10.00") and not sheet.waived
    assert sheet.reduction == Decimal("15.00")
    with pytest.raises(ExportError, match="public-interest reason"):
        fee_worksheet(rates, FeeInputs(printed_pages=100, reduced_to="10"))


def test_unset_rate_is_a_warning_not_a_zero_fee():
    settings = load_settings(None, environ={"ARCHIVER_FEES_MAILING": "4.5"})
    assert settings["fees.per_page"] is None  # unset is not $0
    sheet = fee_worksheet(settings, FeeInputs(printed_pages=40, mailed=True))
    assert not sheet.complete and any("fees.per_page is not set" in w for w in sheet.warnings)
    assert line(sheet, "19.35(3)(a)").amount is None and sheet.total == Decimal("4.50")
    # Not used, not a warning: electronic delivery needs no per-page rate.
    assert fee_worksheet(settings, FeeInputs()).warnings == []


def test_bates_width_prefix_and_continuation():
    b = Bates("OCPD-SM-", 7, 41)
    assert b.reserve(3) == 41 and b.next == 44 and b.format(43) == "OCPD-SM-0000043"
    with pytest.raises(ExportError):
        Bates("OCPD SM", 7)
    with pytest.raises(ExportError, match="does not fit"):
        Bates("X", 2, 99).reserve(2)
    assert Bates("X", 2, 99).next == 99  # a refused reservation takes nothing
    assert [Bates("X", 7).stamp.text(n) for n in (9999, 10000)] == ["X0009999", "X0010000"]


def test_dat_round_trip_with_hostile_values(tmp_path):
    import io

    buf = io.BytesIO()
    w = DatWriter(buf, ["BEGBATES", "TEXT"])
    w.write({"BEGBATES": "A1", "TEXT": "line one\r\nline two þ quoted \x14 sep ® mark \ud83d"})
    data = buf.getvalue()
    assert data.startswith(BOM) and data.endswith(b"\r\n")
    header, rows = parse_dat(data)
    assert header == ["BEGBATES", "TEXT"]
    assert rows[0]["TEXT"].startswith("line one\nline two") and "\x14" not in rows[0]["TEXT"]
    with pytest.raises(ExportError):
        DatWriter(io.BytesIO(), ["AVERYLONGFIELDNAME"])
    with pytest.raises(ExportError, match="byte-order mark"):
        parse_dat(data[3:])


def test_opt_lines_seven_fields():
    lines = list(opt_lines(["A1", "A2", "A3"], "VOL001", r"IMAGES\001\A1.pdf"))
    assert lines[0] == r"A1,VOL001,IMAGES\001\A1.pdf,Y,,,3" and lines[1] == r"A2,VOL001,IMAGES\001\A1.pdf,,,,"
    assert len(parse_opt("\n".join(lines))) == 3
    with pytest.raises(ExportError):
        parse_opt("A1,VOL,path,Y,,3")


def test_redaction_file_errors(tmp_path):
    bad = tmp_path / "r.toml"
    for body, message in [
        ('[[redaction]]\nitem = "a"\nterm = "xy"\nfield = "author"\nbasis = "b"', "exactly one"),
        ('[[redaction]]\nitem = "a"\nterm = "xy"\nreason = "r"', "missing basis"),
        # 19.36(6) alone is not a reason: the specific harm must be given.
        ('[[redaction]]\nitem = "a"\nterm = "xy"\nbasis = "s. 19.36(6)"', "missing reason.*duty to separate"),
        ('[[redaction]]\nitem = "a"\nfield = "password"\nreason = "r"\nbasis = "b"', "field must be"),
        ('[[redaction]]\nitem = "*"\nspan = [1, 3]\nreason = "r"\nbasis = "b"', "needs one item"),
        ('[[redaction]]\nitem = "*"\nwithhold = true\nreason = "r"\nbasis = "b"', "needs one item"),
        ('[[redaction]]\nitem = "a"\nterm = "x"\nreason = "r"\nbasis = "b"', "single character"),
        ("[[redaction]\n", "not valid TOML"),
    ]:
        bad.write_text(body)
        with pytest.raises(ExportError, match=message):
            load_redactions(bad)
    bad.write_text('[[reason]]\nrecords = "x"\nreason = ""\nbasis = "y"')
    with pytest.raises(ExportError, match="reason"):
        load_deny_reasons(bad)


def test_redact_json_reaches_escaped_and_nested_strings():
    native = '{"message": "call 414-555-0100", "tags": [{"name": "414-555-0100"}], "n": 3}'
    out = redact_json(native, ["414-555-0100"])
    assert "414-555-0100" not in out and out.count(MARK) == 2 and '"n": 3' in out
    escaped = '{"message": "\\u0041lice"}'
    assert "Alice" not in redact_json(escaped, ["Alice"])


def test_span_past_the_end_is_refused(archive):
    from archiver.exporters.records import RecordReader, load_thread
    from archiver.exporters.redact import Redaction
    from archiver.index import open_index

    db = open_index(archive.index_path)
    thread = load_thread(db, RecordReader(db, archive.store), *archive.threads[0])
    entry = next(e for e in thread.entries if e.id == archive.phone_item)
    with pytest.raises(ExportError, match="past the end"):
        Redactor([Redaction(entry.id, "span", [0, 10_000], "r", "b", "w")]).prepare([thread])
    redactor = Redactor([Redaction(entry.id, "span", [0, 4], "r", "b", "w")])
    redactor.prepare([thread])
    red = redactor.entry(entry)
    assert red.text.startswith(MARK) and not red.versions[-1].native.count("Call me")


def test_spellings_find_the_information_in_every_form():
    from archiver.exporters.spellings import Spellings

    find = Spellings(["alert('xss')", "driver27", "414-555-0100", "Ann"])
    for raw, expected in [
        ("<p>alert(&#x27;xss&#x27;)</p>", "<p>[REDACTED]</p>"),  # HTML entities (Mastodon content)
        ("alert(&#39;xss&#39;)", "[REDACTED]"),  # YouTube textDisplay
        ("alert(<b>'xss'</b>) ok", "[REDACTED]<b></b> ok"),  # split by markup: the markup stays
        ('<a href="https://m.example/@driver27">@<span>driver27</span></a>',
         '<a href="https://m.example/@[REDACTED]">@<span>[REDACTED]</span></a>'),  # attribute and text
        ("q=414%2D555%2D0100", "q=[REDACTED]"),  # URL-encoded
        ("alert(\\u0027xss\\u0027)", "[REDACTED]"),  # a JSON escape in non-JSON text
        ("414-555-\u200b0100 and \uff14\uff11\uff14-555-0100", "[REDACTED] and [REDACTED]"),  # zero-width, full-width
        ("DRIVER27! xdriver27 Annual Ann", "[REDACTED]! xdriver27 Annual [REDACTED]"),  # case; whole words only
    ]:
        assert find.redact(raw)[0] == expected, raw


def test_html_text_reads_as_a_person_reads_it():
    from archiver.exporters.readable import readable

    markup = ('<p>Crash at Howell &amp; Rawson.</p><p>See <a href="https://example.gov/t">the page</a><br>'
              'and <a href="https://example.gov/x">example.gov/x</a></p><script>alert(1)</script>')
    assert readable(markup, "mastodon") == ("Crash at Howell & Rawson.\n\nSee the page (https://example.gov/t)\n"
                                           "and example.gov/x")
    assert readable(markup, "facebook") == markup  # text of other platforms is shown as archived


def test_a_withheld_number_is_found_however_its_digits_are_grouped(tmp_path):
    from archiver.exporters.releasecheck import find_leaks
    from archiver.exporters.spellings import Spellings

    find = Spellings(["608-555-0142", "123-45-6789", "2024"])
    for raw, expected in [
        ("call (608) 555-0142 today", "call ([REDACTED] today"),
        ("608.555.0142 / 608 555 0142", "[REDACTED] / [REDACTED]"),
        ("6085550142", "[REDACTED]"),
        ("+1 608-555-0142", "+[REDACTED]"),  # with its country code
        ("16085550142", "[REDACTED]"),
        ("608\u2013555\u20130142", "[REDACTED]"),  # en dashes
        ("\uff16\uff10\uff18 555 0142", "[REDACTED]"),  # full-width digits
        ("608-555-0\u200b142", "[REDACTED]"),  # a zero-width space inside
        ("SSN 123 45 6789", "SSN [REDACTED]"),
        # not the number: longer runs of digits, and a short number matched only as written
        ("46085550142 and 608-555-01429", "46085550142 and 608-555-01429"),
        ("in 2024, 20 24", "in [REDACTED], 20 24"),
    ]:
        assert find.redact(raw)[0] == expected, raw
    # the release check names the redaction the spelling belongs to
    (tmp_path / "letter.txt").write_text("reach me at (608) 555 0142")
    assert find_leaks(tmp_path, find, lambda form: f"value {form}") == ["letter.txt, line 1: value 608-555-0142"]
