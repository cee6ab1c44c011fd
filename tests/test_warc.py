"""WARC writing (archiver.warc): the gzip members any reader can take apart."""

from __future__ import annotations

import zlib
from datetime import datetime, timezone

from archiver.warc import WarcFile

WHEN = datetime(2026, 11, 21, 3, 0, tzinfo=timezone.utc)


def test_every_record_is_a_gzip_member_the_standard_library_reads(tmp_path):
    # Written with zlib-ng where it is installed: the same deflate format, read here by zlib.
    warc = WarcFile(tmp_path / "a.warc.gz", {"software": "test"})
    payloads = [{"n": n, "text": "שלום 👩‍👩‍👧 " * 50 * n} for n in range(1, 6)]
    for n, payload in enumerate(payloads):
        warc.write_metadata("items/1", f"https://graph.example/{n}", payload, WHEN)
    data = warc.close().path.read_bytes()
    records = []
    while data:
        member = zlib.decompressobj(zlib.MAX_WBITS + 16)
        records.append(member.decompress(data))
        assert member.eof
        data = member.unused_data
    assert len(records) == 1 + len(payloads)  # warcinfo, then one member per metadata record
    assert all(r.startswith(b"WARC/1.1\r\n") and r.endswith(b"\r\n\r\n") for r in records)
    assert b'"n":5' in records[-1] and "👩‍👩‍👧".encode() in records[-1]
