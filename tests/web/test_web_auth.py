"""Users, passwords, sessions, CSRF and roles at the HTTP level (Flask test client)."""

from __future__ import annotations

import os
import stat

import pytest

from archiver.errors import ConfigError
from archiver.index import open_index
from archiver.web import create_app
from archiver.web.auth import session_secret
from archiver.web.users import add_user, authenticate, check_password, hash_password, list_users, remove_user


# Every route and the least role it needs. A new route must be added here (and declare its
# role with @requires/@public), or test_every_route_declares_its_role fails.
ROUTES = {
    "auth.login": (None, "GET", "/login"),
    "auth.logout": ("viewer", "POST", "/logout"),
    "pages.search": ("viewer", "GET", "/?q=closure"),
    "pages.export": ("legal", "GET", "/export.csv?q=closure"),
    "pages.static_file": (None, "GET", "/static/app.css"),
    "items.item": ("viewer", "GET", "/item/{item}"),
    "moderation.moderation": ("viewer", "GET", "/moderation"),
    "moderation.report_file": ("viewer", "GET", "/moderation/report.csv"),
    "moderation.consistency": ("viewer", "GET", "/moderation/consistency?words=closure"),
    "moderation.reason": ("records", "POST", "/moderation/reason/{item}"),
    "media.media": ("viewer", "GET", "/media/{media}"),
    "media.record": ("legal", "GET", "/record/{record}.warc.gz"),
    "actions.hold": ("legal", "POST", "/actions/hold"),
    "actions.bundle": ("records", "POST", "/actions/bundle"),
    "actions.bundle_form": ("records", "GET", "/actions/bundle?q=closure"),
    "actions.jobs": ("legal", "GET", "/jobs"),
    "actions.production": ("legal", "POST", "/actions/production"),
    "actions.production_form": ("legal", "GET", "/actions/production?q=closure"),
    "actions.production_prepare": ("legal", "POST", "/actions/production/prepare"),
    "actions.bundle_prepare": ("records", "POST", "/actions/bundle/prepare"),
    "actions.download": ("legal", "GET", "/jobs/999999/download"),
    "auditlog.audit_log": ("admin", "GET", "/audit"),
    "auditlog.verify": ("admin", "POST", "/audit/verify"),
    "holds.holds": ("legal", "GET", "/holds"),
    "holds.hold": ("legal", "GET", "/holds/no-such-hold"),
    "holds.release": ("legal", "POST", "/holds/no-such-hold/release"),
    "holds.requests": ("records", "GET", "/requests"),
    "holds.log_request": ("records", "POST", "/requests"),
    "holds.close_request": ("records", "POST", "/requests/no-such-request/close"),
}
RANK = ["viewer", "legal", "records", "admin"]


def test_every_route_declares_its_role(app, web):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints == set(ROUTES), "a route was added or removed: update ROUTES with its role"
    for endpoint, (role, _, _) in ROUTES.items():
        view = app.view_functions[endpoint]
        assert hasattr(view, "required_role"), f"{endpoint} declares no role"
        assert view.required_role == role, endpoint


def _url(archive, template: str, web) -> str:
    db = open_index(archive.index_path)
    media = db.conn.execute("SELECT id FROM media WHERE status = 'fetched' LIMIT 1").fetchone()[0]
    record = db.conn.execute("SELECT record_id FROM records WHERE type = 'response' LIMIT 1").fetchone()[0]
    return template.format(item=web.item_id(archive, "kind = 'post'"), media=media, record=record)


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_each_route_enforces_its_role(app, archive, as_role, endpoint, web):
    role, method, template = ROUTES[endpoint]
    url = _url(archive, template, web)
    anon = app.test_client()
    if role is not None:
        if method == "GET":
            resp = anon.get(url)
            assert resp.status_code == 302 and "/login" in resp.headers["Location"]
        else:
            page = anon.get("/login")
            resp = anon.post(url, data={"csrf_token": web.csrf_of(page.get_data(as_text=True))})
            assert resp.status_code == 401
    for user_role in RANK:
        client = as_role(user_role)
        if method == "GET":
            resp = client.get(url)
        else:
            token = web.csrf_of(client.get("/").get_data(as_text=True))
            resp = client.post(url, data={"csrf_token": token, "q": "closure", "hold_name": "t", "request_id": "1"})
        allowed = role is None or RANK.index(user_role) >= RANK.index(role)
        if allowed:
            assert resp.status_code != 403, (endpoint, user_role, resp.status_code)
        else:
            assert resp.status_code == 403, (endpoint, user_role, resp.status_code)
            assert "may not do this" in resp.get_data(as_text=True)


def test_undeclared_route_is_refused(archive, clock):
    app = create_app(archive, now=clock, environ={"ARCHIVER_WEB_SECRET": "k"})
    app.add_url_rule("/sneaky", "sneaky", lambda: "secret records")
    resp = app.test_client().get("/sneaky")
    assert resp.status_code == 403 and b"secret records" not in resp.data


def test_login_wrong_password_and_unknown_user(app, web):
    client = app.test_client()
    assert web.login(client, "legal", "wrong password!").status_code == 401
    assert web.login(client, "nobody", web.PASSWORD).status_code == 401
    assert client.get("/").status_code == 302


