"""The ``items/1`` metadata records: what each API response showed, written as capture goes.

The index is derived from WARC files alone (``archiver.ingest``), so the capture pipeline
writes what it concluded from each API response into ``metadata`` records next to it. One
*page entry* per response (the response's record id is its ``source``)::

    {"source": record id, "uri": response URL,
     "seen": [platform ids unchanged since the index last saw them],
     "seen_at": [[record id, n], ...],   # see below
     "changes": [{"events", "item", "version", "media", "history"}, ...],
     # a version: {"hash", "text", "content_json": the version-defining fields as the
     #   canonical JSON text the hash was taken over, "native_json": the platform JSON as a
     #   string} (both strings, stored by ingest as they are; older files have "content");
     # a "history" version (reported by the platform) also names its own "source" response
     "threads": [{"root", "expected"}, ...]}

An entry is closed when the next item comes from another response (a listing page's
entries therefore come in several pieces, one per post, as its posts' threads are read in
between). An entry with changes is written at once as its own record, tied to its response by
WARC-Refers-To and WARC-Concurrent-To (its keys are then the record's top level): a run killed
a moment later has lost no change. Entries where nothing changed carry only sightings; they
are batched, many entries in one record under ``"pages"``, because on an unchanged night they
are nearly all there is besides the revisit records, and a record's own headers cost more than
its payload. A run killed before a batch is written loses those sightings' last-seen times,
never an item or a version.

``seen_at`` is the compact form of ``seen`` for the common case: ``[R, n]`` says "the n
items whose latest sighting was record R were all seen again here". It is only written when
those n are exactly every item whose latest sighting in the index is R (``count_sighted``, at
capture time), so ingest can apply it as one statement by record id. Items the index
meanwhile moved to another record were, by construction, seen elsewhere in this run.

Where sightings are kept: an item's row (``items.last_seen``; ``run`` and ``record``, the
integer keys of the run, ``run_keys.id``, and of the response, ``records.id``) holds its
sighting as of its latest change
(``last_seen`` and ``status_at`` are NULL while they equal ``first_seen``, as for every item
seen once: 54 bytes of each such row); a
later sighting of the item unchanged goes to the narrow ``item_sightings`` table instead (one
row per item, replaced each night it is seen again, folded back into the item's row at its
next change). A night that finds nothing changed
therefore rewrites that narrow table and its record index, not the wide ``items`` rows with
their text and their indexes. An item's latest sighting is its ``item_sightings`` row if it has
one, else its own: readers take it from ``latest_sighting`` and ``sighted_in`` here, and the
links from objects to items (retention) from ``item_record_links`` (the ``item_objects`` view
is built from it).
"""

from __future__ import annotations

import io
from typing import Any, Callable

from .textsafe import json_text, loads

# Unchanged pages per batched record.
BATCH = 64

Write = Callable[[str, dict, "str | None"], None]  # (target uri, payload, refers_to)


def latest_sighting(column: str, item: str = "i") -> str:
    """SQL of the latest sighting's ``column`` of the ``items`` row aliased ``item`` (see the
    module docstring): ``last_seen``, ``run`` (the integer key of its run, ``run_keys.id``),
    ``last_run`` (that run's id), ``record`` (the integer key of its response, ``records.id``)
    or ``record_id`` (that response's WARC-Record-ID)."""
    if column == "record_id":
        return f"(SELECT record_id FROM records WHERE id = {latest_sighting('record', item)})"
    if column == "last_run":
        return f"(SELECT run_id FROM run_keys WHERE id = {latest_sighting('run', item)})"
    # An item seen once has no last_seen of its own: it is its first_seen (module docstring).
    own = f"{item}.last_seen, {item}.first_seen" if column == "last_seen" else f"{item}.{column}"
    return f"COALESCE((SELECT s.{column} FROM item_sightings s WHERE s.item_rowid = {item}.rowid), {own})"


def status_at(item: str = "i") -> str:
    """SQL of when the current status of the ``items`` row aliased ``item`` was detected: its
    ``status_at``, which is NULL for the status it was first seen with (then: its first_seen)."""
    return f"COALESCE({item}.status_at, {item}.first_seen)"


# Which records hold an item, and so which stored objects (retention destroys and locks whole
# objects): its latest sighting's response (which shows its latest version), and each
# version's response, items/1 record and media. Per link: (table aliased l, the item's rowid,
# the record's key, the version it belongs to, a condition or None). A sighting's version is
# looked up by rowid, so that reading every sighting reads the record index, not the wide rows.
_LATEST = "(SELECT versions FROM items WHERE rowid = {})"
_ITEM_RECORDS = (
    ("items l", "l.rowid", "l.record", _LATEST.format("l.rowid"),
     "NOT EXISTS (SELECT 1 FROM item_sightings s WHERE s.item_rowid = l.rowid)"),
    ("item_sightings l", "l.item_rowid", "l.record", _LATEST.format("l.item_rowid"), None),
    ("versions l", "l.item_rowid", "l.record", "l.n", None),
    ("versions l", "l.item_rowid", "l.meta_record", "l.n", None),
    ("media l", "l.item_rowid", "l.record", "l.version_n", None),
)


