"""OWASP ASVS level 2 hardening of the web UI: login throttling, no open redirect, no field
smuggled in by a crafted link, 400s for bad input, Secure cookies and HSTS on TLS, an absolute
session lifetime, the Origin/Referer check on POSTs, no typed password in the audit log."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from werkzeug.datastructures import MultiDict

from archiver.index import open_index
from archiver.web import create_app
from archiver.web.users import add_user

SECRET = {"ARCHIVER_WEB_SECRET": "hardening-secret"}


def _client(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _try(client, web, name, password):
    token = web.csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"csrf_token": token, "name": name, "password": password})


def _audit_rows(archive, action):
    db = open_index(archive.index_path)
    return db.conn.execute("SELECT actor, detail FROM audit_log WHERE action = ? ORDER BY id", (action,)).fetchall()


def test_failed_logins_on_one_account_slow_down_then_lock_even_the_right_password(app, archive, clock, web):
    add_user(open_index(archive.index_path), "throttle-a", "viewer", web.PASSWORD)
    client = _client(app, "10.1.0.1")
    for _ in range(3):  # mistyping costs nothing at first
        assert _try(client, web, "throttle-a", "wrong password").status_code == 401
    # the fourth try must wait: 1 s, then 2 s, 4 s ... (growing)
    resp = _try(client, web, "throttle-a", web.PASSWORD)
    assert resp.status_code == 429 and "wait 1 second" in resp.get_data(as_text=True)
    waits = []
    for _ in range(7):  # failures 4 to 10
        clock.advance(seconds=1)
        seconds = 1
        while (resp := _try(client, web, "throttle-a", "wrong password")).status_code == 429:
            clock.advance(seconds=1)
            seconds += 1
        assert resp.status_code == 401
        waits.append(seconds)
    assert waits == sorted(waits) and waits[-1] > waits[0]
    # ten failures: locked for 15 minutes; the right password is refused, from anywhere
    other = _client(app, "10.1.0.99")
    clock.advance(minutes=3)
    resp = _try(other, web, "throttle-a", web.PASSWORD)
    assert resp.status_code == 429 and "locked" in resp.get_data(as_text=True)
    assert other.get("/").status_code == 302
    clock.advance(minutes=16)
    assert _try(other, web, "throttle-a", web.PASSWORD).status_code == 302
    assert other.get("/").status_code == 200
    rows = [json.loads(d) for a, d in _audit_rows(archive, "web.login.throttled") if a == "throttle-a"]
    assert rows and any(r["locked"] for r in rows) and rows[0]["by"] == "account"


def test_failures_from_one_address_across_names_are_throttled_too(app, archive, clock, web):
    add_user(open_index(archive.index_path), "throttle-b", "viewer", web.PASSWORD)
    client = _client(app, "10.2.0.1")
    for n in range(10):
        assert _try(client, web, f"guess-{n}", "wrong password").status_code == 401
    resp = _try(client, web, "throttle-b", web.PASSWORD)
    assert resp.status_code == 429
    # the same account from another address is not affected by this address's failures
    assert _try(_client(app, "10.2.0.2"), web, "throttle-b", web.PASSWORD).status_code == 302


def test_failed_login_audit_never_records_a_password_typed_as_the_name(app, archive, web):
    typed = "Tr0ub4dor&3-my-real-password"
    _try(_client(app, "10.3.0.1"), web, typed, "whatever else")
    actors = [a for a, _ in _audit_rows(archive, "web.login.failed")]
    assert not any(typed in a or typed[:8] in a for a in actors)
    assert actors[-1].startswith("unknown:") and len(actors[-1]) == len("unknown:") + 12
    db = open_index(archive.index_path)
    assert not db.conn.execute("SELECT 1 FROM login_failures WHERE account_hash LIKE ?", (f"%{typed}%",)).fetchone()
    _try(_client(app, "10.3.0.1"), web, "viewer", "wrong password")
    assert [a for a, _ in _audit_rows(archive, "web.login.failed")][-1] == "viewer"  # a real account is named


@pytest.mark.parametrize("target,expected", [
    ("/%09/evil.example/x", "/"),          # a tab: browsers drop it, leaving //evil.example
    ("//evil.example/x", "/"),
    ("/%5C/evil.example", "/"),            # backslash
    ("https://evil.example/", "/"),
    ("/%20/evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("/item/abc?x=1", "/item/abc?x=1"),    # a path on this site is kept
])
def test_login_next_is_only_a_same_site_path(app, web, target, expected):
    client = _client(app, "10.4.0.1")
    token = web.csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post(f"/login?next={target}", data={"csrf_token": token, "name": "viewer", "password": web.PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] == expected


@pytest.mark.parametrize("target", ["/%0d%0aSet-Cookie:x=1", "/x%0a"])
def test_line_breaks_in_next_are_a_400(app, web, target):
    client = _client(app, "10.4.0.2")
    token = web.csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post(f"/login?next={target}", data={"csrf_token": token, "name": "viewer", "password": web.PASSWORD})
    assert resp.status_code == 400 and "Set-Cookie" not in str(resp.headers.get("Location"))


def test_a_crafted_link_cannot_prefill_what_the_user_types(archive, as_role, web):
    client = as_role("records")
    html = client.get("/?q=closure&hold_name=mallory&matter=evil&request_id=EVIL-1&requester=Mallory").get_data(as_text=True)
    assert "mallory" not in html.lower() and "EVIL-1" not in html and "evil" not in html
    html = client.get("/actions/bundle?q=closure&request_id=EVIL-1&requester=Mallory&received=2020-01-01").get_data(as_text=True)
    assert "EVIL-1" not in html and "Mallory" not in html
    # the server reads each typed field once: a second copy is refused, nothing is placed
    token = web.csrf_of(html)
    resp = client.post("/actions/hold", data=MultiDict([("csrf_token", token), ("q", "closure"),
                                                       ("hold_name", "mallory-hold"), ("hold_name", "my-hold")]))
    assert resp.status_code == 400 and "sent 2 times" in resp.get_data(as_text=True)
    db = open_index(archive.index_path)
    assert not db.conn.execute("SELECT 1 FROM holds WHERE name IN ('mallory-hold', 'my-hold')").fetchone()


@pytest.mark.parametrize("url,status", [
    ("/?q=closure&page=99999999999999999999999", 400),
    ("/?q=closure&page=-1", 400),
    ("/?q=closure&page=%EF%BC%91", 400),     # a full-width digit
    ("/?q=clo%00sure", 400),
    ("/?author=a%00b", 400),
    ("/?q=closure&q=other", 400),
    ("/moderation?from=2026-13-40", 400),
    ("/export.csv?q=closure&page=99999999999999999999999", 400),
    ("/media/99999999999999999999999999", 404),
    ("/item/%00", 400),
    ("/item/no-such-item", 404),
])
def test_bad_input_is_a_4xx_with_a_message_never_a_500(as_role, url, status):
    resp = as_role("legal").get(url)
    assert resp.status_code == status, resp.get_data(as_text=True)[:500]
    assert "<h1>" in resp.get_data(as_text=True)


def test_cookie_secure_and_hsts_follow_tls(archive, clock, web):
    def session_cookie(app, **headers):
        client = app.test_client()
        token = web.csrf_of(client.get("/login", headers=headers).get_data(as_text=True))
        resp = client.post("/login", headers=headers, data={"csrf_token": token, "name": "viewer", "password": web.PASSWORD})
        return [c for c in resp.headers.getlist("Set-Cookie") if c.startswith("archiver_session=")][0], resp

    auto = create_app(archive, now=clock, environ=SECRET)
    cookie, resp = session_cookie(auto)
    assert "Secure" not in cookie and "Strict-Transport-Security" not in resp.headers
    cookie, resp = session_cookie(auto, **{"X-Forwarded-Proto": "https"})
    assert "; Secure" in cookie and resp.headers["Strict-Transport-Security"].startswith("max-age=")
    for mode, expect in (("off", False), ("on", True)):
        settings = type(archive)(values=dict(archive.values, **{"web.secure_cookies": mode}), accounts=archive.accounts)
        cookie, _ = session_cookie(create_app(settings, now=clock, environ=SECRET),
                                   **({"X-Forwarded-Proto": "https"} if mode == "off" else {}))
        assert ("; Secure" in cookie) == expect, mode


def test_session_ends_after_its_absolute_lifetime_however_active(app, archive, clock, web):
    client = _client(app, "10.5.0.1")
    web.login(client, "viewer")
    hours = archive["web.session_max_hours"]
    for _ in range(hours * 60 // 50):  # active every 50 minutes, up to 10 minutes before the end
        clock.advance(minutes=50)
        assert client.get("/").status_code == 200
    clock.advance(minutes=hours * 60 - (hours * 60 // 50) * 50 + 1)
    resp = client.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


@pytest.mark.parametrize("headers,status", [
    ({"Origin": "http://evil.example"}, 403),
    ({"Origin": "null"}, 403),
    ({"Origin": "https://localhost"}, 403),          # another scheme is another origin
    ({"Referer": "http://evil.example/page"}, 403),
    ({"Origin": "http://localhost"}, 200),
    ({"Referer": "http://localhost/?q=closure"}, 200),
])
def test_posts_must_come_from_this_site(as_role, web, headers, status):
    client = as_role("legal")
    token = web.csrf_of(client.get("/").get_data(as_text=True))
    resp = client.post("/actions/hold", headers=headers,
                       data={"csrf_token": token, "q": "closure", "hold_name": f"origin-{abs(hash(str(headers)))}"})
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]
