"""The nightly sweep, ``collect``: every configured account, the completeness pass.

The listener and the poller capture what changes within minutes; the sweep reads every
account's whole re-scan window and stays the moderation record's source of truth for what
changed between captures. One run at a time: it holds the index's writer lock
(``archiver.lock``), the lock the other drivers take too. Before capturing it recovers what an
earlier run left in the spool (``archiver.spool``); while capturing, a commit worker
(``archiver.committer``) uploads and indexes each closed file. A store that is down for the
night gets no worker: capture goes into the spool and the next run uploads it. A stop request
(SIGTERM) is honoured between accounts; one account's failure never stops the others.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable, Mapping

from ..committer import Committer
from ..config import Settings
from ..errors import ArchiverError, RetentionError, StoreError
from ..index import open_index
from ..retention.assign import AfterIngest
from ..lock import writer_lock
from ..progress import report as report_progress
from ..store import open_store
from ..timefmt import utcnow
from ..spool import UnavailableStore, recover_spool
from .account import AccountResult, run_account

log = logging.getLogger("archiver.capture")


@dataclass
class CollectReport:
    results: list[AccountResult] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    recovery_error: str | None = None  # the spool could not be recovered (store down): exit 1
    stopped: list[str] = field(default_factory=list)  # accounts not started after a stop request

    @property
    def ok(self) -> bool:
        # A partial account (problems reported, the rest captured) exits 1 too: cron alerts.
        return (not any(r.failed or r.status == "partial" for r in self.results) and not self.recovery_error
                and not self.stopped)


def collect(settings: Settings, *, environ: Mapping[str, str], accounts: Iterable[str] | None = None,
            now: datetime | None = None, sleep: Callable[[float], None] = time.sleep,
            should_stop: Callable[[], bool] = lambda: False, committer: Committer | None = None,
            clock: Callable[[], datetime] | None = None) -> CollectReport:
    """The nightly job. Every selected account runs, whatever happens to the others.
    ``committer``: a commit worker already started by the caller (else one starts at the first
    closed file)."""
    now = now or utcnow()
    names = list(accounts or [])
    selected = [settings.account(n) for n in names] if names else list(settings.accounts)
    if not selected:
        raise ArchiverError("no accounts configured: add [[accounts]] entries to the config")
    with writer_lock(settings.index_path, "collect", now=now):
        db = open_index(settings.index_path)
        report = CollectReport()
        try:
            store = open_store(settings)
        except StoreError as exc:
            # The store is down for the night: capture into the spool anyway; the next run uploads.
            store = UnavailableStore(str(exc), settings.storage_url)

        after_ingest = AfterIngest(settings, store, now)
        # Closed files are committed by a second process while capture goes on; a store that
        # is down gets none (every upload would fail; the files stay in the spool).
        if isinstance(store, UnavailableStore):
            if committer is not None:
                committer.kill()
            committer = None
        elif committer is None:
            committer = Committer(settings, now)
        try:
            report.recovered = recover_spool(db, store, settings.spool_dir, now=now,
                                             retain_years=settings["storage.default_retain_years"],
                                             after_ingest=after_ingest)
        except (StoreError, RetentionError) as exc:  # tonight's capture still runs, into the spool
            report.recovery_error = (f"files left in the spool by an earlier run could not be committed: {exc}; "
                                     "they stay there for the next run")
            log.error("%s", report.recovery_error)
        try:
            for account in selected:
                if should_stop():
                    report.stopped.append(account.name)
                    continue
                report_progress("accounts", total=len(selected), label=account.name)
                report.results.append(run_account(settings, db, store, account, environ=environ, now=now,
                                                  sleep=sleep, should_stop=should_stop,
                                                  after_ingest=after_ingest, committer=committer, clock=clock))
                report_progress("accounts", advance=1)
        finally:
            if committer is not None:
                committer.close()
        try:
            # Copy the night's WAL into the index and cut it to nothing: with the web UI's
            # connections open it is never removed, and would keep a night's size on disk.
            db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError as exc:  # a reader mid-query: the next checkpoint does it
            log.info("index WAL not truncated after collect: %s", exc)
        if report.stopped:
            log.warning("stop requested: accounts not started: %s", ", ".join(report.stopped))
    return report
