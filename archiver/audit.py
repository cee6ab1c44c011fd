"""The append-only, hash-chained audit log (who did what, when).

Each row stores the sha256 of the previous row's hash plus its own canonical content, so a
changed, inserted or deleted row breaks the chain from that point on (``verify``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Mapping

from .timefmt import iso, utcnow

GENESIS = "0" * 64


def _row_hash(prev: str, at: str, actor: str, action: str, detail: str) -> str:
    blob = json.dumps([prev, at, actor, action, detail], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def append(db, actor: str, action: str, detail: Mapping[str, Any] | None = None, *, now: datetime | None = None) -> int:
    """Append one entry; returns its id. Runs inside the caller's transaction if any."""
    at = iso(now or utcnow())
    detail_json = json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str)
    conn = db.conn
    row = conn.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    prev = row[0] if row else GENESIS
    digest = _row_hash(prev, at, actor, action, detail_json)
    cur = conn.execute(
        "INSERT INTO audit_log (at, actor, action, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)",
        (at, actor, action, detail_json, prev, digest),
    )
    return cur.lastrowid


def verify(db) -> list[str]:
    """Problems found walking the chain; an empty list means intact."""
    problems = []
    prev = GENESIS
    expected_id = None
    for row_id, at, actor, action, detail, prev_hash, digest in db.conn.execute(
        "SELECT id, at, actor, action, detail, prev_hash, hash FROM audit_log ORDER BY id"
    ):
        if expected_id is not None and row_id != expected_id:
            problems.append(f"audit rows {expected_id}..{row_id - 1} are missing")
        if prev_hash != prev:
            problems.append(f"audit row {row_id}: previous-hash link broken (a row before it was changed or removed)")
        if _row_hash(prev_hash, at, actor, action, detail) != digest:
            problems.append(f"audit row {row_id}: content does not match its hash (changed)")
        prev = digest
        expected_id = row_id + 1
    return problems
