"""WARC writing (archiver.warc): the gzip members any reader can take apart."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
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


def test_without_zlib_ng_the_standard_zlib_writes_the_members(tmp_path):
    # In a process of its own where zlib_ng cannot be imported, as on a platform without its wheel.
    code = ("import sys; sys.modules['zlib_ng'] = None\n"
            "import zlib\n"
            "from datetime import datetime, timezone\n"
            "import archiver.warc as w\n"
            "assert w._deflate is zlib and w.GZIP_LEVEL == 6\n"
            "f = w.WarcFile(w.Path(sys.argv[1]), {'software': 'test'})\n"
            "f.write_metadata('items/1', 'https://graph.example/0', {'n': 1}, datetime.now(timezone.utc))\n"
            "f.close()\n")
    path = tmp_path / "b.warc.gz"
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    data = path.read_bytes()
    members = 0
    while data:
        member = zlib.decompressobj(zlib.MAX_WBITS + 16)
        assert member.decompress(data).startswith(b"WARC/1.1\r\n") and member.eof
        data, members = member.unused_data, members + 1
    assert members == 2


def test_record_ids_are_version_7_uuids_that_grow_with_time(tmp_path):
    # They are index keys: ids that grow are appended at the end of the record-id B-trees
    # instead of rewriting pages all over them at every commit (bench/index_size.py).
    warc = WarcFile(tmp_path / "a.warc.gz", {"software": "test"})
    ids = [warc.warcinfo_id]
    for n in range(3):
        time.sleep(0.002)
        ids.append(warc.write_metadata("items/1", f"https://graph.example/{n}", {"n": n}, WHEN))
    warc.close()
    assert all(re.fullmatch(r"<urn:uuid:[0-9a-f-]{36}>", i) for i in ids), ids
    parsed = [uuid.UUID(i[10:-1]) for i in ids]
    assert {u.version for u in parsed} == {7} and {u.variant for u in parsed} == {uuid.RFC_4122}
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
