"""The monitoring check (``archiver health``): did every account's last run succeed, recently?

A monitor (Nagios, Uptime Kuma, a cron ``MAILTO``) runs this after the nightly window and
alerts on a non-zero exit. An account is unhealthy when it has never run, when its last run
failed or was cut short, when its last run started longer ago than ``max_age`` (the nightly
job stopped running), or when a run is stuck in ``running`` past that age (a hung process).
A throttled run is healthy but reported: it is checkpointed and resumes the next night.
With ``streams_dir`` (the listener's spool folder), a platform stream of ``archiver listen``
that has been down for more than ``max_stream_down`` minutes is reported too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterable

from .timefmt import iso, utcnow

BAD_STATUSES = ("failed", "interrupted", "partial")


@dataclass
class AccountHealth:
    account: str
    ok: bool
    status: str | None
    started_at: str | None
    message: str


@dataclass
class HealthReport:
    accounts: list[AccountHealth] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(a.ok for a in self.accounts)


def check_health(db, accounts: Iterable[str], *, max_age_hours: float = 26.0,
                 now: datetime | None = None, streams_dir: Path | None = None,
                 max_stream_down: float = 15.0) -> HealthReport:
    """One verdict per configured account, from the runs table."""
    now = now or utcnow()
    oldest = iso(now - timedelta(hours=max_age_hours))
    report = HealthReport()
    for name in accounts:
        row = db.conn.execute(
            # The nightly sweep's runs: a listener capturing a thread every few minutes
            # (driver 'listen') must not hide a night that failed or never ran.
            "SELECT status, started_at, message FROM runs WHERE account = ? AND driver = 'nightly' "
            "ORDER BY started_at DESC, id DESC LIMIT 1",
            (name,)).fetchone()
        if row is None:
            report.accounts.append(AccountHealth(name, False, None, None, "never captured: run `archiver collect`"))
            continue
        status, started, message = row
        if started < oldest:
            verdict = (False, f"last run started {started}, more than {max_age_hours:g} h ago: is the nightly "
                              "job still scheduled?" + (" (it is still marked running: hung or killed)"
                                                        if status == "running" else ""))
        elif status in BAD_STATUSES:
            verdict = (False, f"last run {status}: {message or 'see `archiver runs --failed`'}")
        elif status == "throttled":
            verdict = (True, f"throttled; resumes from its checkpoint next run: {message or ''}".rstrip(": "))
        else:
            verdict = (True, "running now" if status == "running" else "ok")
        report.accounts.append(AccountHealth(name, verdict[0], status, started, verdict[1]))
    if streams_dir is not None:
        from .listen.streams import stream_problems

        for problem in stream_problems(streams_dir, now=now, max_down_minutes=max_stream_down):
            report.accounts.append(AccountHealth("(listener)", False, "down", None, problem))
    return report
