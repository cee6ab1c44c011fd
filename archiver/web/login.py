"""Log in and log out (local accounts; SSO users arrive through the proxy header instead).

Failed logins are throttled by account and by client address (``throttle``) and audited. The
audit row of a failure names the account only when it exists: people type their password into
the name field, so an unknown name is recorded as a marked hash (``unknown:<sha256 prefix>``),
never as typed.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from flask import Blueprint, abort, g, redirect, render_template, request, url_for

from ..audit import append
from ..index import transaction
from . import throttle
from .auth import end_session, public, requires, start_session
from .context import db, now
from .users import authenticate, get_user

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """Where to go after logging in: only a path on this site (ASVS 5.1.5, no open redirect).

    Browsers drop tabs and newlines from a URL before reading it, so ``/\\t/evil.example``
    would become ``//evil.example`` -- another host. Any control character or whitespace
    refuses the target; CR/LF (header injection) is a 400."""
    default = url_for("pages.search")
    if not target:
        return default
    if "\r" in target or "\n" in target:
        abort(400, "the address to return to after logging in contains a line break")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target) or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def audit_name(name: str) -> str:
    """The failed login's actor: the account when it exists, else a marked hash of what was typed."""
    if name and get_user(db(), name) is not None:
        return name
    return "unknown:" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    error, status = None, 200
    target = safe_next(request.args.get("next"))
    if request.method == "POST":
        name = request.form.get("name", "")
        address = request.remote_addr or "-"
        conn_db, at = db(), now()
        refused = throttle.refusal(conn_db, name, address, at)
        if refused:
            with transaction(conn_db):
                append(conn_db, actor=audit_name(name), action="web.login.throttled",
                       detail={"remote": address, "until": refused.until.isoformat(), "locked": refused.locked,
                               "by": refused.by}, now=at)
            return render_template("login.html", error=refused.message(at)), 429
        user = authenticate(conn_db, name, request.form.get("password", ""))
        if user:
            throttle.clear_account(conn_db, name)
            with transaction(conn_db):
                append(conn_db, actor=user.name, action="web.login", detail={"remote": address}, now=at)
            start_session(conn_db, user)
            return redirect(target)
        throttle.record_failure(conn_db, name, address, at)
        with transaction(conn_db):
            append(conn_db, actor=audit_name(name), action="web.login.failed", detail={"remote": address}, now=at)
        error, status = "Wrong name or password.", 401
    return render_template("login.html", error=error), status


@bp.post("/logout")
@requires("viewer")
def logout():
    end_session(db())
    g.user = None
    return redirect(url_for("auth.login"))
