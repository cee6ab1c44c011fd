"""WARC file -> index. The one path by which capture results reach the index.

``collect`` calls ``ingest_warc`` on each spool file after its upload is verified, and
``reindex`` calls it on every stored object: the index is therefore derived from the WARC
files alone and can always be rebuilt from them. Ingest is idempotent (records by id,
versions by hash, events by (item, time, event)), so replaying a file recovered from the
spool after a crash never duplicates anything.

Metadata records written by the capture pipeline (``Archiver-Metadata`` header):
* ``items/1`` – what API responses showed: per response, the items seen unchanged, the
  changes (new, edited, hidden, deleted... with the new version's text, content, native JSON
  and media) and the threads read whole; the format is documented in ``archiver.sightings``;
* ``run/1`` – the run summary (status, counts, problems) written last in a run.

The index keeps what search, retention and change detection need, and the WARC keeps the
rest: a version's content and native JSON are read back from its ``items/1`` record
(``versions.meta_record``; ``archiver.sightings.VersionBodies``) and are not stored here,
except the natives capture itself reads each night (``NATIVE_KEPT``). The latest version's
text and last sighting are the item's own (``items.text``, ``items.last_seen``), so a
version row keeps them only once it is superseded; its hash is the sha256 digest's 32 bytes
and its first sighting is NULL when it is the item's (``archiver.index.versions``). A night
that sees an item again unchanged writes its sighting to the narrow ``item_sightings`` table
and leaves the item's row alone (``archiver.sightings``).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Iterator

from warcio.archiveiterator import ArchiveIterator

from .errors import WarcError
from .ftsquery import index_form
from .index import item_id, transaction, tune_for_ingest
from .index.queries import put_records, record_key, run_key
from .index.versions import digest, stored_first_seen
from .sightings import (content_text, fold_sighting, latest_sighting, native_text, page_entries, record_sighting,
                        sighted_in)
from .textsafe import db_text, json_text, loads
from .timefmt import iso
from .warc import META_HEADER, iter_members

STATUS_ORDER = ("deleted", "hidden", "edited", "live")
# (platform, kind) whose native JSON the index keeps: capture reads X posts' edit history ids
# every night for the posts in its window (``capture.archived_to``), without the store.
NATIVE_KEPT = {("x", "post")}


def item_status(deleted: bool, hidden: bool, versions: int) -> str:
    if deleted:
        return "deleted"
    if hidden:
        return "hidden"
    return "edited" if versions > 1 else "live"


@dataclass
class IngestStats:
    records: int = 0
    new: int = 0
    edited: int = 0
    hidden: int = 0
    deleted: int = 0
    seen: int = 0
    # The items this ingest created, with the fields retention rules read
    # (``retention.assign.ITEM_FIELDS``): their series is assigned without reading them back.
    created: list[dict] = field(default_factory=list)


def iter_records(stream: IO[bytes], key: str = "") -> Iterator[tuple[Any, int, int, bytes | None]]:
    """(record, offset, length, metadata payload or None) for every record of a WARC, each
    checked first (``warc.iter_members``: complete gzip member, length, digests). A damaged
    record raises ``WarcError``: nothing is indexed from a record that is not the one written."""
    for member in iter_members(stream):
        if member.problem:
            raise WarcError(f"{key or 'WARC'}: the record at byte {member.offset} is damaged: {member.problem}")
        record = next(iter(ArchiveIterator(io.BytesIO(member.raw))))
        payload = None
        if record.rec_type == "metadata" and record.rec_headers.get_header(META_HEADER):
            payload = record.content_stream().read()
        yield record, member.offset, member.length, payload


def ingest_warc(db, key: str, stream: IO[bytes], *, sha256: str, size: int, stored_at: datetime,
                retain_until: datetime | None = None, version: str | None = None) -> IngestStats:
    """Index one stored WARC object (``version``: the store's version of it, which every later
    read names). The objects row is written in the same transaction, so the index never
    points at records of an object it does not know."""
    stats = IngestStats()
    first = last = None
    account = run_id = None
    tune_for_ingest(db.conn)
    with transaction(db):
        conn = db.conn
        # The items this ingest creates are filed into the full-text index at the end, in key
        # order: one FTS5 segment per file instead of one per post (migration m_fts_after_ingest).
        after_rowid = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM items").fetchone()[0]
        conn.execute("INSERT INTO fts_deferred (after_rowid) VALUES (?)", (after_rowid,))
        rows = []
        for record, offset, length, payload in iter_records(stream, key):
            h = record.rec_headers
            date = h.get_header("WARC-Date")
            first = first or date
            last = date or last
            status = None
            if record.http_headers is not None and record.rec_type in ("response", "revisit"):
                try:
                    status = int(record.http_headers.get_statuscode())
                except (TypeError, ValueError):
                    status = None
            rows.append((
                h.get_header("WARC-Record-ID"), key, offset, length, record.rec_type,
                h.get_header("WARC-Target-URI"), date, h.get_header("WARC-Payload-Digest"),
                record.http_headers.get_header("Content-Type") if record.http_headers else h.get_header("Content-Type"),
                status, h.get_header("WARC-Refers-To"),
            ))
            stats.records += 1
            if payload is not None:
                kind = h.get_header(META_HEADER)
                doc = loads(payload)
                if kind == "items/1":
                    account = doc.get("account") or account
                    run_id = doc.get("run") or run_id
                    _apply_items(conn, doc, date, h.get_header("WARC-Record-ID"),
                                 h.get_header("WARC-Refers-To"), stats)
                elif kind == "run/1":
                    account = doc.get("account") or account
                    run_id = doc.get("id") or run_id
                    _apply_run(conn, doc)
                elif kind == "webhook/1":
                    _apply_actions(conn, doc)
        conn.execute("INSERT INTO items_fts(rowid, fts_text, author, fts_scope) SELECT date_key, fts_text, author,"
                     " fts_scope FROM items WHERE rowid > ? ORDER BY date_key", (after_rowid,))
        conn.execute("DELETE FROM fts_deferred")
        conn.execute(
            "INSERT OR REPLACE INTO objects (key, account, run_id, sha256, size, stored_at, first_date, last_date,"
            " retain_until, version_id, legal_hold) VALUES (?,?,?,?,?,?,?,?,?,?,"
            " COALESCE((SELECT legal_hold FROM objects WHERE key = ?), 0))",
            (key, account, run_id, sha256, size, iso(stored_at), first, last, iso(retain_until), version, key),
        )
        put_records(conn, rows)
    return stats


def _apply_run(conn, doc: dict) -> None:
    cols = ["id", "account", "platform", "started_at", "finished_at", "status", "items_seen", "items_new",
            "items_edited", "items_hidden", "items_deleted", "media_fetched", "media_failed", "requests",
            "retries", "throttled", "bytes", "problems", "message", "driver", "quota_spent"]
    values = [json.dumps(doc.get(c, [])) if c == "problems" else doc.get(c) for c in cols]
    values[-2] = values[-2] or "nightly"  # runs written before there was a listener
    values[-1] = values[-1] or 0
    conn.execute(
        f"INSERT OR REPLACE INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", values
    )


def _apply_actions(conn, doc: dict) -> None:
    """The hides, unhides and removals a webhook delivery told of, with the platform's own time
    of each (``archiver.listen.graph.actions_of``, read by the listener into the note)."""
    rows = [(a["account"], a["comment_id"], a["verb"], a["at"], doc.get("received_at"))
            for a in doc.get("actions") or []]
    conn.executemany("INSERT OR IGNORE INTO platform_actions (account, platform_id, verb, at, received_at)"
                     " VALUES (?,?,?,?,?)", rows)


def _apply_items(conn, doc: dict, date: str, meta_id: str, refers_to: str | None, stats: IngestStats) -> None:
    for page in page_entries(doc, refers_to):
        _apply_page(conn, doc, page, date, meta_id, page.get("source"), stats)


def _apply_page(conn, doc: dict, page: dict, date: str, meta_id: str, source_id: str | None,
                stats: IngestStats) -> None:
    account, platform, run_id = doc["account"], doc["platform"], doc.get("run")
    # Items seen unchanged: their sighting goes to item_sightings, not to their row (sightings.py).
    for record, count in page.get("seen_at") or []:
        # Every item last sighted in ``record`` was seen again in ``source_id``.
        stats.seen += count
        record_sighting(conn, *sighted_in(record), date, run_key(conn, run_id), record_key(conn, source_id))
    seen = page.get("seen") or []
    stats.seen += len(seen)
    if seen:  # one statement for the page's items, through the (account, platform_id) index
        record_sighting(conn, "SELECT rowid FROM items WHERE account = ? AND platform_id IN"
                        " (SELECT value FROM json_each(?))", (account, json.dumps(seen)), date, run_key(conn, run_id),
                        record_key(conn, source_id))
    changes = page.get("changes") or []
    known = _known_rows(conn, account, [c["item"]["platform_id"] for c in changes])
    fresh: dict[str, dict] = {}  # first sightings, inserted together after the loop
    # Items this page has inserted or changed so far: ``known`` no longer tells their row.
    touched: set[str] = set()
    for change in changes:
        pid = change["item"]["platform_id"]
        if pid in fresh:  # the same item twice in one page: the first must be indexed before it
            _insert_new(conn, account, platform, run_id, list(fresh.values()), date, meta_id, source_id, stats)
            touched.update(fresh)
            fresh = {}
        # An item the first lookup did not find is unknown unless this page touched it since.
        if pid in known:
            row = known.pop(pid)
        elif pid in touched:
            row = _known_rows(conn, account, [pid]).get(pid)
        else:
            row = None
        if row is None and "version" in change:
            fresh[pid] = change
        elif row is not None:  # (a deletion of something this index never saw has nothing to mark)
            _apply_change(conn, account, platform, run_id, change, date, meta_id, source_id, stats, row)
            touched.add(pid)
    _insert_new(conn, account, platform, run_id, list(fresh.values()), date, meta_id, source_id, stats)
    for thread in page.get("threads") or []:
        conn.execute(
            "INSERT OR IGNORE INTO thread_scans (run_id, account, root, at, expected) VALUES (?,?,?,?,?)",
            (run_id, account, thread["root"], date, thread.get("expected")),
        )


def _known_rows(conn, account: str, pids: list[str]) -> dict[str, tuple]:
    """(rowid, versions, hidden, status) of the items already indexed: one statement whatever
    the page's size (a list of ``?`` would be a new statement for every size, ``_insert_rows``)."""
    return {pid: tuple(rest) for pid, *rest in conn.execute(
        "SELECT platform_id, rowid, versions, hidden, status FROM items WHERE account = ?"
        " AND platform_id IN (SELECT value FROM json_each(?))", (account, json.dumps(pids)))}


