"""Holds and records requests in the browser's pages (test client; the Chromium walk-through is
in test_web_legal_flow): ticked results, on-hold marks, release with a reason, the request log."""

from __future__ import annotations

import json
import re
from html import unescape

from werkzeug.datastructures import MultiDict

from archiver.index import open_index


def _ids_on_page(html: str) -> list[str]:
    return re.findall(r'name="item" value="([^"]+)"', html)


def _audit(archive, action):
    db = open_index(archive.index_path)
    return db.conn.execute("SELECT actor, detail FROM audit_log WHERE action = ? ORDER BY id DESC LIMIT 1",
                           (action,)).fetchone()


def test_hold_on_ticked_results_marks_them_and_keeps_the_search(archive, as_role, web):
    client = as_role("legal")
    page = client.get("/?from=2000-01-01").get_data(as_text=True)
    db = open_index(archive.index_path)
    before = {r[0] for r in db.conn.execute(
        "SELECT item_id FROM hold_items hi JOIN holds h ON h.id = hi.hold_id WHERE h.released_at IS NULL")}
    ids = [i for i in _ids_on_page(page) if i not in before]  # other tests hold some of the same results
    assert len(ids) >= 1 and page.count('class="badge hold"') == len(set(_ids_on_page(page)) & before)
    data = MultiDict([("csrf_token", web.csrf_of(page)), ("from", "2000-01-01"), ("hold_name", "ticked-hold"),
                      ("matter", "Doe v. City"), ("item", ids[0])])
    resp = client.post("/actions/hold", data=data)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "1 item" in body
    assert 'id="back" href="/?from=2000-01-01"' in body  # back to the same results
    held = [r[0] for r in db.conn.execute(
        "SELECT item_id FROM hold_items hi JOIN holds h ON h.id = hi.hold_id WHERE h.name = 'ticked-hold'")]
    assert held == [ids[0]]
    page = client.get("/?from=2000-01-01").get_data(as_text=True)
    assert page.count('class="badge hold"') == len(set(_ids_on_page(page)) & before) + 1
    item = client.get(f"/item/{ids[0]}").get_data(as_text=True)
    assert 'id="on-hold"' in item and "ticked-hold" in item


def test_holds_page_lists_scope_and_items_and_releases_with_a_reason(archive, as_role, web):
    client = as_role("legal")
    token = web.csrf_of(client.get("/").get_data(as_text=True))
    client.post("/actions/hold", data={"csrf_token": token, "q": "closure", "account": "sample-facebook",
                                       "hold_name": "release-me", "matter": "Roe matter"})
    listing = client.get("/holds").get_data(as_text=True)
    row = listing[listing.index("release-me"):]
    row = row[:row.index("</tr>")]
    assert "Roe matter" in row and "matching the words “closure”" in row and "by legal" in row
    detail = client.get("/holds/release-me").get_data(as_text=True)
    assert 'id="hold-total">2<' in detail and len(re.findall(r'href="/item/', detail)) == 2
    assert client.post("/holds/release-me/release", data={"csrf_token": token, "reason": "  "}).status_code == 400
    resp = client.post("/holds/release-me/release", data={"csrf_token": token, "reason": "case settled 2024-06-01"})
    assert resp.status_code == 200 and "released" in resp.get_data(as_text=True)
    actor, detail = _audit(archive, "web.hold.release")
    assert actor == "legal" and json.loads(detail)["reason"] == "case settled 2024-06-01"
    assert _audit(archive, "hold.released")[0] == "legal"
    assert "released by legal" in client.get("/holds/release-me").get_data(as_text=True)
    again = client.post("/holds/release-me/release", data={"csrf_token": token, "reason": "twice"})
    assert again.status_code == 400 and "already released" in again.get_data(as_text=True)


def test_request_log_hold_bundle_and_close(archive, as_role, web, monkeypatch):
    client = as_role("records")
    page = client.get("/requests").get_data(as_text=True)
    token = web.csrf_of(page)
    resp = client.post("/requests", data={"csrf_token": token, "request_id": "PRR-2026-031", "requester": "Jane Q. Public",
                                          "received": "2026-04-02", "description": "comments about the closure",
                                          "q": "closure", "from": "2000-01-01"})
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="logged"' in page
    page = page[page.index('id="requests"'):]
    row = page[page.index("PRR-2026-031"):]
    row = row[:row.index("</tr>")]
    assert "Jane Q. Public" in row and ">open<" in row and "held until closed" in row
    assert re.search(r">\d+ item\(s\)</a>", row)
    # its bundle: identity and scope come from the index, not from the address
    bundle = unescape(re.search(r'class="start-bundle" href="([^"]+)"', row).group(1))
    form = client.get(bundle).get_data(as_text=True)
    assert 'value="PRR-2026-031"' in form and 'value="Jane Q. Public"' in form and 'value="2026-04-02"' in form
    assert 'type="hidden" name="q" value="closure"' in form and "matching the words “closure”" in form
    # the close outcomes are the library's (a richer set slots in)
    monkeypatch.setattr("archiver.retention.holds.CLOSE_OUTCOMES", ("granted", "denied", "partly denied"),
                        raising=False)
    assert '<option value="partly denied">' in client.get("/requests").get_data(as_text=True)
    monkeypatch.undo()
    refused = client.post("/requests/PRR-2026-031/close", data={"csrf_token": token, "outcome": "lost", "decided": "2026-04-10"})
    assert refused.status_code == 400
    resp = client.post("/requests/PRR-2026-031/close", data={"csrf_token": token, "outcome": "denied", "decided": "2026-04-10"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "held through 2026-07-" in body, body
    row = client.get("/requests").get_data(as_text=True)
    row = row[row.index("PRR-2026-031"):]
    assert ">denied<" in row[:row.index("</tr>")]
    assert _audit(archive, "request.denied")[0] == "records"


def test_logging_a_request_without_scope_is_refused_and_holds_nothing(archive, as_role, web):
    client = as_role("records")
    token = web.csrf_of(client.get("/requests").get_data(as_text=True))
    resp = client.post("/requests", data={"csrf_token": token, "request_id": "PRR-X", "requester": "A",
                                          "received": "2026-04-02", "description": "everything"})
    assert resp.status_code == 400
    assert not open_index(archive.index_path).conn.execute(
        "SELECT 1 FROM records_requests WHERE name = 'PRR-X'").fetchone()
    bad_date = client.post("/requests", data={"csrf_token": token, "request_id": "PRR-Y", "requester": "A",
                                              "received": "April", "description": "x", "from": "2000-01-01"})
    assert bad_date.status_code == 400 and "YYYY-MM-DD" in bad_date.get_data(as_text=True)
