"""Who is asking, and may they: server-side sessions, CSRF tokens, role checks, proxy SSO.

Every view declares the least role it needs with ``@requires(role)`` (or ``@public``);
``check_request`` runs before every request and refuses any endpoint that declared nothing,
so a new route without a role check fails closed instead of open.

Sessions live in the ``sessions`` table (only a sha256 of the token); the browser holds the
token inside Flask's signed session cookie, which also carries the CSRF token. A session
expires after ``web.session_minutes`` without a request, ``web.session_max_hours`` after login
however active (ASVS 3.3.1/3.3.2), and on logout. The cookie is Secure when the request came
over TLS (``on_tls``, or always/never by ``web.secure_cookies``).

Every POST passes two checks: the CSRF token, and an Origin (else Referer) header naming this
site when the browser sent one (ASVS 4.2.2; pages send ``Referrer-Policy: same-origin`` so
that our own forms carry it). Any value with a NUL character is refused with a 400.

Single sign-on: when ``web.trust_proxy_header`` names a header (e.g. ``X-Remote-User``), a
request carrying it is taken as that (local) user without a password. This is only safe when
the archiver is reachable solely through a proxy that authenticates users and strips the
header from what clients send — see docs/admin.md ("Single sign-on through a reverse proxy").
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, request, session, url_for

from ..index import transaction
from ..timefmt import iso, parse_platform_time
from .users import RANK, User, get_user

SESSION_KEY = "sid"
CSRF_FIELD = "csrf_token"
SECRET_FILE = "web-secret"
TOUCH_EVERY = timedelta(seconds=60)


def requires(role: str):
    """Declare the least role a view needs (checked in ``check_request``)."""
    if role not in RANK:
        raise ValueError(f"unknown role {role!r}")

    def mark(view):
        view.required_role = role
        return view

    return mark


def public(view):
    """Declare a view open to anyone (the login page, the stylesheet)."""
    view.required_role = None
    return view


def session_secret(settings, environ: Mapping[str, str]) -> bytes:
    """The key signing session cookies: from the variable named by ``web.secret_env``, else a
    random key generated once and kept beside the index, readable by its owner only."""
    value = environ.get(settings["web.secret_env"], "").strip()
    if value:
        return value.encode("utf-8")
    path = Path(settings.index_path).parent / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as fh:
        key = secrets.token_hex(32).encode("ascii")
        fh.write(key)
    return key


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def start_session(db, user: User, *, via: str = "password") -> None:
    """Log ``user`` in: a fresh session token and a fresh CSRF token (no fixation)."""
    token = secrets.token_urlsafe(32)
    at = iso(current_app.config["NOW"]())
    with transaction(db):
        db.conn.execute(
            "INSERT INTO sessions (token_hash, user, created_at, last_seen, via) VALUES (?, ?, ?, ?, ?)",
            (_token_hash(token), user.name, at, at, via),
        )
    session.clear()
    session[SESSION_KEY] = token
    session[CSRF_FIELD] = secrets.token_urlsafe(32)


def end_session(db) -> None:
    token = session.get(SESSION_KEY)
    if token:
        with transaction(db):
            db.conn.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))
    session.clear()


def session_user(db) -> User | None:
    """The user of a live session; an idle-expired session is deleted on sight."""
    token = session.get(SESSION_KEY)
    if not token:
        return None
    key = _token_hash(token)
    row = db.conn.execute("SELECT user, last_seen, created_at FROM sessions WHERE token_hash = ?",
                          (key,)).fetchone()
    if row is None:
        return None
    now = current_app.config["NOW"]()
    settings = current_app.config["SETTINGS"]
    idle = timedelta(minutes=settings["web.session_minutes"])
    longest = timedelta(hours=settings["web.session_max_hours"])
    last, created = parse_platform_time(row[1]), parse_platform_time(row[2])
    if last is None or created is None or now - last > idle or now - created > longest:
        with transaction(db):
            db.conn.execute("DELETE FROM sessions WHERE token_hash = ?", (key,))
        return None
    if now - last >= TOUCH_EVERY:
        # Idle expiry is counted in minutes, so recording activity once a minute is as good
        # as on every request, and saves a write transaction on nearly every page.
        with transaction(db):
            db.conn.execute("UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (iso(now), key))
    return get_user(db, row[0])


def proxy_user(db) -> User | None:
    """The user named by the trusted proxy header, when that option is on and the header is set."""
    header = current_app.config["SETTINGS"]["web.trust_proxy_header"]
    if not header:
        return None
    name = request.headers.get(header, "").strip()
    if not name:
        return None
    user = get_user(db, name)
    if user is None:
        # Roles come from local accounts; an SSO identity without one gets nothing.
        abort(403, f"{name!r} is signed in through the proxy but has no archiver account; "
                   "an admin can add one with `archiver users add`")
    return user


def csrf_token() -> str:
    """The token every POST form carries (created on first use, kept in the signed cookie)."""
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return session[CSRF_FIELD]


def check_csrf() -> None:
    expected = session.get(CSRF_FIELD)
    sent = request.form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(expected.encode(), sent.encode("utf-8", "replace")):
        abort(400, "the form was stale or did not come from this site (CSRF check failed); "
                   "reload the page and try again")


def forwarded_proto() -> str:
    return request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()


def on_tls() -> bool:
    """Whether this request reached us over TLS, directly or through a proxy that says so."""
    return request.is_secure or forwarded_proto() == "https"


def secure_cookies() -> bool:
    mode = str(current_app.config["SETTINGS"]["web.secure_cookies"]).strip().lower()
    if mode in ("on", "true", "yes", "1"):
        return True
    if mode in ("off", "false", "no", "0"):
        return False
    return on_tls()


def check_origin() -> None:
    """A POST must come from a page of this site when the browser says where it came from."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if source is None:
        return  # not a browser (or a very old one): the CSRF token alone decides
    parts = urlsplit(source)
    schemes = {request.scheme, forwarded_proto()}
    if source == "null" or parts.netloc.lower() != request.host.lower() or parts.scheme not in schemes:
        abort(403, "this form was sent from another site (Origin/Referer check failed); "
                   "open the archive's own page and try again")


def check_nul() -> None:
    if "\0" in request.path:
        abort(400, "the address contains a NUL character")
    for values in (request.args, request.form):
        for key, value in values.items(multi=True):
            if "\0" in key or "\0" in value:
                abort(400, f"the field {key.replace(chr(0), '')!r} contains a NUL character; type it again")


def check_request(db_of) -> object | None:
    """``before_request``: NUL refusal, Origin and CSRF on every POST, then the view's declared role."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if view is None:
        return None  # 404 / 405 follow from routing itself
    check_nul()
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        check_origin()
        check_csrf()
    if not hasattr(view, "required_role"):
        abort(403, "this page declares no role; refusing by default")
    role = view.required_role
    if role is None:
        return None
    db = db_of()
    user = proxy_user(db) or session_user(db)
    if user is None:
        if request.method == "GET":
            return redirect(url_for("auth.login", next=request.full_path))
        abort(401, "your session has expired; log in again")
    if not user.can(role):
        abort(403, f"your role ({user.role}) may not do this; it needs {role} or above")
    g.user = user
    return None

