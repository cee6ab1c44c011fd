"""One account's capture session: the one writer under every capture driver.

``CaptureSession`` takes a collector's events and writes every exchange to a WARC file in the
spool, decides per observed item whether it is new, edited, hidden or unhidden (against the
index plus this run's own changes), downloads media of new versions, confirms absences with the
platform before declaring anything deleted, then closes the WARC, uploads it with checksum
verification, and only then ingests it into the index (closed files in a second process while
capture goes on, ``archiver.committer``). A failed upload leaves the file in the spool; the
next run uploads and ingests it first.

A stop request (SIGTERM) is honoured between records (``Interrupted``); a spool that cannot be
written (disk full) fails the account plainly while everything already written stays in the
spool for the next run, which recovers it before capturing (ingest is idempotent, so nothing
is duplicated).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .. import SOFTWARE
from ..collectors.base import (CollectContext, Collector, Gone, Item, KnownItem, Observed, PostsDone, Problem,
                               ThreadDone, content_digest)
from ..committer import Committer
from ..config import AccountConfig, Settings
from ..errors import AccessError, CollectError, RetentionError, StoreError, ThrottledError, TransientError
from ..http import Fetcher
from ..index.searchplan import epoch_key
from ..index.versions import digest as stored_digest
from ..store import Store
from ..textsafe import json_text
from ..timefmt import iso, utcnow
from ..sightings import Sightings, count_sighted, latest_sighting
from ..spool import commit_spool_file
from ..warc import WarcFile, warc_key, warc_name

log = logging.getLogger("archiver.capture")


class Interrupted(CollectError):
    """A stop was requested (SIGTERM): the current record is finished and the WARC closed."""


@dataclass(slots=True)
class _Prev:
    hash: bytes  # the sha256 digest of its latest version, as the index stores it (archiver.index.versions)
    hidden: bool
    status: str
    record: str | None = None  # the record of its latest sighting (items.record_id)
    file: int = -1  # for this run's changes: the WARC file (``CaptureSession.generation``) holding it


class _Forgotten:
    """The ids a first run has committed and dropped from ``run_state``: a Bloom filter, so
    memory stays flat however long the backfill. "Not in it" is certain (the item is new);
    "in it" is checked against the index, so a false positive (about 5 % at a million ids)
    costs one lookup and never a wrong decision."""

    BITS = 1 << 23  # 1 MB
    MASK = BITS - 1

    def __init__(self) -> None:
        self.bits = bytearray(self.BITS >> 3)

    # Two slots from one str hash (stable within a process), spelled out: a first run asks
    # for every item it reads, so this is on the capture path.
    def add(self, key: str) -> None:
        h = hash(key)
        a, b = h & self.MASK, (h >> 23) & self.MASK
        self.bits[a >> 3] |= 1 << (a & 7)
        self.bits[b >> 3] |= 1 << (b & 7)

    def __contains__(self, key: str) -> bool:
        h = hash(key)
        a, b = h & self.MASK, (h >> 23) & self.MASK
        return bool(self.bits[a >> 3] >> (a & 7) & 1 and self.bits[b >> 3] >> (b & 7) & 1)


class CaptureSession:
    """One account's run: owns the WARC being written and the change decisions."""

    def __init__(self, settings: Settings, db, store: Store, account: AccountConfig, collector: Collector,
                 run_id: str, now: datetime, should_stop: Callable[[], bool], after_ingest=None,
                 committer: Committer | None = None):
        self.settings, self.db, self.store = settings, db, store
        self.committer = committer  # commits closed files in a second process (archiver.committer)
        self.items_in_file = 0
        self.digests_before: dict[str, tuple[str, str, str]] = {}  # responses in this run's closed files
        self.account, self.collector, self.run_id, self.now = account, collector, run_id, now
        self.should_stop = should_stop
        self.after_ingest = after_ingest
        self.spool_root = settings.spool_dir
        self.warc: WarcFile | None = None
        self.serial = 0
        self.counts: dict[str, int] = {k: 0 for k in ("seen", "new", "edited", "hidden", "deleted",
                                                       "media_fetched", "media_failed", "bytes")}
        self.problems: list[str] = []
        self.sightings = Sightings(run_id, account.name, account.platform, self._write_items,
                                   self._count_sighted, f"urn:archiver:run:{run_id}")
        self.last_api: tuple[str | None, str] = (None, f"urn:archiver:run:{run_id}")
        # This run's changes not yet committed to the index, which is the truth for the rest:
        # a file's entries are dropped once the file is committed, so memory stays flat.
        self.run_state: dict[str, _Prev] = {}
        self.generation = 0  # the WARC file now being written, counted from 0 in this run
        self.in_file: list[tuple[str, str]] = []  # (id, root) of the changes it holds
        self.uncommitted: dict[Path, tuple[int, list[tuple[str, str]], list[str]]] = {}  # closed files
        self.thread_seen: dict[str, set[str]] = {}
        self.known: dict[str, dict[str, _Prev]] = {}  # root -> what the index knew at first sight
        # The account's first run (a backfill) has nothing to compare against: skip one lookup
        # per item. Only the items this run has committed and forgotten are looked up.
        self.first_run = db.conn.execute("SELECT 1 FROM items WHERE account = ? LIMIT 1",
                                         (account.name,)).fetchone() is None
        self.forgotten = _Forgotten() if self.first_run else None
        self.posts_seen: set[str] = set()
        self.keys: list[str] = []
        self.started = now
        self.clock: Callable[[], datetime] = utcnow  # capture times (run_account sets the run's clock)
        self.spool_error: str | None = None  # the spool refused a write: stop writing, keep the file
        self.upload_error: str | None = None  # a commit failed: keep closed files in the spool
        self.failure = "storage failed"  # what failed, for messages: the store, or indexing
        self.kept: list[Path] = []
        self.driver = "nightly"  # which capture driver runs this session: nightly | listen | poll:<tier>
        self.budget = None  # the platform's quota budget (archiver.quota), charged per API response

    # -- WARC --------------------------------------------------------------------------------
    def _open(self) -> WarcFile:
        if self.warc is None:
            self.serial += 1
            name = warc_name(self.account.name, self.now, self.serial)
            path = self.spool_root / warc_key(self.account.name, self.now, name).removeprefix("warcs/")
            info = {
                "software": SOFTWARE,
                "format": "WARC File Format 1.1",
                "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
                "operator": self.settings.agency,
                "custodian": f"{self.settings['archive.custodian_name']}, {self.settings['archive.custodian_title']}",
                "archiver-run": self.run_id,
                "archiver-account": self.account.name,
                "archiver-platform": self.account.platform,
                "archiver-collector": json.dumps({
                    "name": self.account.name, "platform": self.account.platform, "id": self.account.id,
                    "api_base": self.collector.api_base, "token_env": self.account.token_env,
                    "rescan_days": self.settings["collect.rescan_days"],
                }),
            }
            self.warc = self._spool(WarcFile, path, info, self._duplicate_of)
        return self.warc

    def _spool(self, fn, *args):
        """Run one write to the spool. An OSError (disk full, file-size limit, read-only spool)
        fails the account plainly; the torn file is left for ``recover_spool`` to repair."""
        if self.spool_error:
            raise StoreError(self.spool_error)
        try:
            return fn(*args)
        except OSError as exc:
            self.spool_error = (f"cannot write the WARC file in the spool {self.spool_root}: "
                                f"{exc.strerror or exc} (disk full or not writable?); what was written is kept "
                                "there and the next run recovers it")
            raise StoreError(self.spool_error) from None

    def _duplicate_of(self, digest: str):
        if digest in self.digests_before:  # an earlier file of this run, perhaps not indexed yet
            return self.digests_before[digest]
        row = self.db.conn.execute(
            "SELECT record_id, target_uri, date FROM records WHERE payload_digest = ? AND type = 'response' LIMIT 1",
            (digest,),
        ).fetchone()
        return tuple(row) if row else None

    def record_exchange(self, exchange) -> tuple[str, str]:
        record_id, digest = self._spool(lambda: self._open().write_exchange(exchange))
        if not exchange.media:
            self.last_api = (record_id, exchange.url)
            if self.budget is not None:
                exchange.body.seek(0)
                self.budget.charge(exchange.body.read())
                exchange.body.seek(0)
        return record_id, digest

    def _safe_point(self) -> None:
        """Between items: honour a stop request and roll over a full WARC file."""
        if self.should_stop():
            raise Interrupted(f"account {self.account.name!r}: stop requested; capture so far is kept",
                              account=self.account.name)
        if self.warc is not None and (self.warc.size > self.settings["collect.warc_max_bytes"] or
                                      0 < self.settings["collect.commit_items"] <= self.items_in_file):
            self.sightings.flush()
            self._close_and_commit(final=False)

    def _write_items(self, uri: str, payload: dict, refers_to: str | None) -> None:
        self._spool(lambda: self._open().write_metadata("items/1", uri, payload, self.clock(), refers_to=refers_to))

    def note(self, kind: str, uri: str, payload: dict) -> None:
        """A record of something the platform pushed (a webhook delivery, exactly as received): kept
        in the WARC as evidence; the index takes its items from the capture it triggers."""
        self._spool(lambda: self._open().write_metadata(kind, uri, payload, utcnow()))

    def _count_sighted(self, record_id: str) -> int:
        return count_sighted(self.db.conn, record_id)

    def _source(self, item: Item, ctx: CollectContext) -> tuple[str | None, str]:
        """The API response the item was parsed from (``archiver.provenance``); the last API
        response when the collector built the item from something else (an RSS entry)."""
        return ctx.http.sources.source_of(item.native) or self.last_api

    def _close_and_commit(self, final: bool = True) -> None:
        """Close the WARC file and commit it: in the committer while capture goes on, or here
        for the run's last file, after the committer's earlier files (commits stay in order)."""
        if self.warc is None:
            return
        self.digests_before.update(self.warc.seen_here)
        closed = self._spool(self.warc.close)
        self.uncommitted[closed.path] = (self.generation, self.in_file, list(self.warc.seen_here))
        # Items read since (their page came earlier) go to the next file and count there.
        self.warc, self.in_file, self.items_in_file = None, [], 0
        self.generation += 1
        self.counts["bytes"] += closed.size
        if self.upload_error:
            self.kept.append(closed.path)
            return
        if not final and self.committer is not None:
            try:
                self.committer.submit(closed.path)
            except OSError as exc:  # no second process: commit here, as without one
                log.warning("%s: commit worker unavailable (%s); committing in this process",
                            self.account.name, exc.strerror or exc)
                self.committer = None
            else:
                for path in self.committer.committed():
                    self._forget(path)
                return
        self.settle()
        if self.upload_error:
            self.kept.append(closed.path)
            return
        self._commit(closed.path)

    def settle(self) -> None:
        """Wait for the committer's files; commit here any it could not (in order)."""
        if self.committer is None:
            return
        for outcome in self.committer.drain():
            if outcome.key:
                self.keys.append(outcome.key)
            elif outcome.store_error or self.upload_error:
                self._upload_failed(outcome.path, outcome.store_error or self.upload_error)
            else:
                log.warning("%s: %s; committing %s in this process", self.account.name, outcome.error,
                            outcome.path.name)
                self._commit(outcome.path)

    def _upload_failed(self, path: Path, reason: str, failure: str = "storage failed") -> None:
        # Keep capturing into the spool: tonight's comments may be gone tomorrow. Every
        # closed file waits there; the next run uploads and ingests them in order.
        self.kept.append(path)
        if not self.upload_error:
            self.upload_error, self.failure = reason, failure
            self.problem(f"{failure}, capture continues into the spool: {reason}")

    def _commit(self, path: Path) -> None:
        if self.upload_error:
            self.kept.append(path)
            return
        try:
            key = commit_spool_file(self.db, self.store, self.spool_root, path, now=utcnow(),
                                    retain_years=self.settings["storage.default_retain_years"],
                                    after_ingest=self.after_ingest)
        except StoreError as exc:
            self._upload_failed(path, str(exc))
            return
        except RetentionError as exc:
            # The schedule file is refused (a records officer's edit): the file's items cannot
            # be given their retention, so the file is not indexed (one transaction) and waits
            # in the spool with the rest of the night until the schedule is fixed.
            self._upload_failed(path, f"{exc}; fix the schedule, then run collect again", "indexing failed")
            return
        self.keys.append(key)
        self._forget(path)

    def _forget(self, path: Path) -> None:
        """A closed file is committed: the index now answers for its changes and responses."""
        generation, changed, digests = self.uncommitted.pop(path, (None, (), ()))
        for pid, root in changed:
            prev = self.run_state.get(pid)
            if prev is not None and prev.file == generation:  # not changed again in a later file
                del self.run_state[pid]
                if self.forgotten is not None:
                    self.forgotten.add(pid)
            # What was read of the thread before the commit is stale: read it again if needed.
            self.known.pop(root, None)
        for digest in digests:
            self.digests_before.pop(digest, None)

    def _changed(self, pid: str, root: str, prev: _Prev) -> None:
        prev.file = self.generation
        self.run_state[pid] = prev
        self.in_file.append((pid, root))

    def abandon(self) -> None:
        """After a spool failure: close the file handle, leave the ``.open`` file for repair."""
        if self.warc is not None:
            try:
                self.warc.fh.close()
            except OSError as exc:  # the buffered tail cannot be written either; repair drops it
                log.warning("%s: closing the torn WARC failed: %s", self.account.name, exc.strerror or exc)
            self.warc = None

    # -- events -------------------------------------------------------------------------------
    def handle(self, event, ctx: CollectContext) -> None:
        self._safe_point()
        if isinstance(event, Observed):
            self.observe(event.item, ctx)
        elif isinstance(event, ThreadDone):
            self.thread_done(event, ctx)
        elif isinstance(event, PostsDone):
            self.posts_done(ctx)
        elif isinstance(event, Problem):
            self.problem(event.message)

    def problem(self, message: str) -> None:
        self.problems.append(message)
        log.warning("%s: %s", self.account.name, message)

    def _prev(self, item: Item) -> _Prev | None:
        prev = self.run_state.get(item.platform_id)
        if prev is not None:
            return prev
        if self.first_run and item.platform_id not in self.forgotten:
            return None
        known = self.known.get(item.root)
        if known is None:
            # One query per thread rather than one per item; bounded by threads in flight.
            if len(self.known) > 256:
                self.known.clear()
            known = self.known[item.root] = {
                pid: _Prev(digest, bool(hidden), status, record) for pid, digest, hidden, status, record in
                self.db.conn.execute(
                    f"SELECT i.platform_id, v.hash, i.hidden, i.status, {latest_sighting('record_id')}"
                    " FROM items i JOIN versions v ON v.item_rowid = i.rowid AND v.n = i.versions"
                    " WHERE i.account = ? AND i.root = ?",
                    (self.account.name, item.root))
            }
        if item.platform_id in known:
            return known[item.platform_id]
        row = self.db.conn.execute(  # an item that moved threads, or a root listed under itself
            f"SELECT v.hash, i.hidden, i.status, {latest_sighting('record_id')} FROM items i"
            " JOIN versions v ON v.item_rowid = i.rowid"
            " AND v.n = i.versions WHERE i.account = ? AND i.platform_id = ?",
            (self.account.name, item.platform_id),
        ).fetchone()
        return _Prev(row[0], bool(row[1]), row[2], row[3]) if row else None

    def observe(self, item: Item, ctx: CollectContext) -> None:
        source = self._source(item, ctx)
        pid = item.platform_id
        self.counts["seen"] += 1
        if item.kind == "post":
            self.posts_seen.add(pid)
        self.thread_seen.setdefault(item.root, set()).add(pid)
        self.items_in_file += 1
        prev = self._prev(item)
        digest, content_json = content_digest(item.content)
        stored = stored_digest(digest)
        events: list[str] = []
        if prev is None:
            events.append("new")
            if item.hidden:
                events.append("hidden")
        else:
            if prev.status == "deleted":
                events.append("restored")
            if stored != prev.hash:
                events.append("edited")
            if item.hidden != prev.hidden:
                events.append("hidden" if item.hidden else "unhidden")
        if not events:
            self.sightings.seen(source, pid, prev.record)
            return
        change: dict[str, Any] = {"events": events, "item": _item_fields(item)}
        if prev is None or stored != prev.hash:
            change["version"] = {"hash": digest, "text": item.text, "content_json": content_json,
                                 "native_json": _native_json(item.native)}
            if item.history:
                # Earlier versions come from their own response (Mastodon /history, X ?ids=).
                change["history"] = [_history_version(v, ctx) for v in item.history]
            media = self._fetch_media(item, ctx)
            if media:
                change["media"] = media
        self.sightings.change(source, change)
        self._changed(pid, item.root, _Prev(stored, item.hidden, "live"))
        for event in events:
            if event in self.counts:
                self.counts[event] += 1

    def _fetch_media(self, item: Item, ctx: CollectContext) -> list[dict]:
        if not self.settings["collect.media"]:
            return []
        out = []
        for url in dict.fromkeys(item.media):  # same URL twice in one item: fetch once
            try:
                resp = ctx.http.get(url, media=True, expect_json=False)
            except (TransientError, ThrottledError) as exc:
                self.counts["media_failed"] += 1
                self.problem(f"media of {item.platform_id} not fetched: {exc}")
                out.append({"url": ctx.http.scrub.url(url), "status": "failed"})
                continue
            ok = 200 <= resp.status < 300
            self.counts["media_fetched" if ok else "media_failed"] += 1
            if not ok:
                self.problem(f"media of {item.platform_id} answered HTTP {resp.status}: {resp.url}")
            out.append({"url": resp.url, "record_id": resp.record_id, "digest": resp.digest,
                        "content_type": resp.headers.get("content-type"), "size": resp.size,
                        "status": "fetched" if ok else "failed"})
            if resp.stream:
                resp.stream.close()
        return out

    def _confirm(self, ctx: CollectContext, rows: Iterable[tuple]) -> list[str]:
        gone = []
        for platform_id, kind, root, parent, url, in rows:
            known = KnownItem(platform_id=platform_id, kind=kind, root=root, parent=parent, url=url)
            try:
                answer = self.collector.confirm_gone(ctx, known)
            except AccessError as exc:  # not deleted: a permission problem, said once
                if str(exc) not in self.problems:
                    self.problem(str(exc))
                continue
            if answer:
                # The proof is the platform's answer just recorded: the deletion is tied to it.
                change = {"events": ["deleted"], "item": {"platform_id": platform_id}}
                if isinstance(answer, Gone):  # what the answer can tell (deleted, or taken down)
                    change["detail"] = answer.detail
                self.sightings.change(self.last_api, change)
                self._changed(platform_id, root, _Prev(b"", False, "deleted"))
                self.counts["deleted"] += 1
                gone.append(platform_id)
        return gone

    def thread_done(self, event: ThreadDone, ctx: CollectContext) -> None:
        seen = self.thread_seen.pop(event.root, set())
        self.known.pop(event.root, None)
        # On the account's first run nothing was known before it, so nothing can be missing now;
        # after a read of only what is new (since_id), an archived reply not returned proves nothing.
        rows = [] if self.first_run or event.partial else [r for r in self.db.conn.execute(
            "SELECT platform_id, kind, root, parent, url FROM items WHERE account = ? AND root = ?"
            " AND kind != 'post' AND status != 'deleted'", (self.account.name, event.root),
        ) if r[0] not in seen and self.run_state.get(r[0], _Prev(b"", False, "")).status != "deleted"]
        self._confirm(ctx, rows)
        self.sightings.thread(self.last_api, event.root, event.expected)

    def posts_done(self, ctx: CollectContext) -> None:
        query = ("SELECT platform_id, kind, root, parent, url FROM items WHERE account = ? AND kind = 'post'"
                 " AND status != 'deleted'")
        params: list[Any] = [self.account.name]
        if ctx.since is not None:
            # date_key bounds the range in items_date; created_at keeps the exact comparison.
            query += " AND date_key >= ? AND created_at >= ?"
            params += [epoch_key(iso(ctx.since)), iso(ctx.since)]
        # On the account's first run nothing was known before it, so nothing can be missing now.
        rows = [] if self.first_run else [r for r in self.db.conn.execute(query, params) if r[0] not in self.posts_seen]
        for post_id in self._confirm(ctx, rows):
            # A deleted post takes its comments with it; each is still confirmed one by one.
            self._confirm(ctx, self.db.conn.execute(
                "SELECT platform_id, kind, root, parent, url FROM items WHERE account = ? AND root = ?"
                " AND kind != 'post' AND status != 'deleted'", (self.account.name, post_id)).fetchall())

    def finish(self, status: str, message: str, fetcher: Fetcher | None) -> None:
        """Write the run summary, close, upload and ingest. Raises StoreError if storage failed."""
        self.settle()  # the committer's files first: commits stay in order, the last one is here
        if self.spool_error:
            self.abandon()
            raise StoreError(self.spool_error)
        self.sightings.flush()
        if self.upload_error and status in ("ok", "partial"):
            # The run summary lands in the WARC and outlives recovery: keep the outage on record.
            status, message = "failed", f"{self.failure} during the run: {self.upload_error}"
        summary = self.summary(status, message, fetcher)
        if self.warc is None and not self.keys and not self.kept:
            # Nothing was captured (e.g. the token variable is unset): record the run itself.
            self.db.conn.execute(
                "INSERT OR REPLACE INTO runs (id, account, platform, started_at, finished_at, status, problems,"
                " message, driver) VALUES (?,?,?,?,?,?,?,?,?)",
                (self.run_id, self.account.name, self.account.platform, summary["started_at"],
                 summary["finished_at"], status, json.dumps(self.problems), message, self.driver),
            )
            return
        self._spool(lambda: self._open().write_metadata("run/1", f"urn:archiver:run:{self.run_id}", summary,
                                                        self.clock()))
        self._close_and_commit()
        if self.upload_error:
            raise StoreError(f"{self.upload_error}; {len(self.kept)} WARC file(s) kept in the spool")

    def summary(self, status: str, message: str, fetcher: Fetcher | None) -> dict:
        return {
            "id": self.run_id, "account": self.account.name, "platform": self.account.platform,
            "started_at": iso(self.started), "finished_at": iso(self.clock()), "status": status,
            "items_seen": self.counts["seen"], "items_new": self.counts["new"],
            "items_edited": self.counts["edited"], "items_hidden": self.counts["hidden"],
            "items_deleted": self.counts["deleted"], "media_fetched": self.counts["media_fetched"],
            "media_failed": self.counts["media_failed"],
            "requests": fetcher.requests_made if fetcher else 0, "retries": fetcher.retries if fetcher else 0,
            "throttled": fetcher.throttle_events if fetcher else 0,
            "bytes": self.counts["bytes"] + (self.warc.size if self.warc else 0),
            "problems": self.problems, "message": message, "driver": self.driver,
            "quota_spent": self.budget.spent_now if self.budget is not None else 0,
        }


def _native_json(native: Any) -> str | None:
    """The platform's own JSON of a version, carried in the metadata as a JSON *string*: ingest
    stores it as it is instead of decoding a structure only to encode it again (about a tenth
    of capture's CPU). The response record keeps the bytes the platform sent."""
    return json_text(native) if native is not None else None


def _history_version(version: Mapping[str, Any], ctx: CollectContext) -> dict:
    digest, content_json = content_digest(version["content"])
    return {"hash": digest, "text": version.get("text"), "content_json": content_json,
            "native_json": _native_json(version.get("native")), "created_at": version.get("created_at"),
            "source": (ctx.http.sources.source_of(version.get("native")) or (None,))[0]}


def _item_fields(item: Item) -> dict:
    return {
        "platform_id": item.platform_id, "kind": item.kind, "root": item.root, "parent": item.parent,
        "author": item.author, "author_id": item.author_id, "is_department": item.is_department,
        "search_text": item.search_text,  # the text itself travels once, in the version
        "created_at": iso(item.created_at), "url": item.url, "hidden": item.hidden,
        "counts": {k: v for k, v in item.counts.items() if v is not None},
    }
