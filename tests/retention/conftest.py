"""An archive built row by row: real SQLite index, real objects in a real store (local
directory or moto's Object Lock bucket), so retention can be tested without a capture run."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from archiver.config import load_settings
from archiver.index import item_id, open_index
from archiver.store import LocalStore, S3Store

T0 = datetime(2017, 3, 5, 18, 0, tzinfo=timezone.utc)


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
        """Store a real file under ``key`` and index one response record per item (a new
        version when the platform id was seen before)."""
        body = json.dumps(items, sort_keys=True).encode() + uuid.uuid4().bytes
        path = self.tmp / "spool" / key.replace("/", "_")
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(body)
        sha = hashlib.sha256(body).hexdigest()
        self.store.put(key, path, sha)
        conn = self.db.conn
        conn.execute("INSERT INTO objects (key, account, run_id, sha256, size, stored_at) VALUES (?,?,?,?,?,?)",
                     (key, account, "run-" + key, sha, len(body), "2017-03-06T00:00:00Z"))
        for offset, spec in enumerate(items):
            record = f"<urn:uuid:{uuid.uuid4()}>"
            conn.execute("INSERT INTO records (record_id, object_key, offset, length, type, payload_digest)"
                         " VALUES (?,?,?,?,?,?)", (record, key, offset * 10, 10, spec.get("type", "response"),
                                                    spec.get("digest")))
            if "pid" not in spec:
                continue
            pid, acct = spec["pid"], spec.get("account", account)
            text = spec.get("text", f"text of {pid}")
            row = conn.execute("SELECT rowid, versions FROM items WHERE account = ? AND platform_id = ?",
                               (acct, pid)).fetchone()
            if row is None:
                rowid = conn.execute(
                    "INSERT INTO items (id, account, platform, platform_id, kind, root, author, is_department, text,"
                    " created_at, status, versions, first_seen, last_seen, record_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (item_id("facebook", acct, pid), acct, "facebook", pid, spec.get("kind", "post"),
                     spec.get("root", pid), spec.get("author", "Oak Creek PD" if spec.get("dept", True) else "Jo Public"),
                     int(spec.get("dept", True)), text, spec["created"], "live", 1, spec["created"], spec["created"],
                     record)).lastrowid
                n = 1
            else:
                rowid, n = row[0], row[1] + 1
                conn.execute("UPDATE items SET versions = ?, text = ?, record_id = ? WHERE rowid = ?",
                             (n, text, record, rowid))
            conn.execute("INSERT INTO versions (item_rowid, n, hash, text, first_seen, last_seen, record_id)"
                         " VALUES (?,?,?,?,?,?,?)", (rowid, n, hashlib.sha256(text.encode()).hexdigest(), text,
                                                     spec["created"], spec["created"], record))
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
