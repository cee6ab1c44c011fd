"""Per-request access to the index, the clock and the audit log for the web views.

Each waitress worker thread keeps one SQLite connection (WAL mode: readers never block the
nightly writer), opened on first use; ``sqlite3`` connections are not shared across threads.
"""

from __future__ import annotations

import threading
from typing import Any, Mapping

from flask import current_app, g

from ..audit import append
from ..index import open_index, transaction


class _Connections(threading.local):
    db = None


def db():
    local = current_app.extensions["archiver.connections"]
    if local.db is None:
        local.db = open_index(current_app.config["SETTINGS"].index_path)
    return local.db


def new_connections() -> _Connections:
    return _Connections()


def now():
    return current_app.config["NOW"]()


def audit(action: str, detail: Mapping[str, Any]) -> None:
    """One audit row naming the signed-in user (every search, view, download and export)."""
    conn_db = db()
    with transaction(conn_db):
        append(conn_db, actor=g.user.name, action=action, detail=detail, now=now())
