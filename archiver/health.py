"""The monitoring check (``archiver health``): did every account's last run succeed, recently,
and is nothing waiting for a person?

A monitor (Nagios, Uptime Kuma, a cron ``MAILTO``) runs this after the nightly window and
alerts on a non-zero exit. An account is unhealthy when it has never run, when its last run
failed or was cut short, when its last run started longer ago than ``max_age`` (the nightly
job stopped running), or when a run is stuck in ``running`` past that age (a hung process).
A throttled run is healthy but reported: it is checkpointed and resumes the next night.

Beside the accounts, two things need a person and make the check fail until they are seen to:
* quarantined spool files -- the damaged tail of a WARC torn by a crash or a full disk, or a
  whole file that did not verify (``archiver.spool``), kept as evidence with a report; once
  reviewed, move the file and its report into ``quarantine/reviewed/``;
* the records-management journal (``archiver.journal``): a broken chain in the index, or
  entries not pushed to the store for longer than ``max_age`` (the store refused them, or
  only the web UI, which has no store credentials, has run since).

With ``streams_dir`` (the listener's spool folder), a platform stream of ``archiver listen``
that has been down for more than ``max_stream_down`` minutes is reported too; and with a
``[listen]`` section, each Facebook Page this app is not subscribed to for ``feed`` (no comment
would be pushed; ``subscription_findings``), or whose subscription could not be checked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterable

from . import journal
from .timefmt import iso, utcnow
from .warc import QUARANTINE_REPORT

BAD_STATUSES = ("failed", "interrupted", "partial")


@dataclass
class AccountHealth:
    account: str
    ok: bool
    status: str | None
    started_at: str | None
    message: str


@dataclass
class Finding:
    """Something other than an account's runs: ``what`` is quarantine, journal or listener."""

    what: str
    ok: bool
    message: str


@dataclass
class HealthReport:
    accounts: list[AccountHealth] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(a.ok for a in self.accounts) and all(f.ok for f in self.findings)


def check_health(db, accounts: Iterable[str], *, max_age_hours: float = 26.0, quarantine: Path | None = None,
                 now: datetime | None = None, streams_dir: Path | None = None,
                 max_stream_down: float = 15.0) -> HealthReport:
    """One verdict per configured account, from the runs table; then the quarantine folder
    (``quarantine``: ``spool.quarantine_dir``), the journal and the listener's streams."""
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
    if quarantine is not None:
        report.findings += quarantined(quarantine)
    report.findings += _journal(db, now, max_age_hours)
    if streams_dir is not None:
        from .listen.streams import stream_problems

        report.findings += [Finding("listener", False, problem)
                            for problem in stream_problems(streams_dir, now=now, max_down_minutes=max_stream_down)]
    return report


def quarantined(folder: Path) -> list[Finding]:
    """One finding per file set aside in ``folder`` and not yet moved to ``reviewed/``."""
    found = []
    for path in sorted(folder.glob("*" + QUARANTINE_REPORT)) if folder.is_dir() else []:
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            info = {"file": path.name.removesuffix(QUARANTINE_REPORT), "reason": f"report unreadable: {exc}"}
        kept = info.get("records_kept")
        what = (f"{kept} intact record(s) were archived, the damaged rest is kept here" if kept
                else "nothing of it was archived")
        found.append(Finding("quarantine", False, f"{folder / info.get('file', '?')}: {info.get('reason')} ({what}); "
                                                  "review it, then move it and its report into reviewed/"))
    return found


def _journal(db, now: datetime, max_age_hours: float) -> list[Finding]:
    found = [Finding("journal", False, p) for p in journal.check_index(db)]
    state = journal.status(db)
    if journal.overdue(state, now, max_age_hours):
        found.append(Finding("journal", False, f"{state.unsent} records-management journal entr(y/ies) not in the "
                                               f"store since {state.oldest_unsent}: run any `archiver` command with "
                                               "store access (e.g. `archiver collect`) and check the log"))
    return found


def subscription_findings(settings, environ) -> list[Finding]:
    """With ``[listen]`` configured: each Facebook Page whose webhooks this app does not receive
    (``GET /{page-id}/subscribed_apps``), and each Page whose subscription could not be read."""
    if "listen" not in settings.raw:
        return []
    from .listen.subscribe import check, page_accounts

    states = [check(account, settings, environ) for account in page_accounts(settings)]
    return [Finding("listener", False, f"{s.account}: {s.message}") for s in states if not s.subscribed]
