"""The WACZ package: its index lists only replayable captures, its pages follow ReplayWeb.page's
conventions, and ``wacz validate`` accepts it."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from archiver.http import Exchange
from archiver.warc import WarcFile
from archiver.exporters.wacz import write_wacz

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
API = "https://graph.facebook.com/v21.0/1000001_101/comments?fields=id,message&access_token=REDACTED"


def _exchange(url: str, body: bytes) -> Exchange:
    return Exchange("GET", url, [("User-Agent", "t")], 200, "OK", [("Content-Type", "application/json")],
                    io.BytesIO(body), NOW)


def test_index_lists_only_replayable_records_and_pages_once_per_url(tmp_path):
    warc = WarcFile(tmp_path / "a.warc.gz", {"software": "test"})
    first, _ = warc.write_exchange(_exchange(API, b'{"data": [{"id": "1"}, {"id": "2"}]}'))
    warc.write_exchange(_exchange(API.replace("101", "102"), b'{"data": [{"id": "1"}, {"id": "2"}]}'))  # revisit
    warc.write_metadata("items/1", API, {"items": ["1", "2"]}, NOW, refers_to=first)
    warc.write_metadata("run/1", "urn:archiver:run:r1", {"id": "r1"}, NOW)
    path = warc.close().path
    pages = [{"url": API, "ts": "2026-11-20T08:00:00Z", "title": "post 101"},
             {"url": API, "ts": "2026-11-20T08:00:00Z", "title": "comment 1"},
             {"url": API.replace("101", "102"), "ts": "2026-11-20T08:00:00Z", "title": "post 102"}]
    out = write_wacz(tmp_path / "r.wacz", path, pages, title="t", description="d", now=NOW)
    with zipfile.ZipFile(out) as z:
        index = [json.loads(line.split(" ", 2)[2]) for line in z.read("indexes/index.cdxj").decode().splitlines()]
        lines = [json.loads(line) for line in z.read("pages/pages.jsonl").decode().splitlines()]
        package = json.loads(z.read("datapackage.json"))
    # Two captures: the response and the revisit; no request, no metadata (urn:) record.
    assert sorted(e["url"] for e in index) == sorted([API, API.replace("101", "102")])
    assert {e.get("mime") for e in index} <= {"application/json", "warc/revisit"}
    assert lines[0]["format"] == "json-pages-1.0" and "id" in lines[0]
    assert [p["url"] for p in lines[1:]] == [API, API.replace("101", "102")]
    assert len({p["id"] for p in lines[1:]}) == 2
    assert {r["path"] for r in package["resources"]} == {"archive/data.warc.gz", "indexes/index.cdxj",
                                                         "pages/pages.jsonl"}
    assert package["mainPageUrl"] == API
    res = subprocess.run([str(Path(sys.executable).with_name("wacz")), "validate", "-f", str(out)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
