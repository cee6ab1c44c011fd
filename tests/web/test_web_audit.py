"""The audit log page (admins): filter by who, what and when; the chain check finds a change."""

from __future__ import annotations

import re
import shutil

from archiver.index import open_index
from archiver.web import create_app


def test_admin_reads_and_filters_the_audit_log(archive, as_role, web):
    as_role("viewer").get("/?q=closure")  # something to find
    client = as_role("admin")
    html = client.get("/audit?who=viewer&what=web.search").get_data(as_text=True)
    actors = re.findall(r'<td class="actor">([^<]*)</td>', html)
    actions = re.findall(r'<td class="action">([^<]*)</td>', html)
    assert actors and set(actors) == {"viewer"} and set(actions) == {"web.search"}
    family = client.get("/audit?what=web.login").get_data(as_text=True)
    assert set(re.findall(r'<td class="action">([^<]*)</td>', family)) <= {"web.login", "web.login.failed",
                                                                             "web.login.throttled"}
    assert "No entries match" in client.get("/audit?from=1990-01-01&to=1990-01-02").get_data(as_text=True)
    assert client.get("/audit?from=garbage").status_code == 400


def test_chain_check_reports_intact_then_a_changed_row(archive, tmp_path, clock, web):
    # a copy of the archive, so the tampering does not break the other tests' log
    copy = tmp_path / "copy"
    shutil.copytree(archive.index_path.parent, copy)
    settings = type(archive)(values=dict(archive.values, **{"index.path": str(copy / archive.index_path.name)}),
                             accounts=archive.accounts)
    app = create_app(settings, now=clock, environ={"ARCHIVER_WEB_SECRET": "k"})
    client = app.test_client()
    assert web.login(client, "admin").status_code == 302
    token = web.csrf_of(client.get("/audit").get_data(as_text=True))
    html = client.post("/audit/verify", data={"csrf_token": token}).get_data(as_text=True)
    assert "The audit log is intact" in html
    db = open_index(settings.index_path)
    db.conn.execute("UPDATE audit_log SET actor = 'someone-else' WHERE id = 3")
    html = client.post("/audit/verify", data={"csrf_token": token}).get_data(as_text=True)
    assert "NOT intact" in html and "audit row 3" in html
