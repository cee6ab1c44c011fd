"""Endorsing rendered pages with a number at the bottom right (Bates numbers, report pages).

Why after layout and not in CSS: a page's number depends on how many pages every earlier
document took, which is known only once those are laid out. The endorsement sits in the
bottom margin, so it never changes where a page breaks; documents can therefore be laid out
in parallel (``imaging``) and each page endorsed while its PDF is written, through
WeasyPrint's ``finisher`` hook (it receives the ``pydyf.PDF`` just before the trailer is
written).

The text is drawn in Courier-Bold, one of the 14 standard fonts every PDF reader provides
(ISO 32000-1 §9.6.2.2): nothing is embedded, and the number is extracted as plain text
(pypdf, review platforms), which a Bates endorsement must be.

A protective-order designation ("CONFIDENTIAL", "HIGHLY CONFIDENTIAL - ATTORNEYS' EYES ONLY")
is endorsed the same way at the bottom left of every page, opposite the Bates number. The
standard fonts draw WinAnsi text only, so the designation is printable ASCII (``check_legend``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pydyf

from ..errors import ExportValueError

FONT = "ArchiverStamp"  # resource name; WeasyPrint names its own fonts differently
SIZE = 9  # points
ADVANCE = 0.6  # Courier's advance width per character, in em (every glyph is 600/1000)
RIGHT = 0.7 * 72  # points from the right edge: the records stylesheet's right margin
BASELINE = 0.35 * 72  # points above the bottom edge, inside the 0.8in bottom margin
LEFT = 0.7 * 72  # points from the left edge: the records stylesheet's left margin
MAX_LEGEND = 60  # characters: room on a letter page beside a 20-character Bates number


@dataclass(frozen=True)
class Stamp:
    """``prefix`` + the page number zero-padded to ``width`` digits (no space: domain.md §C5)."""

    prefix: str
    width: int = 1
    legend: str = ""  # drawn bottom left of every page when given

    def text(self, n: int) -> str:
        return f"{self.prefix}{n:0{self.width}d}"

    def finisher(self, first: int):
        """A WeasyPrint ``finisher`` numbering the written pages from ``first``."""
        return lambda _document, pdf: endorse(pdf, [self.text(first + i) for i in range(len(_pages(pdf)))],
                                              self.legend)


def check_legend(legend: str) -> str:
    """A designation that can be drawn in a standard font and read back as text."""
    legend = " ".join(legend.split())
    if not legend.isascii() or not legend.isprintable() or len(legend) > MAX_LEGEND:
        raise ExportValueError(f"--confidentiality must be printable ASCII of at most {MAX_LEGEND} characters "
                                "(write - for a dash), e.g. \"CONFIDENTIAL\"")
    return legend


def endorse(pdf: pydyf.PDF, labels: list[str], legend: str = "") -> None:
    """Draw ``labels[i]`` at the bottom right of page ``i`` of a PDF WeasyPrint is writing, and
    ``legend`` (if any) at the bottom left of every page."""
    font = pydyf.Dictionary({"Type": "/Font", "Subtype": "/Type1", "BaseFont": "/Courier-Bold",
                             "Encoding": "/WinAnsiEncoding"})
    pdf.add_object(font)
    # WeasyPrint's page stream starts by flipping the y axis and need not restore it. Wrapping
    # it in q ... Q returns to the default coordinates (origin bottom left) for the stamp.
    save = pydyf.Stream([b"q"])
    pdf.add_object(save)
    for page, label in zip(_pages(pdf), labels):
        fonts = _resolve(pdf, _resolve(pdf, page["Resources"])["Font"])
        fonts[FONT] = font.reference
        _left, bottom, right, _top = (float(v) for v in page["MediaBox"])
        x = right - RIGHT - len(label) * ADVANCE * SIZE
        y = bottom + BASELINE
        stamp = pydyf.Stream([b"Q", *_text(label, x, y), *(_text(legend, _left + LEFT, y) if legend else [])])
        pdf.add_object(stamp)
        page["Contents"] = pydyf.Array([save.reference, page["Contents"], stamp.reference])


def _text(text: str, x: float, y: float) -> list[bytes]:
    return [b"BT", f"/{FONT} {SIZE} Tf".encode(), f"1 0 0 1 {x:.2f} {y:.2f} Tm".encode(),
            pydyf.String(text).data + b" Tj", b"ET"]


def _pages(pdf: pydyf.PDF) -> list[pydyf.Dictionary]:
    # pydyf lists pages as a flat "N 0 R" triple per page in /Kids; N indexes pdf.objects.
    return [pdf.objects[number] for number in pdf.pages["Kids"][::3]]


def _resolve(pdf: pydyf.PDF, value):
    """WeasyPrint links shared resources by reference (b"N 0 R"); follow one to its object."""
    if isinstance(value, (bytes, str)):
        return pdf.objects[int(value.split()[0])]
    return value
