"""An archive built row by row: real SQLite index, real objects in a real store (local
directory or moto's Object Lock bucket), so retention can be tested without a capture run."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.config import load_settings
from archiver.index import item_id, open_index
from archiver.index.queries import record_key
from archiver.index.versions import digest
from archiver.store import LocalStore, S3Store

T0 = datetime(2017, 3, 5, 18, 0, tzinfo=timezone.utc)


def adopted_schedule() -> str:
    """The shipped placeholder's series as an agency adopts them: placeholder removed, adopted
    by an ordinance (``dispose apply`` refuses to destroy under the placeholder)."""
    from importlib.resources import files

    text = files("archiver.schedules").joinpath("wisconsin-default.toml").read_text(encoding="utf-8")
    adopted = text.replace("placeholder = true\n", "").replace('name = "wisconsin-default"', 'name = "oak-creek-pd"')
    adopted = adopted.replace('authority = "Wis. Stat. 19.21(4)(b)"', 'authority = "Ordinance 24-101"')
    adopted = adopted.replace("Wisconsin statutory default (placeholder)", "Oak Creek PD records schedule")
    assert "placeholder = true" not in adopted and "Ordinance 24-101" in adopted
    return adopted


def write_settings(tmp_path: Path, *, storage: str, endpoint: str | None = None, schedule: str | None = None,
                   rules: str = "", extra: str = ""):
    lines = ["[archive]", 'agency = "Oak Creek Police Department"', 'timezone = "America/Chicago"',
             'custodian_name = "Pat Records"', "", "[storage]", f'url = "{storage}"']
    if endpoint:
        lines.append(f'endpoint_url = "{endpoint}"')
    lines += ["", "[index]", f'path = "{tmp_path / "index.db"}"', ""]
    if schedule:
        sched = tmp_path / "agency-schedule.toml"
        sched.write_text(schedule, encoding="utf-8")
        lines += ["[retention]", f'schedule = "{sched}"', ""]
    cfg = tmp_path / "archiver.toml"
    cfg.write_text("\n".join(lines) + "\n" + extra + "\n" + rules, encoding="utf-8")
    return load_settings(cfg, environ={})


class Archive:
    def __init__(self, tmp_path: Path, store, settings):
        self.tmp, self.store, self.settings = tmp_path, store, settings
        self.db = open_index(settings.index_path)

    def add_object(self, key: str, items: list[dict], *, account: str = "ocpd-facebook") -> str:
        """Store a real WARC file under ``key``: per item a response record and the ``items/1``
        metadata record capture writes beside it (archiver.sightings), and index them as ingest
        would -- a new version when the platform id was seen before. ``captured`` (default: the
        item's ``created``) is the capture time of that version."""
        buf = io.BytesIO()
        writer = WARCWriter(buf, gzip=True, warc_version="1.1")
        rows = []

        def write(record) -> str:
            start = buf.tell()
            writer.write_record(record)
            h = record.rec_headers
            rows.append((h.get_header("WARC-Record-ID"), start, buf.tell() - start, h.get_header("WARC-Type"),
                         h.get_header("WARC-Date")))
            return h.get_header("WARC-Record-ID")

        conn = self.db.conn
        versions = []
        for spec in items:
            if "pid" not in spec:
                continue
            pid, acct = spec["pid"], spec.get("account", account)
            text = spec.get("text", f"text of {pid}")
            captured = spec.get("captured", spec["created"])
            body = json.dumps({"id": pid, "message": text, "created_time": spec["created"]}).encode()
            http = StatusAndHeaders("200 OK", [("Content-Type", "application/json")], protocol="HTTP/1.1")
            record = write(writer.create_warc_record(
                f"https://graph.facebook.com/v21.0/{pid}", "response", payload=io.BytesIO(body), http_headers=http,
                warc_headers_dict={"WARC-Date": captured}))
            row = conn.execute("SELECT rowid, versions FROM items WHERE account = ? AND platform_id = ?",
                               (acct, pid)).fetchone()
            vhash = hashlib.sha256(text.encode()).hexdigest()
            change = {"events": ["new"] if row is None else ["edited"],
                      "item": {"platform_id": pid, "kind": spec.get("kind", "post"), "root": spec.get("root", pid),
                               "created_at": spec["created"], "is_department": int(spec.get("dept", True))},
                      "version": {"hash": vhash, "text": text}}
            payload = json.dumps({"run": "run-" + key, "account": acct, "platform": "facebook", "source": record,
                                  "uri": f"https://graph.facebook.com/v21.0/{pid}", "seen": [], "changes": [change],
                                  "threads": []}).encode()
            meta = write(writer.create_warc_record(
                f"urn:archiver:run:run-{key}", "metadata", payload=io.BytesIO(payload), length=len(payload),
                warc_content_type="application/json",
                warc_headers_dict={"WARC-Date": captured, "Archiver-Metadata": "items/1", "WARC-Refers-To": record}))
            versions.append((spec, pid, acct, text, captured, record, meta, vhash, row))
        path = self.tmp / "spool" / key.replace("/", "_")
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(buf.getvalue())
        sha = hashlib.sha256(buf.getvalue()).hexdigest()
        self.store.put(key, path, sha)
        dates = [r[4] for r in rows]
        conn.execute("INSERT INTO objects (key, account, run_id, sha256, size, stored_at, first_date, last_date)"
                     " VALUES (?,?,?,?,?,?,?,?)", (key, account, "run-" + key, sha, len(buf.getvalue()),
                                                   "2017-03-06T00:00:00Z", min(dates, default=None),
                                                   max(dates, default=None)))
        conn.executemany("INSERT INTO records (record_id, object_key, offset, length, type, date) VALUES (?,?,?,?,?,?)",
                         [(rid, key, off, length, kind, day) for rid, off, length, kind, day in rows])
        for spec, pid, acct, text, captured, record, meta, vhash, row in versions:
            row = conn.execute("SELECT rowid, versions FROM items WHERE account = ? AND platform_id = ?",
                               (acct, pid)).fetchone()
            if row is None:
                rowid = conn.execute(
                    "INSERT INTO items (id, account, platform, platform_id, kind, root, author, is_department, text,"
                    " created_at, status, versions, first_seen, last_seen, record) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (item_id("facebook", acct, pid), acct, "facebook", pid, spec.get("kind", "post"),
                     spec.get("root", pid), spec.get("author", "Oak Creek PD" if spec.get("dept", True) else "Jo Public"),
                     int(spec.get("dept", True)), text, spec["created"], "live", 1, captured, captured,
                     record_key(conn, record))).lastrowid
                n = 1
            else:
                rowid, n = row[0], row[1] + 1
                conn.execute("UPDATE items SET versions = ?, text = ?, record = ?, last_seen = ? WHERE rowid = ?",
                             (n, text, record_key(conn, record), captured, rowid))
            conn.execute("INSERT INTO versions (item_rowid, n, hash, text, first_seen, last_seen, record,"
                         " meta_record) VALUES (?,?,?,?,?,?,?,?)",
                         (rowid, n, digest(vhash), text, captured, captured, record_key(conn, record),
                          record_key(conn, meta)))
        return key

    def item(self, pid: str, account: str = "ocpd-facebook") -> str:
        return item_id("facebook", account, pid)

    def index_keys(self) -> set[str]:
        return {r[0] for r in self.db.conn.execute("SELECT key FROM objects")}

    def store_keys(self) -> set[str]:
        return {k for k, _ in self.store.list()}


@pytest.fixture
def local_archive(tmp_path):
    def make(**kw):
        settings = write_settings(tmp_path, storage=str(tmp_path / "store"), **kw)
        return Archive(tmp_path, LocalStore(tmp_path / "store"), settings)
    return make


@pytest.fixture
def s3_archive(tmp_path, s3_bucket):
    url, endpoint, client = s3_bucket

    def make(**kw):
        settings = write_settings(tmp_path, storage=url, endpoint=endpoint, **kw)
        archive = Archive(tmp_path, S3Store(url, endpoint), settings)
        archive.client = client
        return archive
    return make
