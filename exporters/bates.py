"""Bates numbers: prefix + fixed-width zero-padded number, no space (domain.md §C5:
FTC BC guide — consistent width, leading zeros, "ABC 0001" refused; DOJ ATR — prefix with
no spaces). Page-level numbers for image productions: a document's BEGBATES is its first
page's number, ENDBATES its last page's.

A Bates number identifies one page for everyone in the matter, so a number is never issued
twice under a prefix. The index records every range a production issued
(``production_bates_ranges``): a new production starts after the last one by default, a
``--start`` inside an issued range is refused, and a production that would run into a later
issued range stops there (``Bates.limit``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ExportValueError, ExportError
from ..index import transaction
from .stamp import Stamp

_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,30}$")


@dataclass
class Bates:
    prefix: str
    width: int = 7
    next: int = 1
    limit: int | None = None  # the last number this production may issue (the next issued range is above it)
    legend: str = ""  # a protective-order designation stamped bottom left of every page (``stamp``)
    blocking: "IssuedRange | None" = None  # the issued range that sets ``limit``, for the refusal

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.prefix):
            raise ExportError(f"Bates prefix {self.prefix!r} must be letters, digits, '-', '_' or '.', "
                              "with no spaces (e.g. OCPD-SM-)")
        if self.next < 1:
            raise ExportValueError("--start must be 1 or more")

    def format(self, n: int) -> str:
        if n >= 10 ** self.width:
            raise ExportError(f"Bates number {n} does not fit in {self.width} digits; use a new prefix")
        return self.stamp.text(n)

    def reserve(self, pages: int) -> int:
        """Reserve ``pages`` consecutive numbers (a document, or a job of several documents,
        in production order); returns the first. Refused when the last would not fit, or would
        reach a range an earlier volume issued."""
        first, last = self.next, self.next + max(pages, 1) - 1
        self.format(last)
        if self.limit is not None and last > self.limit:
            raise ExportValueError(
                f"this production would reach Bates number {self.format(self.limit + 1)}, already issued by "
                f"{self.blocking.describe()}; the volume is incomplete: delete it and produce again without "
                "--start (to continue after the last issued number) or with a --start after that range")
        self.next = last + 1
        return first

    @property
    def stamp(self) -> Stamp:
        """How the numbers are endorsed on the page images (bottom right, see ``stamp``)."""
        return Stamp(self.prefix, self.width, self.legend)


@dataclass(frozen=True)
class IssuedRange:
    prefix: str
    first: int
    last: int
    width: int
    volume: str
    matter: str
    out: str
    produced_at: str

    def describe(self) -> str:
        stamp = Stamp(self.prefix, self.width)
        return (f"volume {self.volume} of {self.matter!r} ({stamp.text(self.first)}–{stamp.text(self.last)}, "
                f"produced {self.produced_at[:10]} to {self.out})")


def issued(db, prefix: str) -> list[IssuedRange]:
    """The ranges issued under ``prefix``, in number order."""
    return [IssuedRange(*row) for row in db.conn.execute(
        "SELECT prefix, first, last, width, volume, matter, out, produced_at FROM production_bates_ranges "
        "WHERE prefix = ? ORDER BY first", (prefix,))]


def plan(db, prefix: str, width: int, start: int | None, *, legend: str = "") -> Bates:
    """The numbering of a new production: after the last issued range when ``start`` is None,
    else from ``start``, which must not be inside an issued range; it may fill a gap below a
    later range, up to that range (``Bates.limit``)."""
    ranges = issued(db, prefix)
    if start is None:
        return Bates(prefix, width, max((r.last for r in ranges), default=0) + 1, legend=legend)
    bates = Bates(prefix, width, start, legend=legend)
    for r in ranges:
        if r.first <= start <= r.last:
            raise ExportValueError(
                f"--start {start} overlaps Bates numbers already issued by {r.describe()}; leave out --start to "
                f"continue after the last issued number ({max(x.last for x in ranges) + 1}), or use another prefix")
        if r.first > start:
            bates.limit, bates.blocking = r.first - 1, r
            break
    return bates


def record(db, bates: Bates, first: int, *, volume: str, matter: str, out: str, produced_at: str,
           produced_by: str) -> None:
    """File the range a finished production issued (``first`` to ``bates.next - 1``)."""
    last = bates.next - 1
    if last < first:  # nothing was numbered
        return
    with transaction(db):
        clash = [r for r in issued(db, bates.prefix) if r.first <= last and first <= r.last]
        if clash:  # another production of the same prefix finished meanwhile
            raise ExportValueError(f"Bates numbers {bates.format(first)}–{bates.format(last)} were issued "
                                    f"meanwhile by {clash[0].describe()}; delete this volume and produce again")
        db.conn.execute(
            "INSERT INTO production_bates_ranges (prefix, first, last, width, volume, matter, out, produced_at, "
            "produced_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (bates.prefix, first, last, bates.width, volume, matter, out, produced_at, produced_by))
