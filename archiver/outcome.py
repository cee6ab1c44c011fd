"""How one account's night ends, and what it leaves for the next night.

* ``known_items``: what the archive holds of a thread, handed to collectors as ``ctx.known``
  (Bluesky reads the replies a vanished ancestor took out of a thread by their own URIs).
* ``run_status``: a run that was not cut short but reported problems -- a thread that could
  not be read, a page that stayed malformed (kept in the WARC), a thread the platform showed
  only in part, media not fetched -- ends ``partial``, not ``ok``: the records officer's
  completeness report flags it and ``collect`` exits 1, so cron alerts.
* ``retry_window``: threads that failed (recorded in the account's checkpoint by
  ``collectors.base.once_per_checkpoint``) are read again next night: the re-scan window
  reaches back to the oldest of their posts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from .collectors.base import FAILED_THREADS, KnownItem
from .timefmt import parse_platform_time


def known_items(db, account: str) -> Callable[[str], list[KnownItem]]:
    """``root -> [KnownItem]``: the thread's items in the index that are not deleted."""
    def known(root: str) -> list[KnownItem]:
        return [KnownItem(platform_id=pid, kind=kind, root=root, parent=parent, url=url)
                for pid, kind, parent, url in db.conn.execute(
                    "SELECT platform_id, kind, parent, url FROM items WHERE account = ? AND root = ?"
                    " AND status != 'deleted' ORDER BY created_at, platform_id", (account, root))]
    return known


def run_status(status: str, message: str, problems: list[str]) -> tuple[str, str]:
    """(status, message) of a finished run: ``ok`` with problems reported becomes ``partial``."""
    if status != "ok" or not problems:
        return status, message
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return "partial", f"{len(problems)} problem(s), the rest was captured: {problems[0]}{more}"


def retry_window(since: datetime | None, checkpoint: dict) -> datetime | None:
    """The re-scan lower bound, widened to the oldest post whose thread failed last time.
    ``None`` (a full backfill) stays ``None``."""
    if since is None:
        return None
    for created in (checkpoint.get(FAILED_THREADS) or {}).values():
        when = parse_platform_time(created) if created else None
        if when is not None and when < since:
            since = when
    return since
