"""``archiver listen``: serve the webhook endpoint and capture what it is told, every few minutes.

``flush`` is the driver: it takes the kept deliveries, groups the posts they name per account,
and runs one targeted capture per account (``run_account(..., targets=, notes=,
driver="listen")``) under the index's writer lock — the same lock the nightly job holds, so the
two never write the same WARC file or the index at once. While the nightly job runs, the
deliveries wait on disk and the next flush takes them.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Mapping

from ..capture import run_account
from ..config import Settings
from ..errors import ConfigError
from ..errors import LockError, StoreError
from ..index import open_index, transaction
from ..lock import writer_lock
from ..retention.assign import AfterIngest
from ..spool import UnavailableStore
from ..store import open_store
from ..timefmt import iso, utcnow
from .graph import Counters, Targets, actions_of, make_app, targets_of
from .pending import Delivery, Pending

log = logging.getLogger("archiver.listen")
NOTE_KINDS = {"graph": ("webhook/1", "urn:archiver:webhook:graph"), "stream": ("stream/1", "urn:archiver:stream")}


@dataclass
class FlushReport:
    deliveries: int = 0
    captured: dict[str, str] = field(default_factory=dict)   # account -> run status
    waiting: int = 0        # deliveries left for the next flush (lock held, or a failed capture)
    unmatched: int = 0
    message: str = ""


class RootLookup:
    """Which thread (root post) an archived item belongs to, for a stream's delete events: one
    read-only index connection per stream thread (SQLite connections stay in their thread)."""

    def __init__(self, index_path, accounts: list[str]):
        self.index_path, self.accounts = index_path, list(accounts)
        self.local = threading.local()

    def __call__(self, platform_id: str) -> str | None:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            import sqlite3

            conn = self.local.conn = sqlite3.connect(f"file:{self.index_path}?mode=ro", uri=True, timeout=5)
        marks = ", ".join("?" * len(self.accounts))
        row = conn.execute(f"SELECT root FROM items WHERE account IN ({marks}) AND platform_id = ?",
                           (*self.accounts, platform_id)).fetchone()
        return row[0] if row else None


def secret(settings: Settings, environ: Mapping[str, str], key: str) -> str:
    name = settings[key]
    value = environ.get(name, "") if name else ""
    if not value:
        raise ConfigError(f"{key} names the environment variable {name!r}, which is not set: the listener never "
                          "accepts unsigned deliveries; set it to the value from the Meta app dashboard")
    return value


class Listener:
    def __init__(self, settings: Settings, environ: Mapping[str, str], *, now: Callable[[], datetime] = utcnow):
        self.settings, self.environ, self.now = settings, environ, now
        self.pending = Pending(settings.spool_dir / "listen")
        self.counters = Counters()
        # The Graph endpoint needs both secrets when a Page or Instagram account is configured;
        # without one it refuses every request (an empty secret verifies nothing).
        graph = any(a.platform in ("facebook", "instagram") for a in settings.accounts)
        self.app = make_app(verify_token=secret(settings, environ, "listen.verify_token_env") if graph else "",
                            app_secret=secret(settings, environ, "listen.app_secret_env") if graph else "",
                            accept=self.accept, counters=self.counters)
        self.lock = threading.Lock()  # one flush at a time within this process

    def streams(self) -> list:
        """The stream clients for the configured accounts (Mastodon user streams, one Jetstream)."""
        from ..config import resolve_secret
        from ..errors import TokenError
        from .jetstream import JetstreamStream
        from .mastodon import MastodonStream
        from .streams import StatusBoard

        if not self.settings["listen.streams"]:
            return []
        board = StatusBoard(self.pending.root)
        out: list = []
        dids: dict[str, str] = {}
        for account in self.settings.accounts:
            if account.platform == "mastodon":
                try:
                    token = resolve_secret(account, self.environ)
                except TokenError as exc:
                    log.warning("no Mastodon stream for %s: %s", account.name, exc)
                    continue
                if not token:
                    log.warning("no Mastodon stream for %s: the user stream needs the account's token", account.name)
                    continue
                out.append(MastodonStream(name=f"mastodon:{account.name}", board=board, sink=self._sink,
                                          account=account, token=token,
                                          api_base=(account.api_base or "https://mastodon.social/api/v1").rstrip("/"),
                                          root_of=RootLookup(self.settings.index_path, [account.name])))
            elif account.platform == "bluesky":
                did = self._did(account)
                if did:
                    dids[did] = account.name
        if dids:
            out.append(JetstreamStream(name="jetstream", board=board, sink=self._sink,
                                       endpoint=self.settings["listen.jetstream_url"], accounts=dids,
                                       root_of=RootLookup(self.settings.index_path, list(dids.values()))))
        return out

    def _did(self, account) -> str | None:
        """The department's DID: the configured id, else its archived posts' URIs, else the AppView."""
        if str(account.id).startswith("did:"):
            return str(account.id)
        row = open_index(self.settings.index_path).conn.execute(
            "SELECT platform_id FROM items WHERE account = ? AND is_department = 1 AND platform_id LIKE 'at://%' "
            "LIMIT 1", (account.name,)).fetchone()
        if row:
            return row[0][5:].split("/", 1)[0]
        import requests

        base = (account.api_base or "https://public.api.bsky.app/xrpc").rstrip("/")
        try:
            resp = requests.get(f"{base}/com.atproto.identity.resolveHandle", params={"handle": account.id.lstrip("@")},
                                timeout=10, allow_redirects=False)
            return resp.json().get("did") if resp.status_code == 200 else None
        except (requests.RequestException, ValueError) as exc:
            log.warning("no Jetstream for %s: its handle could not be resolved (%s); set id to its DID", account.name,
                        exc)
            return None

    def _sink(self, account: str, targets: list[str], event: dict) -> None:
        if not self.pending.put_targets(account, targets, event, iso(self.now())):
            log.error("a stream event for %s could not be kept on disk (%s)", account, self.pending.root)

    def accept(self, body: bytes, signature: str) -> bool:
        kept = self.pending.put(body, signature, iso(self.now()))
        if kept:
            self.counters.last_accepted = iso(self.now())
        else:
            log.error("a verified delivery could not be kept on disk (%s): answered 503 so it is sent again",
                      self.pending.root)
        return kept

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
    server = create_server(listener.app, host=settings["listen.bind"], port=settings["listen.port"], threads=4,
                           ident="archiver")
    thread = threading.Thread(target=server.run, name="listen-http", daemon=True)
    thread.start()
    for stream in listener.streams():
        threading.Thread(target=stream.run, args=(stop,), name=f"listen-{stream.name}", daemon=True).start()
        log.info("stream %s started", stream.name)
    from .poller import Poller

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
