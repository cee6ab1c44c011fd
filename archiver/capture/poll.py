"""The quota-aware poller, the capture driver for platforms that push nothing (X, YouTube): read
fresh threads often and old ones rarely, inside the platform's budget, through the same
``run_account`` as the nightly sweep and the listener.

The schedule is a list of tiers, ``poll.tiers`` (default ``48h:15m,7d:1d,90d:7d``): posts younger
than 48 hours are re-read every 15 minutes, those younger than 7 days daily, those younger than
90 days weekly. A tick picks, per account, the widest tier that is due (a wider read covers the
narrower ones) and runs the account with that re-scan window (``run_account(..., rescan_days=,
driver="poll:<age>")``). The fresh tier reads only what is new where the collector can
(``incremental``); a wider tier runs the ordinary walk — the listing down to the window and
every thread in it, with the nightly job's change decisions and deletion checks — or, where the
collector checks archived items by id (X: ``tweets?ids=``, billed per post returned), that
check plus the new replies only. A tier counts as read by any finished run that covered it — a
poll of that tier or a wider one, or the nightly sweep as far as its walk sees (X's recent
search: 7 days) — and a wider tier falls due one fresh interval late, so that the nightly sweep,
due at the same hour, is not doubled by a poll minutes before it.

Before a run the poller compares what the platform's budget has left with what the same tier
cost last time, and skips the run (reported, in the log and in ``poll.json``) when it would not
fit; during a run the budget stops the capture at the cap (``archiver.quota``). So the quota
is never exceeded, and what is skipped is said.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Mapping

from ..collectors import collector_class
from ..errors import ConfigError, LockError, StoreError
from ..index import open_index
from ..lock import writer_lock
from ..quota import budget_for, reserve_for
from ..retention.assign import AfterIngest
from ..spool import UnavailableStore
from ..store import open_store
from ..timefmt import iso, parse_platform_time, utcnow
from .account import run_account

log = logging.getLogger("archiver.poll")
_SPAN = re.compile(r"^(\d+)([mhd])$")
_UNIT = {"m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class Tier:
    name: str          # the age as written, e.g. "48h"
    max_age: timedelta
    every: timedelta

    @property
    def driver(self) -> str:
        return f"poll:{self.name}"


def parse_tiers(text: str) -> list[Tier]:
    """``48h:15m,7d:1d,90d:7d`` -> tiers, narrowest first; a bad spec is a ConfigError."""
    tiers = []
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        age, _, every = part.partition(":")
        spans = [_SPAN.match(age.strip()), _SPAN.match(every.strip())]
        if not all(spans):
            raise ConfigError(f"poll.tiers: {part!r} is not AGE:INTERVAL with spans like 48h, 15m, 7d")
        (a, au), (e, eu) = (m.groups() for m in spans)
        tiers.append(Tier(age.strip(), timedelta(**{_UNIT[au]: int(a)}), timedelta(**{_UNIT[eu]: int(e)})))
    tiers.sort(key=lambda t: t.max_age)
    return tiers


@dataclass
class PollReport:
    ran: dict[str, str] = field(default_factory=dict)        # "account tier" -> run status
    skipped: list[str] = field(default_factory=list)         # what the budget did not allow, and why
    waiting: str = ""                                        # the archive was busy (another run)


class Poller:
    def __init__(self, settings, environ: Mapping[str, str], *, now: Callable[[], datetime] = utcnow):
        self.settings, self.environ, self.now = settings, environ, now
        self.tiers = parse_tiers(settings["poll.tiers"])
        platforms = {p.strip() for p in settings["poll.platforms"].split(",") if p.strip()}
        self.accounts = [a for a in settings.accounts if a.platform in platforms]
        self.status_path = Path(settings.spool_dir) / "listen" / "poll.json"

    def covered_since(self, db, account: str, tier: Tier) -> str | None:
        """When a finished run last covered ``tier``: a poll of it or a wider tier, or the nightly
        sweep when its re-scan window reaches the tier's age."""
        wider = [t.driver for t in self.tiers if t.max_age >= tier.max_age]
        reach = timedelta(days=self.settings["collect.rescan_days"])
        config = next((a for a in self.accounts if a.name == account), None)
        if config is not None:  # X's nightly walk sees 7 days of replies whatever its window
            reach = min(reach, collector_class(config.platform)(config, None).sweep_reach() or reach)
        if reach >= tier.max_age:
            wider.append("nightly")
        row = db.conn.execute(
            f"SELECT max(started_at) FROM runs WHERE account = ? AND status IN ('ok', 'partial') "
            f"AND driver IN ({', '.join('?' * len(wider))})", (account, *wider)).fetchone()
        return row[0] if row else None

    def due(self, db, account: str, now: datetime) -> Tier | None:
        """The widest tier whose interval has passed since it was last covered.

        A wider tier falls due one fresh interval late: the nightly sweep, a day after the last
        one, covers the daily tier at the very time it would fall due, and a poll of it a few
        minutes before the sweep would read the same threads twice (on X, billed twice). Late
        by one fresh interval, the tier is read only when the sweep did not run."""
        # A tier no run has covered yet counts from the account's first complete capture, which
        # read everything the platform showed: the weekly check is due a week after it.
        first = db.conn.execute("SELECT min(started_at) FROM runs WHERE account = ? AND status IN ('ok', 'partial')",
                                (account,)).fetchone()[0]
        for tier in reversed(self.tiers):
            last = parse_platform_time(self.covered_since(db, account, tier) or first)
            grace = self.tiers[0].every if tier is not self.tiers[0] else timedelta(0)
            if last is None or now - last >= tier.every + grace:
                return tier
        return None

    def last_cost(self, db, account: str, tier: Tier) -> int:
        row = db.conn.execute("SELECT quota_spent FROM runs WHERE account = ? AND driver = ? AND status != 'running' "
                              "ORDER BY started_at DESC LIMIT 1", (account, tier.driver)).fetchone()
        return int(row[0]) if row else 0

    def tick(self) -> PollReport:
        report = PollReport()
        if not self.accounts:
            return report
        now = self.now()
        try:
            with writer_lock(self.settings.index_path, "poll", now=now):
                self._tick(now, report)
        except LockError as exc:
            report.waiting = str(exc)
            log.info("poll: the archive is busy (%s); the next tick tries again", exc)
        self._write_status(report, now)
        return report

    def _tick(self, now: datetime, report: PollReport) -> None:
        db = open_index(self.settings.index_path)
        store = None
        for account in self.accounts:
            if not db.conn.execute("SELECT 1 FROM runs WHERE account = ? AND status IN ('ok', 'partial') LIMIT 1",
                                   (account.name,)).fetchone():
                report.skipped.append(f"{account.name}: not polled before its first complete capture "
                                      "(run `archiver collect`)")
                continue
            tier = self.due(db, account.name, now)
            if tier is None:
                continue
            budget = budget_for(self.settings, db, account.platform, now)
            need = max(self.last_cost(db, account.name, tier), reserve_for(self.settings, account.platform))
            if budget is not None and budget.left < need:
                report.skipped.append(
                    f"{account.name}: posts under {tier.name} not re-read: {budget.left} {budget.unit} left of "
                    f"{budget.cap} since {budget.period_from}, and this read needs about {need}")
                continue
            if store is None:
                try:
                    store = open_store(self.settings)
                except StoreError as exc:
                    store = UnavailableStore(str(exc), self.settings.storage_url)
            # The narrowest tier reads only what is new where the collector can (X bills every post
            # returned); the wider tiers find edits and deletions: by id where the collector checks
            # known items (X), else by re-reading whole threads.
            checks = collector_class(account.platform).checks_known
            result = run_account(self.settings, db, store, account, environ=self.environ, now=now, clock=self.now,
                                 after_ingest=AfterIngest(self.settings, store, now), driver=tier.driver,
                                 rescan_days=tier.max_age.total_seconds() / 86400,
                                 incremental=True if tier is self.tiers[0] else ("check" if checks else False))
            report.ran[f"{account.name} {tier.name}"] = result.status
            if result.status == "throttled":
                report.skipped.append(f"{account.name}: {result.message}")
        for line in report.skipped:
            log.warning("poll: %s", line)

    def _write_status(self, report: PollReport, now: datetime) -> None:
        try:
            self.status_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.status_path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"at": iso(now), **asdict(report)}, indent=2), encoding="utf-8")
            os.replace(tmp, self.status_path)
        except OSError as exc:
            log.warning("poll status not written to %s: %s", self.status_path, exc.strerror)