def test_login_requires_csrf(app, web):
    client = app.test_client()
    client.get("/login")
    resp = client.post("/login", data={"name": "legal", "password": web.PASSWORD})
    assert resp.status_code == 400 and b"CSRF" in resp.data
    resp = client.post("/login", data={"name": "legal", "password": web.PASSWORD, "csrf_token": "forged"})
    assert resp.status_code == 400


def test_post_without_or_with_foreign_csrf_is_refused(app, as_role, web):
    client = as_role("admin")
    other = as_role("admin")
    foreign = web.csrf_of(other.get("/").get_data(as_text=True))
    for data in ({}, {"csrf_token": ""}, {"csrf_token": foreign}):
        resp = client.post("/actions/hold", data={**data, "q": "closure", "hold_name": "x"})
        assert resp.status_code == 400, data
    # the logout form is a POST too: without the token the session survives
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200


def test_login_rotates_csrf_and_logout_ends_session(app, web):
    client = app.test_client()
    before = web.csrf_of(client.get("/login").get_data(as_text=True))
    web.login(client, "viewer")
    after = web.csrf_of(client.get("/").get_data(as_text=True))
    assert before != after
    cookie = client.get_cookie("archiver_session").value
    assert client.post("/logout", data={"csrf_token": after}).status_code == 302
    assert client.get("/").status_code == 302
    # replaying the old cookie does not bring the session back (it is deleted server-side)
    replay = app.test_client()
    replay.set_cookie("archiver_session", cookie)
    assert replay.get("/").status_code == 302


def test_session_expires_after_idle_minutes(app, archive, clock, web):
    client = app.test_client()
    web.login(client, "viewer")
    idle = archive["web.session_minutes"]
    clock.advance(minutes=idle - 1)
    assert client.get("/").status_code == 200  # activity keeps it alive
    clock.advance(minutes=60)
    assert client.get("/").status_code == 200
    clock.advance(minutes=idle + 1)
    resp = client.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    token = web.csrf_of(client.get("/login").get_data(as_text=True))
    assert client.post("/actions/hold", data={"csrf_token": token}).status_code == 401


def test_proxy_header_only_when_configured(archive, clock, web):
    off = create_app(archive, now=clock, environ={"ARCHIVER_WEB_SECRET": "k"}).test_client()
    assert off.get("/", headers={"X-Remote-User": "admin"}).status_code == 302
    values = dict(archive.values, **{"web.trust_proxy_header": "X-Remote-User"})
    sso = create_app(type(archive)(values=values, accounts=archive.accounts), now=clock,
                     environ={"ARCHIVER_WEB_SECRET": "k"}).test_client()
    assert sso.get("/", headers={"X-Remote-User": "legal"}).status_code == 200
    resp = sso.get("/", headers={"X-Remote-User": "stranger"})
    assert resp.status_code == 403 and b"no archiver account" in resp.data
    # roles still apply to SSO users
    assert sso.get("/export.csv?q=closure", headers={"X-Remote-User": "viewer"}).status_code == 403


def test_passwords_are_scrypt_hashes(archive, web):
    stored = hash_password("a long passphrase")
    assert stored.startswith("scrypt$") and "a long passphrase" not in stored
    assert check_password("a long passphrase", stored) and not check_password("a long passphrasE", stored)
    assert not check_password("x", "garbage") and not check_password("x", "md5$1$2$3$aa$bb")
    db = open_index(archive.index_path)
    row = db.conn.execute("SELECT password FROM users WHERE name = 'legal'").fetchone()[0]
    assert web.PASSWORD not in row and check_password(web.PASSWORD, row)


def test_user_management_errors(tmp_path):
    db = open_index(tmp_path / "i.db")
    add_user(db, "ann", "records", "long enough pw")
    for name, role, pw, msg in [("ann", "viewer", "long enough pw", "already exists"),
                                ("bob", "boss", "long enough pw", "role"),
                                ("bob", "viewer", "short", "at least"),
                                ("<script>", "viewer", "long enough pw", "not allowed")]:
        with pytest.raises(ConfigError, match=msg):
            add_user(db, name, role, pw)
    assert [u["name"] for u in list_users(db)] == ["ann"]
    assert authenticate(db, "ann", "long enough pw").role == "records"
    remove_user(db, "ann")
    assert authenticate(db, "ann", "long enough pw") is None
    with pytest.raises(ConfigError, match="no user"):
        remove_user(db, "ann")


def test_generated_secret_is_private_and_stable(archive, tmp_path):
    values = dict(archive.values, **{"index.path": str(tmp_path / "idx" / "index.db")})
    settings = type(archive)(values=values)
    first = session_secret(settings, {})
    path = tmp_path / "idx" / "web-secret"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert session_secret(settings, {}) == first and len(first) >= 32
    assert session_secret(settings, {"ARCHIVER_WEB_SECRET": "from-env"}) == b"from-env"


def test_security_headers_on_every_page(app, as_role, web):
    client = as_role("viewer")
    for url in ("/", "/moderation", "/login", "/static/app.css", "/nonexistent"):
        resp = client.get(url)
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"


def test_login_redirect_stays_on_site(app, web):
    client = app.test_client()
    token = web.csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post("/login?next=//evil.example/x", data={"csrf_token": token, "name": "viewer", "password": web.PASSWORD})
    assert resp.headers["Location"] == "/"
