"""The listen driver: what the platforms pushed becomes one targeted capture per account.

``archiver listen`` receives Graph webhook deliveries and stream events
(``archiver.listen.receiver``), each kept on disk before it is acknowledged. Every
``listen.flush_seconds`` ``Listener.flush`` takes the kept deliveries, groups the posts they
name per account, and runs one targeted capture per account (``run_account(..., targets=,
notes=, driver="listen")``): the same WARC records, change decisions and index rows as the
nightly sweep, with each delivery's body kept in the WARC beside the capture it triggered. It
holds the index's writer lock while it captures, the same lock the nightly job holds, so the
two never write the same WARC file or the index at once; while the nightly job runs, the
deliveries wait on disk and the next flush takes them. ``serve`` runs the receiver, the
flushes and the poller (``archiver.capture.poll``) in one process.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Mapping

from ..config import Settings
from ..errors import LockError, StoreError
from ..index import open_index
from ..listen.graph import Targets, actions_of, targets_of
from ..listen.pending import Delivery
from ..listen.receiver import Receiver
from ..lock import writer_lock
from ..retention.assign import AfterIngest
from ..spool import UnavailableStore
from ..store import open_store
from ..timefmt import utcnow
from .account import run_account

log = logging.getLogger("archiver.listen")
NOTE_KINDS = {"graph": ("webhook/1", "urn:archiver:webhook:graph"), "stream": ("stream/1", "urn:archiver:stream")}


@dataclass
class FlushReport:
    deliveries: int = 0
    captured: dict[str, str] = field(default_factory=dict)   # account -> run status
    waiting: int = 0        # deliveries left for the next flush (lock held, or a failed capture)
    unmatched: int = 0
    message: str = ""


class Listener:
    """Captures what the receiver kept: ``flush`` runs one targeted capture per account named."""

    def __init__(self, settings: Settings, environ: Mapping[str, str], *, now: Callable[[], datetime] = utcnow):
        self.settings, self.environ, self.now = settings, environ, now
        self.receiver = Receiver(settings, environ, now=now)
        # A flush takes the deliveries the receiver kept, and counts those that name no account.
        self.pending, self.counters = self.receiver.pending, self.receiver.counters
        self.lock = threading.Lock()  # one flush at a time within this process

    def _names(self) -> set[str]:
        return {a.name for a in self.settings.accounts}

    def flush(self) -> FlushReport:
        with self.lock:
            return self._flush()

    def _flush(self) -> FlushReport:
        report = FlushReport()
        deliveries = self.pending.waiting()
        report.deliveries = len(deliveries)
        if not deliveries:
            return report
        plan: dict[str, dict] = {}
        owners: dict[Delivery, set[str]] = {}
        for d in deliveries:
            if d.source == "stream":
                targets = Targets(posts={d.account: list(d.targets)}) if d.account in self._names() else Targets()
            else:
                targets = targets_of(d.payload(), self.settings.accounts)
            if not targets.posts:
                log.warning("delivery %s names no configured account (entry ids %s): set aside in %s",
                            d.path.name, ", ".join(targets.unmatched) or "none", self.pending.unmatched_dir)
                self.pending.set_aside(d.path)
                report.unmatched += 1
                self.counters.unmatched += 1
                continue
            owners[d] = set(targets.posts)
            for account, posts in targets.posts.items():
                step = plan.setdefault(account, {"posts": [], "notes": []})
                step["posts"] += [p for p in posts if p not in step["posts"]]
                kind, prefix = NOTE_KINDS[d.source]
                note = {"received_at": d.received_at, "body": d.body}
                if d.source == "graph":
                    note["signature"] = d.signature
                    # The platform's own time of each hide, unhide or removal it told of, read
                    # from the body now while the Page ids map to accounts; ingest files them
                    # (platform_actions), so reindex rebuilds them from the WARC like the rest.
                    note["actions"] = [{"account": name, "comment_id": pid, "verb": verb, "at": at}
                                       for name, pid, verb, at in actions_of(d.payload(), self.settings.accounts)
                                       if name == account]
                step["notes"].append((kind, f"{prefix}:{d.path.stem}", note))
        if not plan:
            return report
        now = self.now()
        try:
            with writer_lock(self.settings.index_path, "listen", now=now):
                done = self._capture(plan, now, report)
        except LockError as exc:
            report.waiting = len(owners)
            report.message = f"another run holds the archive ({exc}); {len(owners)} delivery(ies) wait"
            log.info("%s", report.message)
            return report
        for d, accounts in owners.items():
            if accounts <= done:
                self.pending.done(d)
            else:
                report.waiting += 1
        return report

    def _capture(self, plan: dict[str, dict], now: datetime, report: FlushReport) -> set[str]:
        db = open_index(self.settings.index_path)
        try:
            store = open_store(self.settings)
        except StoreError as exc:
            store = UnavailableStore(str(exc), self.settings.storage_url)  # into the spool; uploaded later
        after_ingest = AfterIngest(self.settings, store, now)
        done = set()
        for name, step in plan.items():
            account = self.settings.account(name)
            result = run_account(self.settings, db, store, account, environ=self.environ, now=now, clock=self.now,
                                 after_ingest=after_ingest, targets=step["posts"], notes=step["notes"],
                                 driver="listen")
            report.captured[name] = result.status
            log.log(logging.ERROR if result.failed else logging.INFO,
                    "listen: %s: %d post(s) from %d delivery(ies): %s %s", name, len(step["posts"]),
                    len(step["notes"]), result.status, result.message)
            # A failed run that wrote its WARC keeps the deliveries in the spool already; one that
            # wrote nothing (a token problem) keeps them here for the next flush.
            if not result.failed or result.counts.get("bytes") or result.status == "interrupted":
                done.add(name)
        return done


def serve(settings: Settings, environ: Mapping[str, str], *, stop: threading.Event) -> None:
    """Serve the endpoint with waitress until ``stop`` is set; flush every listen.flush_seconds."""
    from waitress.server import create_server

    listener = Listener(settings, environ)
    server = create_server(listener.receiver.app, host=settings["listen.bind"], port=settings["listen.port"], threads=4,
                           ident="archiver")
    thread = threading.Thread(target=server.run, name="listen-http", daemon=True)
    thread.start()
    for stream in listener.receiver.streams():
        threading.Thread(target=stream.run, args=(stop,), name=f"listen-{stream.name}", daemon=True).start()
        log.info("stream %s started", stream.name)
    from .poll import Poller

    poller = Poller(settings, environ)
    if poller.accounts:
        def poll_loop() -> None:
            while not stop.is_set():
                poller.tick()
                stop.wait(settings["poll.tick_seconds"])

        threading.Thread(target=poll_loop, name="listen-poll", daemon=True).start()
        log.info("polling %s", ", ".join(a.name for a in poller.accounts))
    log.info("listening on http://%s:%d/webhooks/graph", settings["listen.bind"], server.effective_port)
    try:
        while not stop.is_set():
            listener.flush()
            stop.wait(settings["listen.flush_seconds"])
        listener.flush()  # what arrived before the stop request is captured now, not next start
    finally:
        server.close()
        thread.join(timeout=5)
