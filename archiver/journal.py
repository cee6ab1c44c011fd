"""The records-management journal: the archive's legal state, kept in the store.

Legal holds, records requests and their 19.35(5) holds, disposition plans, Historical
Society notices and replies, approvals, certificates of destruction, retention overrides and
event dates, and the audit log live in SQLite tables -- and an index can be lost. Losing a
legal hold is spoliation. So every change to those tables (``TABLES``) is also written, in
the transaction that makes it, as one *journal entry*; the entries go to the store as
append-only objects, WORM where the bucket has Object Lock (a legal hold on each), and
``archiver reindex`` replays them: the store alone reproduces the whole archive state.

How an entry comes about, without call sites having to remember it: temporary triggers on
every connection (``watch``, run by ``open_index``) note each row written to a journaled
table; when the transaction commits (``archiver.index.transaction``), ``seal`` turns what
was noted into one entry -- the audit row(s) it wrote, the row images, and any explicit
events -- chained to the previous entry by its sha256, and stored in the ``journal`` table.
After the commit, ``push`` writes unsent entries to the store (where the process has one:
``attach``); the web process has no store credentials, so its entries wait in the table
until the next command or nightly run that has one pushes them. ``archiver health`` reports
entries waiting too long, and a broken chain.

Entry object: ``journal/YYYY/MM/<seq, 12 digits>-<kind>.json``, JSON::

    {"v": 1, "seq": 42, "at": "...Z", "kind": "hold.placed", "actor": "clerk",
     "prev": "<sha256 hex of entry 41's bytes, or 64 zeros>",
     "events": [{"kind": ..., "actor": ..., "data": {...}}],     # explicit events, if any
     "changes": [["holds", "put", {row}], ["audit_log", "put", {row}], ...]}

API (library code; a CLI or web view never writes the journal directly):

* ``append(db, kind, data, *, actor, now=None)`` -- record an event that is not (only) a
  row of a journaled table, e.g. ``append(db, "moderation.reason", {"item": id, "reason":
  ...}, actor=user)``. Inside a ``transaction`` it joins that transaction's entry; outside,
  it is an entry of its own. ``entries(db, kind=...)`` reads such events back.
* ``attach(db, store)`` -- push entries to ``store`` after every commit on ``db`` (``store``
  may be a callable returning one, opened on first use).
* ``push(db, store)`` -- write unsent entries to the store, oldest first.
* ``replay(db, store)`` -- rebuild the journaled tables from the store (reindex).
* ``verify(db, store)`` -- walk the store's chain; compare it with the index.
* ``status(db, now=)`` -- what ``archiver health`` shows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping

from .errors import StoreError
from .textsafe import json_bytes
from .timefmt import iso, utcnow

log = logging.getLogger("archiver.journal")

PREFIX = "journal/"
GENESIS = "0" * 64
# The records-management tables. Items, versions and runs are not here: they are rebuilt
# from the WARC files. Retention assignments are recomputed from the schedule.
TABLES = ("retention_schedules", "retention_overrides", "retention_event_dates", "holds", "hold_items",
          "records_requests", "disposition_plans", "whs_notices", "dispositions", "disposition_objects",
          "tombstones", "object_tombstones", "moderation_policies", "moderation_reasons", "audit_log")
_KEY = re.compile(r"^journal/\d{4}/\d{2}/(\d{12})-[A-Za-z0-9._-]+\.json$")


# --- noting changes --------------------------------------------------------------------------

def watch(conn: sqlite3.Connection) -> None:
    """Install this connection's temporary triggers: each row written to a journaled table
    is noted (as its full row image) for the entry its transaction will seal."""
    if conn.execute("SELECT 1 FROM temp.sqlite_master WHERE name = 'journal_pending'").fetchone():
        return
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS journal_pending (n INTEGER PRIMARY KEY, tbl TEXT NOT NULL,"
                 " op TEXT NOT NULL, row TEXT NOT NULL)")
    for table in TABLES:
        cols = [r[1] for r in conn.execute(f"PRAGMA main.table_info({table})")]
        if not cols:
            continue
        for event, op, ref in (("INSERT", "put", "NEW"), ("UPDATE", "put", "NEW"), ("DELETE", "del", "OLD")):
            image = ", ".join(f"'{c}', {ref}.\"{c}\"" for c in cols)
            conn.execute(
                f"CREATE TEMP TRIGGER IF NOT EXISTS journal_{table}_{op}_{event.lower()} AFTER {event} ON main.{table}"
                f" BEGIN INSERT INTO journal_pending (tbl, op, row) VALUES ('{table}', '{op}', json_object({image}));"
                " END")


def append(db, kind: str, data: Mapping[str, Any] | None = None, *, actor: str, now: datetime | None = None) -> None:
    """Record an explicit event (see the module docstring)."""
    conn = db.conn
    event = {"kind": kind, "actor": actor, "at": iso(now or utcnow()), "data": dict(data or {})}
    conn.execute("INSERT INTO temp.journal_pending (tbl, op, row) VALUES ('', 'event', ?)",
                 (json_bytes(event).decode("utf-8"),))
    if not conn.in_transaction:
        seal(conn, now=now)
        after_commit(db)


def seal(conn: sqlite3.Connection, *, now: datetime | None = None) -> int | None:
    """Turn what this transaction noted into one chained entry; its seq, or None if nothing
    was noted. Called by ``transaction`` just before COMMIT."""
    pending = conn.execute("SELECT tbl, op, row FROM temp.journal_pending ORDER BY n").fetchall()
    if not pending:
        return None
    conn.execute("DELETE FROM temp.journal_pending")
    events = [json.loads(row) for tbl, op, row in pending if op == "event"]
    changes = [[tbl, op, json.loads(row)] for tbl, op, row in pending if op != "event"]
    audits = [row for tbl, op, row in changes if tbl == "audit_log" and op == "put"]
    first = (audits or events or [{}])[0]
    kind = first.get("action") or first.get("kind") or "records.changed"
    at = first.get("at") or iso(now or utcnow())
    head = conn.execute("SELECT seq, sha256 FROM journal ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    entry = {"v": 1, "seq": seq, "at": at, "kind": kind, "actor": first.get("actor"), "prev": prev,
             "events": events, "changes": changes}
    body = json_bytes(entry)
    conn.execute("INSERT INTO journal (seq, key, kind, at, sha256, body) VALUES (?,?,?,?,?,?)",
                 (seq, entry_key(seq, kind, at), kind, at, hashlib.sha256(body).hexdigest(), body))
    return seq


def entry_key(seq: int, kind: str, at: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", kind)[:60] or "entry"
    return f"{PREFIX}{at[:4]}/{at[5:7]}/{seq:012d}-{safe}.json"


def entries(db, kind: str | None = None) -> list[dict]:
    """The explicit events recorded with ``append`` (all, or of one kind), oldest first."""
    out = []
    for (body,) in db.conn.execute("SELECT body FROM journal ORDER BY seq"):
        for event in json.loads(body).get("events", []):
            if kind is None or event["kind"] == kind:
                out.append(event)
    return out


# --- to the store ----------------------------------------------------------------------------

def attach(db, store) -> None:
    """Push entries to ``store`` (or ``store()``, opened on first need) after each commit."""
    db.journal_store = store


def after_commit(db) -> None:
    """Called by ``transaction`` after COMMIT: push what is unsent, if a store is attached."""
    store = getattr(db, "journal_store", None)
    if store is None:
        return
    if callable(store) and not hasattr(store, "put"):
        try:
            store = db.journal_store = store()
        except StoreError as exc:
            db.journal_store = None
            log.error("journal entries wait in the index: the store cannot be opened (%s)", exc)
            return
    try:
        push(db, store)
    except StoreError as exc:  # the event itself is committed; the entry waits for the next push
        # Not again on this connection: a store that is down would cost its timeouts on every
        # commit of the night. The next run (or command) attaches and pushes again.
        db.journal_store = None
        log.error("journal entries wait in the index: the store refused them (%s)", exc)


def push(db, store) -> int:
    """Write the unsent entries to the store, oldest first; how many were written. Each is
    put once and kept (a legal hold under Object Lock): the journal is append-only."""
    sent = 0
    for seq, key, body in db.conn.execute(
            "SELECT seq, key, body FROM journal WHERE stored_at IS NULL ORDER BY seq").fetchall():
        if not (store.exists(key) and store.read(key) == body):
            store.put_bytes(key, body, legal_hold=True)
        db.conn.execute("UPDATE journal SET stored_at = ? WHERE seq = ?", (iso(utcnow()), seq))
        sent += 1
    return sent


# --- from the store --------------------------------------------------------------------------

@dataclass
class Replayed:
    entries: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (key, why)


def read_chain(store) -> tuple[list[tuple[str, bytes, dict]], list[tuple[str, str]]]:
    """The store's entries in seq order, as (key, bytes, entry), and what is wrong with the
    chain: a gap, an entry that is not JSON, a link that does not match (tampered)."""
    chain, problems = [], []
    listed = []
    for obj in store.archived(PREFIX):
        m = _KEY.match(obj.key)
        if m is None:
            problems.append((obj.key, "not a journal entry name"))
            continue
        listed.append((int(m.group(1)), obj))
    listed.sort(key=lambda pair: pair[0])
    prev_key, prev_hash, expected = None, GENESIS, 1
    for seq, obj in listed:
        try:
            body = store.read(obj.key, version=obj.version)
            entry = json.loads(body)
        except (StoreError, OSError, ValueError) as exc:
            problems.append((obj.key, f"unreadable journal entry: {exc}"))
            prev_key, prev_hash, expected = obj.key, None, seq + 1
            continue
        if seq != expected:
            problems.append((obj.key, f"journal entries {expected}..{seq - 1} are missing from the store"))
        if entry.get("seq") != seq:
            problems.append((obj.key, f"the entry says it is number {entry.get('seq')}, its name says {seq}"))
        if prev_hash is not None and entry.get("prev") != prev_hash and seq == expected:
            problems.append((prev_key or obj.key, "journal entry changed: its sha256 is not what the next entry "
                             f"recorded ({obj.key})" if prev_key else "the first entry does not start the chain"))
        chain.append((obj.key, body, entry))
        prev_key, prev_hash, expected = obj.key, hashlib.sha256(body).hexdigest(), seq + 1
    return chain, problems


def replay(db, store) -> Replayed:
    """Rebuild the journaled tables (and the ``journal`` table) from the store's entries.
    An entry whose bytes the chain shows were changed is reported and not applied."""
    from .index import transaction

    chain, problems = read_chain(store)
    tampered = {key for key, why in problems if why.startswith("journal entry changed")}
    result = Replayed(problems=problems)
    conn = db.conn
    at = iso(utcnow())
    with transaction(db):
        for key, body, entry in chain:
            if key not in tampered:
                for table, op, row in entry.get("changes", []):
                    _apply(conn, table, op, row)
            conn.execute("INSERT OR REPLACE INTO journal (seq, key, kind, at, sha256, body, stored_at)"
                         " VALUES (?,?,?,?,?,?,?)", (entry.get("seq"), key, entry.get("kind"), entry.get("at"),
                                                     hashlib.sha256(body).hexdigest(), body, at))
            result.entries += 1
        conn.execute("DELETE FROM temp.journal_pending")  # what replay wrote is not a new event
    return result


def _apply(conn: sqlite3.Connection, table: str, op: str, row: dict) -> None:
    if table not in TABLES:
        return
    if op == "put":
        cols = list(row)
        conn.execute(f"INSERT OR REPLACE INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                     [row[c] for c in cols])
    elif op == "del":
        keys = [r[1] for r in conn.execute(f"PRAGMA main.table_info({table})") if r[5]] or list(row)
        conn.execute(f"DELETE FROM {table} WHERE {' AND '.join(f'{k} IS ?' for k in keys)}", [row[k] for k in keys])


def verify(db, store) -> list[str]:
    """Problems with the journal: the store's chain, and entries of the index that the store
    does not hold as they were sealed."""
    chain, problems = read_chain(store)
    out = [f"{key}: {why}" for key, why in problems]
    out += [f"{a.key}: a later version or a delete marker was put over this entry (the first version is read)"
            for a in store.archived(PREFIX) if a.replaced]
    stored = {key: hashlib.sha256(body).hexdigest() for key, body, _ in chain}
    for key, sha, body in db.conn.execute(
            "SELECT key, sha256, body FROM journal WHERE stored_at IS NOT NULL ORDER BY seq"):
        body = body.encode("utf-8") if isinstance(body, str) else body
        if key not in stored:
            out.append(f"{key}: in the index, missing from the store")
        elif stored[key] != sha or stored[key] != hashlib.sha256(body).hexdigest():
            out.append(f"{key}: the store's copy differs from the entry sealed in the index (changed)")
    return out


def check_index(db) -> list[str]:
    """The index's own copy of the chain, walked without the store (for ``archiver health``):
    every entry's bytes match its sha256 and the next entry's link, with no gaps."""
    problems, prev, expected = [], GENESIS, None
    for seq, key, sha, body in db.conn.execute("SELECT seq, key, sha256, body FROM journal ORDER BY seq"):
        if expected is not None and seq != expected:
            problems.append(f"journal entries {expected}..{seq - 1} are missing from the index")
        body = body.encode("utf-8") if isinstance(body, str) else body  # an edit may have stored text
        if hashlib.sha256(body).hexdigest() != sha:
            problems.append(f"{key}: changed in the index (its bytes do not match their sha256)")
        try:
            link = json.loads(body).get("prev")
        except ValueError:
            link = None
        if expected is not None and link != prev:
            problems.append(f"{key}: does not link to the entry before it")
        prev, expected = sha, seq + 1
    return problems


@dataclass
class JournalStatus:
    entries: int
    unsent: int
    oldest_unsent: str | None


def status(db) -> JournalStatus:
    total, unsent, oldest = db.conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE stored_at IS NULL), min(at) FILTER (WHERE stored_at IS NULL)"
        " FROM journal").fetchone()
    return JournalStatus(total, unsent, oldest)


def overdue(state: JournalStatus, now: datetime, hours: float) -> bool:
    return bool(state.unsent) and state.oldest_unsent is not None and state.oldest_unsent < iso(now - timedelta(hours=hours))

