"""A damaged or forged WARC record is never indexed or exported, and one bad object does not
stop a reindex: everything else is rebuilt, each bad object is listed with why, exit 1."""

from __future__ import annotations

import struct
import zlib

import pytest

from archiver.errors import ExportError
from archiver.exporters.warccopy import copy_records
from archiver.index import open_index
from archiver.reindex import reindex
from archiver.store import open_store
from tests.ops.support import NOW, finish, index_of, start_cli

TEXT = b"Road closure on Drexel Ave"


def _target(settings):
    """(object path in the local store, record id, offset, length) of the metadata record
    that carries the road-closure post."""
    db = index_of(settings)
    store = open_store(settings)
    for record_id, key, offset, length in db.conn.execute(
            "SELECT record_id, object_key, offset, length FROM records WHERE type = 'metadata' ORDER BY object_key, offset"):
        if TEXT in zlib.decompress(store.read(key, offset, length), zlib.MAX_WBITS + 16):
            return store.root / key, record_id, offset, length
    raise AssertionError("no metadata record with the post")


def _flip(path, offset, length) -> None:
    data = bytearray(path.read_bytes())
    data[offset + length // 2] ^= 0x20
    path.write_bytes(bytes(data))


def _forge(path, offset, length) -> None:
    """Edit the post's text inside the record and re-compress it: a valid gzip member (CRC
    and size right) of the same length, whose WARC digests no longer match."""
    data = path.read_bytes()
    raw = zlib.decompress(data[offset:offset + length], zlib.MAX_WBITS + 16)
    forged = raw.replace(TEXT, b"Road opening on Drexel Ave")
    assert forged != raw and len(forged) == len(raw)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflate.compress(forged) + deflate.flush()
    trailer = struct.pack("<II", zlib.crc32(forged), len(forged))
    pad = length - (10 + len(body) + len(trailer)) - 1  # a gzip FCOMMENT field fills the member out
    assert pad >= 0
    member = b"\x1f\x8b\x08\x10" + b"\x00" * 4 + b"\x00\xff" + b"c" * pad + b"\x00" + body + trailer
    assert len(member) == length and zlib.decompress(member, zlib.MAX_WBITS + 16) == forged
    path.write_bytes(data[:offset] + member + data[offset + length:])


@pytest.mark.parametrize("damage", [_flip, _forge], ids=["flipped-byte", "forged-record"])
def test_reindex_leaves_out_and_lists_a_damaged_object(two_nights, damage, tmp_path):
    settings, cfg = two_nights
    original = index_of(settings)
    path, record_id, offset, length = _target(settings)
    damage(path, offset, length)
    bad_key = "warcs/" + path.relative_to(open_store(settings).root / "warcs").as_posix()

    report = reindex(open_store(settings), settings.index_path, into=tmp_path / "rebuilt.db", now=NOW)
    assert [p.key for p in report.problems] == [bad_key]
    assert "damaged" in report.problems[0].reason and f"byte {offset}" in report.problems[0].reason
    rebuilt = open_index(tmp_path / "rebuilt.db")
    others = original.conn.execute("SELECT key FROM objects WHERE key != ? ORDER BY key", (bad_key,)).fetchall()
    assert rebuilt.conn.execute("SELECT key FROM objects ORDER BY key").fetchall() == others
    assert rebuilt.conn.execute("SELECT count(*) FROM records WHERE record_id = ?", (record_id,)).fetchone()[0] == 0

    code, out, err = finish(start_cli(cfg, "reindex", "--into", str(tmp_path / "cli.db")))
    assert code == 1 and "Traceback" not in err
    assert f"not rebuilt: {bad_key}" in err and '"problems": 1' in out
    assert (tmp_path / "cli.db").exists() and not (tmp_path / "cli.db.partial").exists()


@pytest.mark.parametrize("damage", [_flip, _forge], ids=["flipped-byte", "forged-record"])
def test_an_export_refuses_a_damaged_record(two_nights, damage, tmp_path):
    settings, _ = two_nights
    path, record_id, offset, length = _target(settings)
    db, store = index_of(settings), open_store(settings)
    copy_records(db, store, [record_id], tmp_path / "before.warc.gz")  # intact: exported
    damage(path, offset, length)
    with pytest.raises(ExportError, match=f"record {record_id} is not exported.*damaged"):
        copy_records(db, store, [record_id], tmp_path / "after.warc.gz")
