"""The web UI for legal staff and the records officer (``archiver serve``).

Server-rendered Jinja2 from ``templates/web`` with autoescaping everywhere, no JavaScript,
and a strict Content-Security-Policy on every response: archived text and media were written
by the public and are treated as hostile. Roles are enforced on the server for every route
(``auth.check_request``); every search, view, download and export is written to the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Mapping

from flask import Flask, g, render_template
from flask.sessions import SecureCookieSessionInterface
from jinja2 import PackageLoader, StrictUndefined
from werkzeug.exceptions import HTTPException

from ..errors import ArchiverError
from ..timefmt import agency_time, utcnow
from . import actions, auditlog, holds, items, login, media, moderation, pages
from .auth import check_request, csrf_token, on_tls, secure_cookies, session_secret
from .context import db, new_connections

# default-src 'none' forbids scripts, frames, fonts, connections; only our own stylesheet
# and images (archived media is served from this origin) load.
CSP = ("default-src 'none'; img-src 'self'; media-src 'self'; style-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


def create_app(settings, now: Callable[[], datetime] | None = None, *,
               environ: Mapping[str, str] | None = None) -> Flask:
    """The WSGI app. ``now`` is the clock (for session expiry in tests); ``environ`` is where
    the session key variable named by ``web.secret_env`` is looked up."""
    app = Flask(__name__, static_folder=None, template_folder=None)
    app.jinja_loader = PackageLoader("archiver.templates", "web")
    app.jinja_env.autoescape = True  # every template, whatever its name
    app.jinja_env.undefined = StrictUndefined
    app.config.update(
        SETTINGS=settings,
        NOW=now or utcnow,
        SECRET_KEY=session_secret(settings, environ or {}),
        SESSION_COOKIE_NAME="archiver_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    app.session_interface = _Sessions()
    app.extensions["archiver.connections"] = new_connections()
    for module in (login, pages, items, media, actions, holds, auditlog, moderation):
        app.register_blueprint(module.bp)
    app.before_request(lambda: check_request(db))
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(ArchiverError, _archiver_error)
    tz = settings.timezone
    app.jinja_env.globals.update(csrf_token=csrf_token, agency=settings.agency, tz=tz,
                                 search_params=pages.SEARCH_PARAMS)
    app.context_processor(lambda: {"user": g.get("user")})
    app.jinja_env.filters["agency_time"] = lambda value: agency_time(value, tz)
    app.jinja_env.filters["filesize"] = _filesize
    return app


class _Sessions(SecureCookieSessionInterface):
    """The session cookie is Secure per request (``web.secure_cookies``, default: on TLS)."""

    def get_cookie_secure(self, app) -> bool:
        return secure_cookies()


def _filesize(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def _security_headers(resp):
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers["X-Frame-Options"] = "DENY"
    # same-origin: our own form posts carry Origin/Referer (checked on every POST); nothing
    # about the archive's addresses goes to another site.
    resp.headers["Referrer-Policy"] = "same-origin"
    if on_tls():
        resp.headers["Strict-Transport-Security"] = "max-age=31536000"
    # Records and search results are sensitive: no shared or disk caches.
    resp.headers.setdefault("Cache-Control", "no-store")
    return resp


def _http_error(exc: HTTPException):
    return render_template("error.html", code=exc.code, title=exc.name, message=exc.description), exc.code


def _archiver_error(exc: ArchiverError):
    return render_template("error.html", code=400, title="Cannot do that", message=str(exc)), 400


def serve(app: Flask, host: str = "127.0.0.1", port: int = 8080, threads: int = 4) -> None:
    """Run under waitress (pure-Python, production-grade WSGI server) until interrupted."""
    from waitress import serve as waitress_serve

    waitress_serve(app, host=host, port=port, threads=threads, ident="archiver")


__all__ = ["create_app", "serve"]
