"""``archiver collect``: the nightly job, run by cron every night (``archiver.cli.core.collect``
parses its options; this is the job). Exit 0, or 1 if any account failed; 3 if another run
holds the lock (``LockError``).
"""

from __future__ import annotations

import gc
import os
import signal
import sys
from typing import Sequence


def run(config: str | None, accounts: Sequence[str], *, process_entry: bool) -> int:
    """Capture every configured account (or ``accounts``); print a table per account to
    stdout and each failure to stderr. The exit code: 0, or 1 if anything failed or an account
    ended ``partial`` (problems reported, the rest captured)."""
    from ..committer import Committer
    from ..config import load_settings
    from ..logs import setup
    from ..progress import on_terminal
    from ..timefmt import utcnow

    settings = load_settings(config, environ=os.environ, require_file=True)
    setup(settings)
    now = utcnow()
    # The commit worker starts before this process imports the capture pipeline, so that both
    # start up at once on two cores (archiver.committer).
    committer = Committer(settings, now)
    try:
        committer.start()
    except OSError:
        pass  # the first closed file tries again, and is committed here if that fails too
    from ..capture import collect
    from .common import emit

    if process_entry:
        # Capture makes a few dicts per item and frees them by reference counting; what the
        # cycle collector's passes over the older generations mostly scan is this process's
        # libraries, all loaded by now. Frozen, they are left out of every pass, and those
        # generations are looked at ten times less often; young cycles are still found at
        # every pass over the youngest (bench_collect: the collector's time here 0.17 -> 0.07 s).
        gc.freeze()
        gc.set_threshold(gc.get_threshold()[0], 100, 100)
    stop = []  # SIGTERM: finish the current record, close and upload the WARC, start no more accounts
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.append(signum))
    try:
        with on_terminal():
            report = collect(settings, environ=os.environ, accounts=list(accounts) or None, now=now,
                             should_stop=lambda: bool(stop), committer=committer)
    finally:
        committer.close()  # collect closed it already, unless it stopped early
    rows = [{"account": r.account, "platform": r.platform, "status": r.status, **r.counts,
             "problems": len(r.problems), "message": r.message} for r in report.results]
    emit(rows, "table", ["account", "platform", "status", "seen", "new", "edited", "hidden", "deleted",
                         "media_fetched", "problems", "message"])
    sys.stdout.flush()
    failures = [r.message for r in report.results if r.failed]
    failures += [report.recovery_error] + [f"stopped before account {n!r} started" for n in report.stopped]
    for problem in failures:
        if problem:
            print(f"Error: {problem}", file=sys.stderr)
    for r in report.results:
        if r.status == "partial":  # exit 1 as well: cron alerts; the problems are in `archiver runs`
            print(f"Warning: account {r.account!r} partial: {r.message}", file=sys.stderr)
    return 0 if report.ok else 1
