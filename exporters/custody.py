"""Chain of custody for a production (domain.md §C7): for each document, where its bytes came
from (WARC file and record id), when they were captured, the digest written at capture and
the digest recomputed now from the stored bytes, the hash of the file produced, and who
exported it when. A record whose bytes no longer match its capture digest stops the export:
evidence with a broken chain is not produced silently.

The printed report (custody.pdf) is rendered from custody.csv in parts of ROWS_PER_PART rows
by the page pool and concatenated, so its memory does not grow with the production; each
row is two fixed lines, and the WARC files with their sha256 are listed once at the top.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Iterator

from ..errors import ExportError
from .imaging import Job, Numbers, PagePool
from .records import RecordReader, WarcRecord, digest_matches
from .render import concatenate_pdfs, render
from .stamp import Stamp

ROWS_PER_PART = 500  # ~16 landscape pages per WeasyPrint render
COLUMNS = ["begbates", "item_id", "itemtype", "warc_file", "warc_file_sha256", "warc_record_id", "captured",
           "digest_at_capture", "digest_at_export", "native_sha256", "exported_by", "exported_at"]


@dataclass
class CustodyRow:
    begbates: str
    item_id: str
    itemtype: str
    warc_file: str
    warc_file_sha256: str
    warc_record_id: str
    captured: str
    digest_at_capture: str
    digest_at_export: str
    native_sha256: str
    exported_by: str
    exported_at: str


class CustodyLog:
    """Writes custody.csv as documents are produced; checks each source record on the way."""

    def __init__(self, fh: IO[str], db, reader: RecordReader, actor: str, at: str):
        self.writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        self.writer.writeheader()
        self.db, self.reader, self.actor, self.at = db, reader, actor, at
        self._object_sha: dict[str, str] = {}
        self.count = 0

    @property
    def files(self) -> list[tuple[str, str]]:
        """(object key, sha256) of every WARC file the production drew on."""
        return sorted(self._object_sha.items())

    def _file_sha(self, key: str) -> str:
        if key not in self._object_sha:
            row = self.db.conn.execute("SELECT sha256 FROM objects WHERE key = ?", (key,)).fetchone()
            self._object_sha[key] = row[0] if row else ""
        return self._object_sha[key]

    def add(self, begbates: str, item_id: str, itemtype: str, rec: WarcRecord | None, native_sha: str) -> CustodyRow:
        digest_now = ""
        if rec is not None:
            source = self.reader.original(rec)
            payload = self.reader.payload(source, decoded=False)
            ok = digest_matches(source.payload_digest, payload)
            if ok is False:
                raise ExportError(
                    f"record {source.record_id} in {source.object_key} no longer matches its capture digest; "
                    "stopping the production (run `archiver fixity` and restore the object from a copy)")
            digest_now = "verified " + (source.payload_digest or "") if ok else "no capture digest to compare"
        row = CustodyRow(begbates, item_id, itemtype, rec.object_key if rec else "",
                         self._file_sha(rec.object_key) if rec else "", rec.record_id if rec else "",
                         rec.date or "" if rec else "", (rec.payload_digest or "") if rec else "",
                         digest_now, native_sha, self.actor, self.at)
        self.writer.writerow(asdict(row))
        self.count += 1
        return row


def write_report(pool: PagePool, rows_csv: Path, target: Path, **context) -> None:
    """custody.pdf from custody.csv; ``context`` fills the template (matter, spec, files...)."""
    rendered = pool.run(_parts(rows_csv, context), Stamp("Page "), Numbers(1).reserve)
    concatenate_pdfs((r.pieces[0][0] for r in rendered), target)


def _parts(rows_csv: Path, context: dict) -> Iterator[Job]:
    with open(rows_csv, newline="", encoding="utf-8") as fh:
        rows = csv.DictReader(fh)
        part = 0
        while (chunk := list(islice(rows, ROWS_PER_PART))) or part == 0:
            anchor = f"part-{part}"
            yield Job(render("exports/custody.html", rows=chunk, part=part, anchor=anchor, **context), [anchor])
            part += 1