def item_record_links(columns: str, walk_from: str | None = None, of_items: str | None = None) -> str:
    """SQL of the UNION of every (item, record) link (``_ITEM_RECORDS``), each arm selecting
    ``columns``, a template of ``{item}``, ``{record}`` and ``{n}`` (the version).

    ``walk_from``: a relation of records aliased ``r`` (with its ``id``) that each arm starts
    from and joins to its table through that table's record index: the links of a few objects
    cost what is in them. ``of_items``: SQL of a set of item rowids whose links alone are read,
    through each table's item key. With neither, each arm reads its whole table (every link)."""
    arms = []
    for table, item, record, n, condition in _ITEM_RECORDS:
        sql = f"SELECT {columns.format(item=item, record=record, n=n)} FROM "
        sql += f"{walk_from} JOIN {table} ON {record} = r.id" if walk_from else table
        conditions = [c for c in (condition, of_items and f"{item} IN {of_items}") if c]
        arms.append(sql + (f" WHERE {' AND '.join(conditions)}" if conditions else ""))
    return " UNION ".join(arms)


def item_objects_sql() -> str:
    """The ``item_objects`` view's query: (object_key, item_id) of every item and every object
    holding one of its records."""
    links = item_record_links("{item} AS item_rowid, {record} AS record")
    return ("SELECT DISTINCT r.object_key AS object_key, i.id AS item_id"
            f" FROM ({links}) AS link JOIN records AS r ON r.id = link.record"
            " JOIN items AS i ON i.rowid = link.item_rowid WHERE r.object_key IS NOT NULL")


def sighted_in(record: str) -> tuple[str, tuple]:
    """SQL and parameters of the rowids of the items whose latest sighting is the response
    ``record`` (a WARC-Record-ID), through the two record indexes (items_record,
    item_sightings_record)."""
    key = "(SELECT id FROM records WHERE record_id = ?)"
    return (f"SELECT i.rowid FROM items i WHERE i.record = {key} AND NOT EXISTS"
            " (SELECT 1 FROM item_sightings s WHERE s.item_rowid = i.rowid)"
            f" UNION ALL SELECT item_rowid FROM item_sightings WHERE record = {key}", (record, record))


def count_sighted(conn, record: str) -> int:
    """How many items have ``record`` as their latest sighting (the ``seen_at`` test)."""
    sql, params = sighted_in(record)
    return conn.execute(f"SELECT COUNT(*) FROM ({sql})", params).fetchone()[0]


def record_sighting(conn, rowids_sql: str, params: tuple | list, date: str, run: int | None,
                    source: int | None) -> None:
    """The items ``rowids_sql`` selects were seen unchanged at ``date`` by the run whose key is
    ``run`` in the response whose key is ``source`` (None: a source not known, the latest
    sighting's record stays): their ``item_sightings`` rows, unless they already have a
    sighting that recent (a file ingested again)."""
    conn.execute(
        "INSERT INTO item_sightings (item_rowid, last_seen, run, record)"
        f" SELECT i.rowid, ?, ?, COALESCE(?, {latest_sighting('record')}) FROM items i"
        f" WHERE i.rowid IN ({rowids_sql}) AND {latest_sighting('last_seen')} < ?"
        " ON CONFLICT (item_rowid) DO UPDATE SET last_seen = excluded.last_seen, run = excluded.run,"
        " record = excluded.record",
        (date, run, source, *params, date))


def fold_sighting(conn, rowid: int) -> None:
    """Before an item's row is changed: its later sighting, if any, becomes the row's own again
    (the change then writes the row anyway), so the row is the one truth it updates."""
    moved = conn.execute(
        "UPDATE items SET (last_seen, run, record) = (SELECT last_seen, run, record"
        " FROM item_sightings WHERE item_rowid = ?) WHERE rowid = ?"
        " AND EXISTS (SELECT 1 FROM item_sightings WHERE item_rowid = ?)", (rowid, rowid, rowid)).rowcount
    if moved:
        conn.execute("DELETE FROM item_sightings WHERE item_rowid = ?", (rowid,))


