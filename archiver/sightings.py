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
those n are exactly every item the index has with ``record_id = R`` (counted at capture
time), so ingest can apply it as one UPDATE by record id. Items the index meanwhile moved to
another record were, by construction, seen elsewhere in this run.
"""

from __future__ import annotations

from typing import Callable

# Unchanged pages per batched record.
BATCH = 64

Write = Callable[[str, dict, "str | None"], None]  # (target uri, payload, refers_to)


class Sightings:
    def __init__(self, run: str, account: str, platform: str, write: Write,
                 count_sighted: Callable[[str], int], run_uri: str):
        self.head = {"run": run, "account": account, "platform": platform}
        self.write = write
        self.count_sighted = count_sighted  # items in the index whose record_id is R
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
