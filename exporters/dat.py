"""Concordance/Relativity DAT and Opticon OPT load files (domain.md §C1, §C2).

DAT: UTF-8 with a BOM (Relativity detects the encoding only from a BOM), a header row,
field separator byte 0x14 (ASCII 20 — shown as ¶ only in code page 437, so never U+00B6),
text qualifier þ (U+00FE), ® (U+00AE) for a newline inside a field, CRLF after every record
including the last (Concordance needs it to load the last record). Field names are 12
characters or fewer (Concordance truncates longer ones).

OPT: one comma-separated line of exactly 7 fields per page image: image key, volume, path,
document break ``Y`` on a document's first page, folder break, box break, page count on the
first page only.
"""

from __future__ import annotations

from typing import IO, Iterable, Iterator, Mapping, Sequence

from ..errors import ExportError

SEP = "\x14"
QUOTE = "\u00fe"
NEWLINE = "\u00ae"
BOM = b"\xef\xbb\xbf"
MAX_NAME = 12


def _field(value) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", NEWLINE)
    # The delimiters cannot appear inside a value; archived text could contain them.
    text = text.replace(QUOTE, "").replace(SEP, " ")
    return QUOTE + text.encode("utf-8", "replace").decode("utf-8") + QUOTE


class DatWriter:
    def __init__(self, fh: IO[bytes], fields: Sequence[str]):
        long = [f for f in fields if len(f) > MAX_NAME or f != f.upper()]
        if long:
            raise ExportError(f"DAT field names must be upper case and at most {MAX_NAME} characters: {long}")
        self.fh = fh
        self.fields = list(fields)
        fh.write(BOM)
        self._line(self.fields)

    def _line(self, values: Iterable) -> None:
        self.fh.write((SEP.join(_field(v) for v in values) + "\r\n").encode("utf-8"))

    def write(self, row: Mapping) -> None:
        self._line(row.get(f) for f in self.fields)


def parse_dat(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    """Parse a DAT written by any tool using these delimiters (for ``verify``)."""
    if not data.startswith(BOM):
        raise ExportError("the DAT file does not start with a UTF-8 byte-order mark")
    try:
        text = data[len(BOM):].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExportError(f"the DAT file is not valid UTF-8 ({exc})") from None
    if text and not text.endswith("\r\n"):
        raise ExportError("the DAT file's last record does not end with CRLF")
    lines = [line for line in text.split("\r\n")[:-1]]
    if not lines:
        raise ExportError("the DAT file has no header row")
    header = _split(lines[0], 1)
    rows = []
    for n, line in enumerate(lines[1:], 2):
        values = _split(line, n)
        if len(values) != len(header):
            raise ExportError(f"DAT line {n} has {len(values)} fields, the header has {len(header)}")
        rows.append(dict(zip(header, (v.replace(NEWLINE, "\n") for v in values))))
    return header, rows


def _split(line: str, n: int) -> list[str]:
    out = []
    for cell in line.split(SEP):
        if len(cell) < 2 or cell[0] != QUOTE or cell[-1] != QUOTE:
            raise ExportError(f"DAT line {n}: a field is not enclosed in þ")
        out.append(cell[1:-1])
    return out


def opt_lines(key_pages: Sequence[str], volume: str, path: str | Sequence[str]) -> Iterator[str]:
    """OPT lines for one document: its page images are the pages of one PDF at ``path``, or one
    file per page when ``path`` is a list (single-page TIFF or JPG)."""
    paths = [path] * len(key_pages) if isinstance(path, str) else path
    for i, (key, page_path) in enumerate(zip(key_pages, paths, strict=True)):
        first = i == 0
        yield ",".join([key, volume, page_path, "Y" if first else "", "", "", str(len(key_pages)) if first else ""])


def parse_opt(text: str) -> list[list[str]]:
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        fields = line.split(",")
        if len(fields) != 7:
            raise ExportError(f"OPT line {n} has {len(fields)} fields, not 7")
        rows.append(fields)
    if rows and rows[0][3] != "Y":
        raise ExportError("OPT: the first line is not a document break (Y)")
    return rows
