"""What the platforms push, received and kept on disk until the listen driver captures it.

``Receiver`` holds the inbound side of ``archiver listen``: the Graph webhook app (``graph``)
with the app's secrets, and a stream client per configured account that has one (``mastodon``,
``jetstream``). Each verified delivery or kept stream event is written to ``pending`` before it
is acknowledged; ``archiver.capture.listen`` turns what waits there into captures. Nothing here
writes a WARC file or the index.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Callable, Mapping

from ..config import Settings
from ..errors import CollectError, ConfigError
from ..http import Fetcher, RetryPolicy
from ..index import open_index
from ..timefmt import iso, utcnow
from .graph import Counters, make_app
from .pending import Pending

log = logging.getLogger("archiver.listen")
# Resolving a handle happens once as the listener starts: a throttle longer than a minute, or an
# outage past a few retries, starts it without that account's Jetstream (said in the log); setting
# the account's id to its DID needs no lookup at all.
RESOLVE_POLICY = RetryPolicy(retry_delay=1.0, max_retries=3, throttle_retries=2, max_backoff=60.0, timeout=10.0)


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


class Receiver:
    """The inbound side of ``archiver listen``: the Graph webhook app (``app``, served by
    ``archiver.capture.listen.serve``) and the stream clients (``streams``), each keeping what
    it receives in ``pending`` for the listen driver to capture."""

    def __init__(self, settings: Settings, environ: Mapping[str, str], *, now: Callable[[], datetime] = utcnow,
                 sleep: Callable[[float], None] = time.sleep):
        self.settings, self.environ, self.now, self.sleep = settings, environ, now, sleep
        self.pending = Pending(settings.spool_dir / "listen")
        self.counters = Counters()
        # The Graph endpoint needs both secrets when a Page or Instagram account is configured;
        # without one it refuses every request (an empty secret verifies nothing).
        graph = any(a.platform in ("facebook", "instagram") for a in settings.accounts)
        self.app = make_app(verify_token=secret(settings, environ, "listen.verify_token_env") if graph else "",
                            app_secret=secret(settings, environ, "listen.app_secret_env") if graph else "",
                            accept=self.accept, counters=self.counters)

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
        # Through the collectors' Fetcher, judged by the Bluesky collector: rate limits wait for
        # ratelimit-reset, 5xx and network errors are retried, messages are scrubbed. No token:
        # resolveHandle is public on the AppView and on a PDS. Nothing is archived.
        from ..collectors import collector_class

        bluesky = collector_class("bluesky")(account, None)
        http = Fetcher(recorder=lambda exchange: (None, None), account=account.name, api_base=bluesky.api_base,
                       policy=RESOLVE_POLICY, sleep=self.sleep)
        try:
            resp = http.get(f"{bluesky.api_base}/com.atproto.identity.resolveHandle",
                            {"handle": str(account.id).lstrip("@")}, classify=bluesky.classify)
        except CollectError as exc:  # still throttled, unreachable or refused after the retries
            return self._no_did(account, str(exc))
        finally:
            http.close()
        body = resp.json_object() or {}
        did = body.get("did") if resp.status == 200 else None
        if isinstance(did, str) and did.startswith("did:"):
            return did
        return self._no_did(account, f"HTTP {resp.status} {body.get('error') or resp.reason}")

    @staticmethod
    def _no_did(account, why: str) -> None:
        log.warning("no Jetstream for %s: its handle could not be resolved (%s); set id to its DID", account.name, why)

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
