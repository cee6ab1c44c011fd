"""Every item names the API response it was really read from (archiver/provenance.py)."""

from __future__ import annotations

import html
import io
import json

from archiver.config import load_settings
from archiver.demo import run_demo
from archiver.exporters.records import RecordReader
from archiver.index import open_index
from archiver.provenance import PRUNE_EVERY, Provenance
from archiver.sightings import latest_sighting
from archiver.store import open_store


def test_identity_lookup_and_pruning():
    prov = Provenance()
    listing = json.loads('{"data": [{"id": "p1", "from": {"id": "u"}}, {"id": "p2"}]}')
    prov.parsed("R-listing", "https://api/listing", listing)
    held = []
    for n in range(5 * PRUNE_EVERY):  # inner pages fetched while the listing is still open
        page = json.loads(json.dumps({"data": [{"id": f"c{n}", "from": {"id": "v"}}]}))
        prov.parsed(f"R-{n}", "https://api/comments", page)
        if n == 3:
            held.append(page["data"][0])
    assert prov.source_of(listing["data"][1]) == ("R-listing", "https://api/listing")
    assert prov.source_of(held[0]) == ("R-3", "https://api/comments")
    assert prov.source_of({"id": "p2"}) is None  # equal is not the same object
    assert prov.source_of(None) is None
    # Pages nobody holds any more are dropped: memory follows the walk, not the run.
    assert len(prov._by_id) < 4 + 2 + 2 * PRUNE_EVERY * 2


def test_every_item_points_at_a_response_that_contains_it(tmp_path):
    """Nested walks (a listing page open while each post's comments are read, Instagram's extra
    reply pages between comments of one page) must not tie an item to the wrong response."""
    workdir = tmp_path / "demo"
    result = run_demo(workdir, io.StringIO())
    assert result["ok"]
    settings = load_settings(workdir / "archiver.toml", environ={})
    db = open_index(settings.index_path)
    reader = RecordReader(db, open_store(settings))
    rows = db.conn.execute(
        "SELECT i.platform, i.platform_id, r.record_id FROM items i JOIN versions v ON v.item_rowid = i.rowid"
        " JOIN records r ON r.id = v.record "
        f"UNION SELECT platform, platform_id, {latest_sighting('record_id')} FROM items i").fetchall()
    assert len(rows) > 50
    checked = 0
    for platform, platform_id, record_id in rows:
        rec = reader.locate(record_id)
        assert rec is not None, (platform, platform_id)
        payload = reader.payload(reader.original(rec)).decode("utf-8", "replace")
        if platform == "rss" and platform_id.startswith("sha256:"):
            continue  # an entry without guid or link is named by a hash of its fields
        # The id as the API wrote it: JSON (Bluesky URIs, escaped slashes) or XML (RSS guid).
        forms = {platform_id, platform_id.replace("/", "\\/"), html.escape(platform_id)}
        assert any(f in payload for f in forms), (platform, platform_id, rec.target_uri)
        checked += 1
    assert checked > 50
