"""Fixity audits against the local store and a real S3 protocol server (moto_server)."""

from __future__ import annotations

import json
from datetime import timedelta

from archiver.audit import verify
from archiver.fixity import run_fixity
from archiver.store import open_store
from archiver.timefmt import iso
from tests.ops.support import NOW, finish, index_of, run_collect, start_cli


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def test_local_flipped_deleted_and_unexpected(two_nights):
    settings, cfg = two_nights
    db, store = index_of(settings), open_store(settings)
    clean = run_fixity(db, store, now=NOW)
    assert clean.ok and clean.checked == 2 and clean.bytes > 0
    keys = sorted(k for (k,) in db.conn.execute("SELECT key FROM objects"))
    root = store.root
    flipped = root / keys[0]
    flipped.write_bytes(_flip(flipped.read_bytes(), 500))  # same size: only the hash can tell
    (root / keys[1]).unlink()
    stray = root / "warcs" / "ocpd-facebook" / "stray.warc.gz"
    stray.write_bytes(b"not indexed")

    report = run_fixity(db, store, now=NOW + timedelta(hours=1))
    found = {(p.kind, p.key) for p in report.problems}
    assert found == {("changed", keys[0]), ("missing", keys[1]), ("unexpected", "warcs/ocpd-facebook/stray.warc.gz")}
    assert "sha256 is" in next(p.detail for p in report.problems if p.kind == "changed")

    # The audit log records both audits with their timing and findings, and its chain holds.
    rows = db.conn.execute("SELECT detail FROM audit_log WHERE action = 'fixity' ORDER BY id").fetchall()
    last = json.loads(rows[-1][0])
    assert len(rows) == 2 and last["problems"] == {"changed": 1, "missing": 1, "unexpected": 1}
    assert "seconds" in last and {f["kind"] for f in last["findings"]} == {"changed", "missing", "unexpected"}
    assert verify(db) == []

    code, out, err = finish(start_cli(cfg, "fixity", "--format", "json"))
    assert code == 1, err
    assert {p["kind"] for p in json.loads(out)} == {"changed", "missing", "unexpected"}
    assert "3 problem(s)" in err


def test_sample_rotates_through_the_whole_archive(page, make_config):
    cfg = make_config([page.account()])
    for night in range(4):
        settings, report = run_collect(cfg, NOW + timedelta(days=night))
        assert report.ok
    db, store = index_of(settings), open_store(settings)
    total = db.conn.execute("SELECT count(*) FROM objects").fetchone()[0]
    assert total == 4
    seen = []
    for night in range(2):  # ceil(4 / 2) nights cover everything once
        report = run_fixity(db, store, sample=2, now=NOW + timedelta(days=10 + night))
        assert report.ok and report.checked == 2 and report.cycle_nights == 2
        seen += [k for (k,) in db.conn.execute("SELECT key FROM fixity_checks WHERE checked_at = ?",
                                                (iso(NOW + timedelta(days=10 + night)),))]
    assert sorted(seen) == sorted(k for (k,) in db.conn.execute("SELECT key FROM objects"))
    # The third night starts the next cycle with the object checked longest ago.
    run_fixity(db, store, sample=1, now=NOW + timedelta(days=12))
    again = db.conn.execute("SELECT key FROM fixity_checks WHERE checked_at = ?",
                            (iso(NOW + timedelta(days=12)),)).fetchone()[0]
    assert again in seen[:2]


def test_s3_ranged_reads_find_a_replaced_and_a_deleted_object(page, make_config, s3_bucket):
    url, endpoint, client = s3_bucket
    cfg = make_config([page.account()], storage=url, endpoint=endpoint)
    settings, first = run_collect(cfg, NOW - timedelta(days=1))
    _, second = run_collect(cfg, NOW)
    assert first.ok and second.ok
    db, store = index_of(settings), open_store(settings)
    assert run_fixity(db, store, range_size=4096, now=NOW).ok  # several ranges per object
    keys = sorted(k for (k,) in db.conn.execute("SELECT key FROM objects"))
    bucket, prefix = url[5:].split("/", 1)
    body = client.get_object(Bucket=bucket, Key=f"{prefix}/{keys[0]}")["Body"].read()
    client.put_object(Bucket=bucket, Key=f"{prefix}/{keys[0]}", Body=_flip(body, len(body) - 10))  # new version
    client.delete_object(Bucket=bucket, Key=f"{prefix}/{keys[1]}")  # a delete marker hides it
    report = run_fixity(db, store, range_size=4096, now=NOW)
    # Both archived versions are intact (Object Lock keeps them, and they are what the archiver
    # reads); what fixity reports is that something was put over them.
    assert {(p.kind, p.key) for p in report.problems} == {("replaced", keys[0]), ("replaced", keys[1])}