def _apply_change(conn, account, platform, run_id, change, date, meta_id, source_id, stats, row) -> None:
    item = change["item"]
    events = change.get("events", [])
    rowid, versions, hidden, status = row
    fold_sighting(conn, rowid)  # the row is the item's one sighting while it changes
    hidden = bool(hidden)
    deleted = status == "deleted"
    before = versions
    keep = (platform, item.get("kind")) in NATIVE_KEPT
    for hist in change.get("history") or []:
        versions = _add_version(conn, rowid, versions, hist, date, hist.get("source") or source_id, meta_id,
                                hist.get("created_at"), history=True, keep_native=keep)
    if "version" in change:
        versions = _add_version(conn, rowid, versions, change["version"], date, source_id, meta_id, keep_native=keep)
    if versions != before:
        # The new latest version's text and last sighting are the item's (set below).
        conn.execute("UPDATE versions SET text = NULL, last_seen = NULL WHERE item_rowid = ? AND n = ?",
                     (rowid, versions))
    for media in change.get("media") or []:
        conn.execute(
            "INSERT OR IGNORE INTO media (item_rowid, version_n, url, record, payload_digest, content_type, size,"
            " status) VALUES (?,?,?,?,?,?,?,?)",
            (rowid, max(versions, 1), media["url"], record_key(conn, media.get("record_id")), media.get("digest"),
             media.get("content_type"), media.get("size"), media.get("status", "fetched")),
        )
    for event in events:
        if row is not None:
            # Two nights' WARCs waited in the spool while the store was down, and the second
            # night compared against an index without the first: its "new" is an edit if the
            # content differs, and a fact already recorded is not recorded twice.
            if event == "new":
                if versions == before or "edited" in events:
                    continue
                event = "edited"
            elif _repeated(event, hidden, deleted):
                continue
        if event == "hidden":
            hidden = True
            stats.hidden += 1
        elif event == "unhidden":
            hidden = False
        elif event == "deleted":
            deleted = True
            stats.deleted += 1
        elif event == "restored":
            deleted = False
        elif event == "new":
            stats.new += 1
        elif event == "edited":
            stats.edited += 1
        conn.execute(
            "INSERT OR IGNORE INTO events (item_rowid, at, run_id, event, record, detail) VALUES (?,?,?,?,?,?)",
            # detail: what the platform's answer can tell of a deletion (collectors.base.Gone)
            (rowid, date, run_id, event, record_key(conn, source_id),
             change.get("detail") if event == "deleted" else None),
        )
    new_status = item_status(deleted, hidden, versions)
    fields = {"versions": versions, "hidden": int(hidden), "status": new_status, "run": run_key(conn, run_id)}
    if new_status != status:
        fields["status_at"] = date
    if "version" in change:
        fields.update({
            "text": db_text(change["version"].get("text")),
            "search_text": index_form(db_text(change["version"].get("text")), db_text(item.get("search_text"))),
            "last_seen": date, "record": record_key(conn, source_id),
            "counts": json_text(item.get("counts") or {}),
        })
        for key in ("author", "author_id", "url", "created_at", "parent", "is_department"):
            if item.get(key) is not None:
                fields[key] = db_text(item[key])
        if change.get("media"):
            fields["has_media"] = 1
    elif "deleted" not in events:
        fields["last_seen"] = date
    sets = ", ".join(f"{k} = ?" for k in fields)
    conn.execute(f"UPDATE items SET {sets} WHERE rowid = ?", (*fields.values(), rowid))


