"""S3 versions (moto_server, a bucket with Object Lock): the archiver records the VersionId of
what it stores and reads that version, so a plain PutObject or a delete marker over a
locked object changes nothing the archiver reads, exports or rebuilds -- and fixity says so."""

from __future__ import annotations

from datetime import timedelta

import pytest

from archiver.errors import UploadError
from archiver.exporters.records import RecordReader, WarcRecord
from archiver.fixity import run_fixity
from archiver.index import open_index
from archiver.reindex import reindex
from archiver.store import open_store
from tests.ops.support import NOW, index_of, run_collect


def test_a_replaced_version_is_not_what_the_archiver_reads(page, make_config, s3_bucket, tmp_path):
    url, endpoint, client = s3_bucket
    cfg = make_config([page.account()], storage=url, endpoint=endpoint)
    settings, night = run_collect(cfg, NOW - timedelta(days=1))
    assert night.ok
    db = index_of(settings)
    store = open_store(settings)
    (key, size, version), = db.conn.execute("SELECT key, size, version_id FROM objects").fetchall()
    assert version  # recorded at upload
    original = store.read(key, version=version)
    bucket, prefix = store.bucket, store.prefix
    # The archiver itself never writes over a key (If-None-Match: *): the same bytes again (an
    # upload a crash kept from being indexed) are that upload; other bytes are refused.
    assert store.put_bytes(key, original).version == version
    with pytest.raises(UploadError, match="already exists"):
        store.put_bytes(key, b"other bytes")

    # Anyone with s3:PutObject can put a new version above the locked one.
    client.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=b"WARC/1.1\r\nnothing to see\r\n\r\n")
    assert store.read(key) != original  # what a plain read (the latest version) now returns

    rec = WarcRecord(*db.conn.execute("SELECT record_id, object_key, offset, length, type, target_uri, date,"
                                      " payload_digest FROM records WHERE type = 'metadata' LIMIT 1").fetchone())
    assert RecordReader(db, store).raw(rec) == original[rec.offset:rec.offset + rec.length]

    report = run_fixity(db, store)
    assert [(p.kind, p.key) for p in report.problems] == [("replaced", key)]
    assert db.conn.execute("SELECT result, sha256 FROM fixity_checks WHERE key = ?", (key,)).fetchone() == (
        "ok", db.conn.execute("SELECT sha256 FROM objects WHERE key = ?", (key,)).fetchone()[0])

    # A delete marker hides the key from a plain listing; the archived version is still read.
    client.delete_object(Bucket=bucket, Key=f"{prefix}/{key}")
    assert [p.kind for p in run_fixity(db, store).problems] == ["replaced"]
    rebuilt = reindex(store, settings.index_path, into=tmp_path / "rebuilt.db", now=NOW)
    assert rebuilt.ok and rebuilt.objects == 1
    again = open_index(tmp_path / "rebuilt.db")
    assert again.conn.execute("SELECT version_id, size FROM objects").fetchone() == (version, size)
    count = "SELECT count(*) FROM items"
    assert again.conn.execute(count).fetchone() == db.conn.execute(count).fetchone()
