"""Bates numbers: prefix + fixed-width zero-padded number, no space (domain.md §C5:
FTC BC guide — consistent width, leading zeros, "ABC 0001" refused; DOJ ATR — prefix with
no spaces). Page-level numbers for image productions: a document's BEGBATES is its first
page's number, ENDBATES its last page's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ExportError

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
        return f"{self.prefix}{n:0{self.width}d}"

    def take(self, pages: int) -> tuple[str, str]:
        """Reserve ``pages`` consecutive numbers; returns (BEGBATES, ENDBATES)."""
        first, last = self.next, self.next + max(pages, 1) - 1
        self.next = last + 1
        return self.format(first), self.format(last)

    def stamp_css(self, start: int) -> str:
        """CSS stamping the page-level Bates number bottom right, first page = ``start``.

        CSS counters cannot zero-pad, so the leading zeros are literal text; where the
        number gains a digit inside one rendering (e.g. 0009999 → 0010000) an
        ``@page :nth()`` rule switches to one zero fewer from that page on.
        """
        self.format(start)
        rules = [f"@page:first {{ counter-reset: page {start} }}"]
        digits = len(str(start))
        rules.append(self._stamp("", self.width - digits))
        for d in range(digits + 1, self.width + 1):
            page_no = 10 ** (d - 1) - start + 1  # 1-based page of this rendering reaching d digits
            rules.append(self._stamp(f":nth(n+{page_no})", self.width - d))
        return "\n".join(rules)

    def _stamp(self, selector: str, zeros: int) -> str:
        text = (self.prefix + "0" * zeros).replace('"', '\\"')
        # !important: the records stylesheet puts "Page n of m" bottom left, which would show
        # the Bates counter as a page number.
        return (f'@page{selector} {{ @bottom-left {{ content: none !important }} @bottom-right {{ content: "{text}" '
                'counter(page) !important; font: bold 9pt "DejaVu Sans Mono", monospace; } }')
