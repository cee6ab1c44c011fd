"""Bates numbers: prefix + fixed-width zero-padded number, no space (domain.md §C5:
FTC BC guide — consistent width, leading zeros, "ABC 0001" refused; DOJ ATR — prefix with
no spaces). Page-level numbers for image productions: a document's BEGBATES is its first
page's number, ENDBATES its last page's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ExportError
from .stamp import Stamp

_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,30}$")


@dataclass
class Bates:
    prefix: str
    width: int = 7
    next: int = 1

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.prefix):
            raise ExportError(f"Bates prefix {self.prefix!r} must be letters, digits, '-', '_' or '.', "
                              "with no spaces (e.g. OCPD-SM-)")
        if self.next < 1:
            raise ExportError("--start must be 1 or more")

    def format(self, n: int) -> str:
        if n >= 10 ** self.width:
            raise ExportError(f"Bates number {n} does not fit in {self.width} digits; use a new prefix")
        return self.stamp.text(n)

    def reserve(self, pages: int) -> int:
        """Reserve ``pages`` consecutive numbers (a document, or a job of several documents,
        in production order); returns the first. Refused when the last would not fit."""
        first, last = self.next, self.next + max(pages, 1) - 1
        self.format(last)
        self.next = last + 1
        return first

    @property
    def stamp(self) -> Stamp:
        """How the numbers are endorsed on the page images (bottom right, see ``stamp``)."""
        return Stamp(self.prefix, self.width)