class Sightings:
    def __init__(self, run: str, account: str, platform: str, write: Write,
                 count_sighted: Callable[[str], int], run_uri: str):
        self.head = {"run": run, "account": account, "platform": platform}
        self.write = write
        self.count_sighted = count_sighted  # items in the index last sighted in record R
        self.run_uri = run_uri
        self.current: dict | None = None
        self.batch: list[dict] = []

    def _page(self, source: tuple[str | None, str]) -> dict:
        if self.current is None or self.current["source"] != source[0]:
            self._close()
            self.current = {"source": source[0], "uri": source[1], "seen": [], "changes": [], "threads": []}
        return self.current

    def seen(self, source: tuple[str | None, str], platform_id: str, last_record: str | None) -> None:
        self._page(source)["seen"].append((platform_id, last_record))

    def change(self, source: tuple[str | None, str], change: dict) -> None:
        self._page(source)["changes"].append(change)

    def thread(self, source: tuple[str | None, str], root: str, expected: int | None) -> None:
        self._page(source)["threads"].append({"root": root, "expected": expected})

    def flush(self) -> None:
        """Write everything still open (before a WARC file is closed)."""
        self._close()
        self._write_batch()

    def _close(self) -> None:
        page, self.current = self.current, None
        if page is None or not (page["seen"] or page["changes"] or page["threads"]):
            return
        page["seen"], page["seen_at"] = self._compact(page["seen"])
        if page["changes"]:
            self.write(page["uri"], {**self.head, **page}, page["source"])
            return
        self.batch.append(page)
        if len(self.batch) >= BATCH:
            self._write_batch()

    def _write_batch(self) -> None:
        if self.batch:
            self.write(self.run_uri, {**self.head, "pages": self.batch}, None)
            self.batch = []

    def _compact(self, seen: list[tuple[str, str | None]]) -> tuple[list[str], list[list]]:
        by_record: dict[str | None, list[str]] = {}
        for platform_id, record in seen:
            by_record.setdefault(record, []).append(platform_id)
        explicit: list[str] = []
        compact: list[list] = []
        for record, ids in by_record.items():
            if record is not None and len(set(ids)) == len(ids) == self.count_sighted(record):
                compact.append([record, len(ids)])
            else:
                explicit += ids
        return explicit, compact


def page_entries(doc: dict, refers_to: str | None) -> list[dict]:
    """The page entries of one ``items/1`` record, whichever form it was written in."""
    if "pages" in doc:
        return doc["pages"]
    return [{**doc, "source": doc.get("source", refers_to)}]


def content_text(version: dict) -> str:
    """A version's content JSON text: ``content_json`` as capture writes it (the canonical text
    its hash was taken over), or a ``content`` structure (metadata written before that)."""
    if "content_json" in version:
        return version["content_json"]
    return json_text(version.get("content"))


def native_text(version: dict) -> str | None:
    """A version's native JSON text: ``native_json`` as capture writes it, or a ``native``
    structure (metadata written before that, and tools writing items/1 themselves)."""
    if "native_json" in version:
        return version["native_json"]
    return json_text(version["native"]) if version.get("native") is not None else None


class VersionBodies:
    """A version's text, content and native JSON as captured, read back from the ``items/1``
    record that reported it (``versions.meta_record``).

    The index keeps no copy of those bodies (the WARC is their one full copy; the index holds
    what search, retention and change detection need): exports, ``show`` and the web UI read
    them here, through the store, each record checked like every other read
    (``warc.read_record``: length and digests). One record holds the changes of a whole page,
    so the last few parsed records are kept: a thread's versions come from a handful of them."""

    KEEP = 8

    def __init__(self, conn, store):
        self.conn, self.store = conn, store
        self._docs: dict[str, dict[tuple[str, str], dict]] = {}

    def get(self, meta_record_id: str | None, platform_id: str, digest: str) -> dict[str, Any] | None:
        """{"text", "content", "native"} of the version of ``platform_id`` with hash ``digest``,
        or None if the index knows no such record (disposed of) or it does not name the version.
        ``WarcError`` if the record is damaged in the store."""
        if not meta_record_id:
            return None
        versions = self._docs.get(meta_record_id)
        if versions is None:
            versions = self._read(meta_record_id)
            if versions is None:
                return None
            if len(self._docs) >= self.KEEP:
                self._docs.pop(next(iter(self._docs)))
            self._docs[meta_record_id] = versions
        version = versions.get((platform_id, digest))
        if version is None:
            return None
        return {"text": version.get("text"), "content": content_text(version), "native": native_text(version)}

    def _read(self, record_id: str) -> dict[tuple[str, str], dict] | None:
        # Imported here: `archiver search` takes its sighting SQL from this module and starts
        # without warcio.
        from warcio.archiveiterator import ArchiveIterator

        from .warc import read_record

        row = self.conn.execute("SELECT object_key, offset, length, refers_to FROM records WHERE record_id = ? AND object_key IS NOT NULL",
                                (record_id,)).fetchone()
        if row is None:
            return None
        key, offset, length, refers_to = row
        record = next(iter(ArchiveIterator(io.BytesIO(read_record(self.store, self.conn, key, offset, length)))))
        doc = loads(record.content_stream().read())
        found: dict[tuple[str, str], dict] = {}
        for page in page_entries(doc, refers_to):
            for change in page.get("changes") or ():
                pid = change["item"]["platform_id"]
                for version in [*(change.get("history") or ()), *([change["version"]] if "version" in change else ())]:
                    found.setdefault((pid, version["hash"]), version)
        return found
