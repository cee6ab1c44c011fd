"""Log in and log out (local accounts; SSO users arrive through the proxy header instead)."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, url_for

from ..audit import append
from ..index import transaction
from .auth import end_session, public, requires, start_session
from .context import db, now
from .users import authenticate

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Only a path on this site: never redirect to another host after logging in.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("pages.search")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    error = None
    if request.method == "POST":
        name = request.form.get("name", "")
        user = authenticate(db(), name, request.form.get("password", ""))
        conn_db = db()
        with transaction(conn_db):
            append(conn_db, actor=name[:64] or "-", action="web.login" if user else "web.login.failed",
                   detail={"remote": request.remote_addr}, now=now())
        if user:
            start_session(conn_db, user)
            return redirect(_safe_next(request.args.get("next")))
        error = "Wrong name or password."
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
@requires("viewer")
def logout():
    end_session(db())
    g.user = None
    return redirect(url_for("auth.login"))
