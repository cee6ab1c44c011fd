"""The CSV/JSON downloads of a result set: agency-time columns beside UTC, when each hide or
delete was detected, and the post a comment belongs to."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from archiver.index import open_index


def _rows(client, fmt):
    body = client.get(f"/export.{fmt}?status=hidden&status=deleted&account=sample-facebook").get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(body.lstrip("\ufeff")))) if fmt == "csv" else json.loads(body)


def test_downloads_carry_local_times_detection_and_the_post(archive, as_role):
    client = as_role("legal")
    db = open_index(archive.index_path)
    zone = ZoneInfo(archive.timezone)
    for fmt in ("csv", "json"):
        rows = _rows(client, fmt)
        assert rows
        header = list(rows[0])
        assert header.index("created_at_local") == header.index("created_at") + 1  # beside UTC
        for row in rows:
            rowid, root = db.conn.execute("SELECT rowid, root FROM items WHERE id = ?", (row["id"],)).fetchone()
            utc = datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
            local = datetime.fromisoformat(row["created_at_local"])
            assert local == utc and local.utcoffset() == utc.astimezone(zone).utcoffset()
            event = "deleted" if row["status"] == "deleted" else "hidden"
            found = db.conn.execute("SELECT min(at) FROM events WHERE item_rowid = ? AND event = ?",
                                    (rowid, event)).fetchone()[0]
            assert found and row[f"{event}_detected"] == found
            assert datetime.fromisoformat(row[f"{event}_detected_local"]) == \
                datetime.fromisoformat(found.replace("Z", "+00:00"))
            post = db.conn.execute("SELECT id, text FROM items WHERE kind = 'post' AND account = ? AND platform_id = ?",
                                   (row["account"], root)).fetchone()
            assert (row["post_id"], row["post_text"]) == post
