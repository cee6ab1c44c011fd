"""The original WARC records of the exported items, copied byte for byte into one file.

Each record is copied as the gzip member it is stored as, so its WARC-Block-Digest and
WARC-Payload-Digest still verify and ``warcio check`` passes on the copy (domain.md §D3:
record-at-a-time gzip). Records are written in (source file, offset) order, each once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..errors import ExportError
from .records import RecordReader

GZIP_MAGIC = b"\x1f\x8b"


def copy_records(db, store, record_ids: Iterable[str], out: Path) -> int:
    """Write the records to ``out`` (a .warc.gz); returns how many were copied."""
    reader = RecordReader(db, store)
    ids = list(dict.fromkeys(record_ids))
    if not ids:
        return 0
    located = []
    for rid in ids:
        rec = reader.locate(rid)
        if rec is None:
            raise ExportError(f"WARC record {rid} is referenced by the index but not listed in it; run `archiver reindex`")
        located.append(rec)
    located.sort(key=lambda r: (r.object_key, r.offset))
    with open(out, "wb") as fh:
        for rec in located:
            data = reader.raw(rec)
            if not data.startswith(GZIP_MAGIC):
                raise ExportError(f"record {rec.record_id} in {rec.object_key} is not a gzip member")
            fh.write(data)
    return len(located)
