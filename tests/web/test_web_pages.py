"""Search, item, moderation, downloads, media and actions over HTTP against the demo archive."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from html import unescape as html_unescape

from warcio.archiveiterator import ArchiveIterator

from archiver.index import open_index
from archiver.web.pages import highlighted


def _audit(archive, action):
    db = open_index(archive.index_path)
    return db.conn.execute("SELECT actor, detail FROM audit_log WHERE action = ? ORDER BY id DESC LIMIT 1",
                           (action,)).fetchone()


def test_search_highlights_snippets_and_audits(archive, as_role):
    html = as_role("viewer").get("/?q=closure&from=2000-01-01&account=sample-facebook").get_data(as_text=True)
    assert "2 items match" in html
    assert "Road <mark>closure</mark> on Drexel" in html
    actor, detail = _audit(archive, "web.search")
    assert actor == "viewer" and "closure" in detail


def test_hostile_text_is_escaped_in_results(as_role):
    html = as_role("viewer").get("/?status=hidden&status=deleted").get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    html = as_role("viewer").get("/?q=script").get_data(as_text=True)
    assert "&lt;<mark>script</mark>&gt;alert(" in html


def test_highlight_is_balanced_against_sentinels_in_archived_text():
    assert str(highlighted("a \ue000b\ue001 <i>")) == "a <mark>b</mark> &lt;i&gt;"
    # archived text that itself contains the sentinels cannot leave a tag open or inject one
    assert str(highlighted("\ue001x\ue000<b>")) == "\ue001x<mark>&lt;b&gt;</mark>"


def test_malformed_query_gets_a_message_not_a_traceback(as_role):
    for q in ('"unclosed', "closure AND", "(a OR b", "NOT closure"):
        resp = as_role("viewer").get("/", query_string={"q": q})
        body = resp.get_data(as_text=True)
        assert resp.status_code == 400 and 'id="error"' in body, q
        assert "Traceback" not in body and "sqlite" not in body.lower()
    resp = as_role("viewer").get("/?from=2024-13-45")
    assert resp.status_code == 400 and "not a date" in resp.get_data(as_text=True)


def test_filters_and_paging(archive, as_role, monkeypatch):
    client = as_role("viewer")
    html = client.get("/?kind=post").get_data(as_text=True)
    assert "comment</span>" not in html
    html = client.get("/?status=edited&account=sample-facebook").get_data(as_text=True)
    assert "1 item match" in html
    html = client.get("/?has_media=yes").get_data(as_text=True)
    assert "items match" in html or "item match" in html
    monkeypatch.setattr("archiver.web.pages.PAGE_SIZE", 5)
    first = client.get("/?from=2000-01-01").get_data(as_text=True)
    assert 'id="next"' in first and 'id="prev"' not in first
    second = client.get("/?from=2000-01-01&page=2").get_data(as_text=True)
    assert 'id="prev"' in second and len(re.findall(r'class="hit[ "]', second)) == 5  # held hits: "hit held"


def test_csv_and_json_downloads(archive, as_role):
    client = as_role("legal")
    resp = client.get("/export.csv?status=hidden&status=deleted")
    assert resp.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert {r["status"] for r in rows} == {"hidden", "deleted"}
    assert any(r["text"].startswith("<script>") for r in rows)  # exact text, not escaped
    data = json.loads(client.get("/export.json?q=closure&account=sample-facebook").get_data(as_text=True))
    assert len(data) == 2 and {"id", "text", "created_at", "status"} <= set(data[0])
    actor, detail = _audit(archive, "web.download.results")
    assert actor == "legal" and '"format": "json"' in detail


def test_csv_cells_cannot_become_formulas(archive, as_role):
    db = open_index(archive.index_path)
    db.conn.execute("UPDATE items SET author = '=HYPERLINK(\"http://evil\")' WHERE kind = 'reply'")
    try:
        body = as_role("legal").get("/export.csv?kind=reply").get_data(as_text=True)
        assert "'=HYPERLINK" in body
    finally:
        db.conn.execute("UPDATE items SET author = 'Reply Author' WHERE kind = 'reply'")


def test_item_page_escapes_and_shows_diff_and_banners(archive, as_role, web):
    client = as_role("viewer")
    hidden = web.item_id(archive, "status = 'hidden' AND account = 'sample-facebook'")
    html = client.get(f"/item/{hidden}").get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert 'id="banner-hidden"' in html and "detected" in html
    edited = web.item_id(archive, "status = 'edited' AND account = 'sample-facebook'")
    html = client.get(f"/item/{edited}").get_data(as_text=True)
    assert "<ins>" in html and "Version 2" in html
    assert _audit(archive, "web.view")[0] == "viewer"
    assert client.get("/item/doesnotexist").status_code == 404


def test_moderation_view_lists_hidden_and_deleted_comments(as_role):
    html = as_role("viewer").get("/moderation?from=2000-01-01").get_data(as_text=True)
    assert "Troll Account" in html and "Spam Bot 3000" in html
    assert "&lt;script&gt;" in html and "<script>alert" not in html
    html = as_role("viewer").get("/moderation?from=2000-01-01&to=2000-01-02").get_data(as_text=True)
    assert "No hidden or deleted comments were found in this period" in html


def test_media_served_with_safe_types(archive, as_role):
    db = open_index(archive.index_path)
    client = as_role("viewer")
    by_type = dict(db.conn.execute("SELECT content_type, id FROM media WHERE status = 'fetched'").fetchall())
    image = next(i for t, i in by_type.items() if t and t.startswith("image/") and "svg" not in t)
    resp = client.get(f"/media/{image}")
    assert resp.status_code == 200 and resp.mimetype.startswith("image/")
    assert "Content-Disposition" not in resp.headers
    for active in ("image/svg+xml", "text/html"):
        resp = client.get(f"/media/{by_type[active]}")
        assert resp.headers["Content-Disposition"].startswith("attachment")
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in resp.headers["Content-Security-Policy"]
    assert client.get("/media/999999").status_code == 404


def test_original_warc_record_download(archive, as_role):
    db = open_index(archive.index_path)
    record_id = db.conn.execute("SELECT record_id FROM records WHERE type = 'response' LIMIT 1").fetchone()[0]
    resp = as_role("legal").get(f"/record/{record_id}.warc.gz")
    assert resp.mimetype == "application/warc"
    assert gzip.decompress(resp.data).startswith(b"WARC/1.")
    record = next(iter(ArchiveIterator(io.BytesIO(resp.data))))
    assert record.rec_headers.get_header("WARC-Record-ID") == record_id
    assert as_role("legal").get("/record/nope.warc.gz").status_code == 404


def test_actions_fail_clearly_when_not_wired(as_role, web, monkeypatch):
    monkeypatch.setitem(__import__("archiver.web.actions", fromlist=["ACTIONS"]).ACTIONS, "hold",
                        __import__("archiver.web.actions", fromlist=["Action"]).Action(
                            "Legal hold", "archiver.no_such_module", "nope", "legal holds (test)", "wait", ("hold_name",)))
    client = as_role("legal")
    token = web.csrf_of(client.get("/").get_data(as_text=True))
    resp = client.post("/actions/hold", data={"csrf_token": token, "q": "closure", "hold_name": "m"})
    assert resp.status_code == 501 and "nothing was done" in resp.get_data(as_text=True)


def test_viewer_sees_no_export_controls(as_role):
    html = as_role("viewer").get("/?q=closure").get_data(as_text=True)
    assert "download-csv" not in html and "place-hold" not in html
    html = as_role("records").get("/?q=closure").get_data(as_text=True)
    assert "download-csv" in html and "place-hold" in html and "start-bundle" in html


def test_hold_from_result_set_is_placed_and_audited(archive, as_role, web):
    client = as_role("legal")
    token = web.csrf_of(client.get("/?q=closure").get_data(as_text=True))
    resp = client.post("/actions/hold", data={"csrf_token": token, "q": "closure", "account": "sample-facebook", "hold_name": "drexel-matter"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "drexel-matter" in body and "2 item" in body, body
    actor, detail = _audit(archive, "web.hold")
    assert actor == "legal" and '"ok": true' in detail


def test_thread_reads_as_a_conversation_with_records_folded(archive, as_role, web):
    """Replies sit under the comment they answer (indented), with authors, badges and counts;
    the WARC record list is folded into a <details> for the technical reader."""
    db = open_index(archive.index_path)
    reply = db.conn.execute("SELECT i.id, p.id FROM items i JOIN items p ON p.account = i.account AND "
                            "p.platform_id = i.parent WHERE i.kind = 'reply' AND p.kind = 'comment' LIMIT 1").fetchone()
    assert reply, "the demo archive has a reply to a comment"
    html = as_role("viewer").get(f"/item/{reply[0]}").get_data(as_text=True)
    cards = re.findall(r'<div class="card (\w+) [^"]*" style="margin-left: ([\d.]+)em"', html)
    assert cards[0] == ("post", "0.0")
    depth = {kind: float(margin) for kind, margin in cards}
    assert depth["comment"] > 0 and depth["reply"] > depth["comment"]
    assert "archived" in html and 'class="badge ' in html
    assert re.search(r'<details class="records" id="records">\s*<summary>Original WARC records', html)