ITEM_COLUMNS = ("rowid", "id", "account", "platform", "platform_id", "kind", "parent", "root", "author", "author_id",
                "is_department", "text", "search_text", "created_at", "url", "status", "status_at", "hidden",
                "versions", "first_seen", "last_seen", "run", "has_media", "counts", "record")
# The most rows one INSERT statement takes (``_insert_rows``).
INSERT_ROWS = 256


def _insert_rows(conn, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Multi-row INSERTs of ``rows`` in runs of a power of two (256, 128, ... 1 rows).

    SQLite compiles a multi-row statement for its number of rows (one of 500 items rows holds
    1.2 MB), and Python's sqlite3 keeps the last 128 distinct statements it ran. Pages come in
    every size -- each thread's last page of comments is a different one -- so one statement
    per page size made a new statement for nearly every page, and kept up to 128 of them (in
    bench_collect at 101,000 items, the commit worker's peak 74-75 MB against 64-65 MB in runs
    of powers of two; docs/benchmarks.md). Runs of powers of two are at most nine statements,
    compiled once."""
    marks = f"({', '.join('?' * len(columns))})"
    start = 0
    while start < len(rows):
        n = min(INSERT_ROWS, 1 << ((len(rows) - start).bit_length() - 1))
        conn.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([marks] * n)}",
                     [value for row in rows[start:start + n] for value in row])
        start += n


def _insert_new(conn, account, platform, run_id, changes: list[dict], date, meta_id, source_id, stats) -> None:
    """First sightings of a page: their items with the final values in multi-row INSERTs
    (``_insert_rows``; a statement per row took half as long again), then their versions
    (platform history first), media and events. Rowids are given explicitly (the highest so
    far + 1...; ingest holds the write transaction) so the versions can name them."""
    if not changes:
        return
    next_rowid = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM items").fetchone()[0] + 1
    source, meta, run = record_key(conn, source_id), record_key(conn, meta_id), run_key(conn, run_id)
    items, versions, media, events = [], [], [], []
    for rowid, change in enumerate(changes, next_rowid):
        item, evts = change["item"], change.get("events", [])
        chain = []
        for version in [*(change.get("history") or []), change["version"]]:
            if not chain or chain[-1][0]["hash"] != version["hash"]:
                chain.append((version, version is not change["version"]))
        hidden = "hidden" in evts
        keep = (platform, item["kind"]) in NATIVE_KEPT
        iid = item_id(platform, account, item["platform_id"])
        items.append((
            rowid, iid, account, platform, item["platform_id"],
            item["kind"], item.get("parent"), item["root"], db_text(item.get("author")), item.get("author_id"),
            item.get("is_department"), db_text(change["version"].get("text")),
            index_form(db_text(change["version"].get("text")), db_text(item.get("search_text"))),
            # status_at and last_seen: NULL, they are first_seen (archiver.sightings.latest_sighting)
            item.get("created_at"), db_text(item.get("url")), item_status(False, hidden, len(chain)), None,
            int(hidden), len(chain), date, None, run, int(bool(change.get("media"))),
            json_text(item.get("counts") or {}), source))
        # The latest version's text and last sighting are the item's (module docstring).
        versions += [
            (rowid, n, digest(v["hash"]), db_text(v.get("text")) if n < len(chain) else None,
             native_text(v) if keep else None,
             stored_first_seen((v.get("created_at") or date) if is_history else date, date),
             date if n < len(chain) else None,
             (record_key(conn, v.get("source")) or source) if is_history else source, meta)
            for n, (v, is_history) in enumerate(chain, 1)]
        media += [(rowid, len(chain), m["url"], record_key(conn, m.get("record_id")), m.get("digest"),
                   m.get("content_type"), m.get("size"), m.get("status", "fetched")) for m in change.get("media") or []]
        # "new" is not stored: the item's first sighting says it (archiver.index.queries.item_events)
        events += [(rowid, date, run_id, e, source) for e in evts if e != "new"]
        stats.created.append({"rowid": rowid, "id": iid, "platform": platform, "account": account, "kind": item["kind"],
                              "is_department": item.get("is_department"), "created_at": item.get("created_at"),
                              "first_seen": date})
        stats.new += 1
        stats.hidden += int(hidden)
    _insert_rows(conn, "items", ITEM_COLUMNS, items)
    conn.executemany(
        "INSERT INTO versions (item_rowid, n, hash, text, native, first_seen, last_seen, record,"
        " meta_record) VALUES (?,?,?,?,?,?,?,?,?)", versions)
    if media:
        conn.executemany(
            "INSERT OR IGNORE INTO media (item_rowid, version_n, url, record, payload_digest, content_type, size,"
            " status) VALUES (?,?,?,?,?,?,?,?)", media)
    conn.executemany("INSERT OR IGNORE INTO events (item_rowid, at, run_id, event, record) VALUES (?,?,?,?,?)",
                     events)


def _repeated(event: str, hidden: bool, deleted: bool) -> bool:
    return ((event == "hidden" and hidden) or (event == "unhidden" and not hidden)
            or (event == "deleted" and deleted) or (event == "restored" and not deleted))


def _add_version(conn, rowid: int, versions: int, version: dict, date: str, source_id, meta_id,
                 first_seen: str | None = None, history: bool = False, keep_native: bool = False) -> int:
    """Add ``version`` after version ``versions`` unless it is that one again; returns the
    latest version's number. A version is written whole (text and last sighting included);
    the caller clears them on the one that ends up latest (they are the item's)."""
    stored = digest(version["hash"])
    latest, item_first_seen = conn.execute(
        "SELECT v.hash, i.first_seen FROM items i LEFT JOIN versions v ON v.item_rowid = i.rowid AND v.n = ?"
        " WHERE i.rowid = ?", (versions, rowid)
    ).fetchone()
    if latest == stored:
        return versions  # the same content again (a re-ingest after a crash): the item's last_seen says it
    if history and conn.execute(
        "SELECT 1 FROM versions WHERE item_rowid = ? AND hash = ?", (rowid, stored)
    ).fetchone():
        return versions  # platform-reported history already archived
    # The version it supersedes takes its text and last sighting from the item, which the
    # caller has not updated yet (a version added earlier in this change has its own).
    conn.execute(
        "UPDATE versions SET text = (SELECT text FROM items WHERE rowid = ?),"
        f" last_seen = (SELECT {latest_sighting('last_seen')} FROM items i WHERE i.rowid = ?)"
        " WHERE item_rowid = ? AND n = ? AND last_seen IS NULL",
        (rowid, rowid, rowid, versions))
    n = versions + 1
    conn.execute(
        "INSERT INTO versions (item_rowid, n, hash, text, native, first_seen, last_seen, record,"
        " meta_record) VALUES (?,?,?,?,?,?,?,?,?)",
        (rowid, n, stored, db_text(version.get("text")), native_text(version) if keep_native else None,
         stored_first_seen(first_seen or date, item_first_seen), date, record_key(conn, source_id),
         record_key(conn, meta_id)),
    )
    return n
