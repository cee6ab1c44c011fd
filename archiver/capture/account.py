"""One account's run, ``run_account``: its credential, collector, quota budget and one
``CaptureSession``, whichever driver asks for it.

The drivers differ only in the arguments. The nightly sweep reads the account's re-scan window
and keeps a checkpoint (``checkpoints``) to resume an interrupted night; the listener names the
threads to read (``targets``) and what the platform pushed (``notes``); the poller narrows the
window to its tier (``rescan_days``) and reads only what is newer than the archive holds where
the collector can (``incremental``, ``archived_to``). An account's failure is its result, never
an exception: the other accounts still run.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterable, Mapping

from ..collectors import collector_class
from ..collectors.base import CollectContext, Known, ThreadDone
from ..committer import Committer
from ..config import AccountConfig, Settings, resolve_secret
from ..errors import CollectError, QuotaError, StoreError, ThrottledError, TokenError
from ..http import Fetcher, RetryPolicy
from ..index import transaction
from ..index.searchplan import epoch_key
from ..outcome import known_items, retry_window, run_status
from ..progress import report as report_progress
from ..quota import BudgetedHttp, budget_for, reserve_for
from ..store import Store
from ..timefmt import iso, parse_platform_time, utcnow
from .session import CaptureSession, Interrupted

log = logging.getLogger("archiver.capture")


@dataclass
class AccountResult:
    account: str
    platform: str
    run_id: str | None
    status: str  # ok | partial | throttled | failed | interrupted
    message: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "interrupted")


def new_run_id(account: str, now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{account}-{uuid.uuid4().hex[:6]}"


def _since(db, account: str, now: datetime, rescan_days: int) -> datetime | None:
    ok = db.conn.execute("SELECT 1 FROM runs WHERE account = ? AND status IN ('ok', 'partial') LIMIT 1",
                         (account,)).fetchone()
    return now - timedelta(days=rescan_days) if ok else None


def run_account(settings: Settings, db, store: Store, account: AccountConfig, *, environ: Mapping[str, str],
                now: datetime, sleep: Callable[[float], None] = time.sleep,
                should_stop: Callable[[], bool] = lambda: False, after_ingest=None,
                session=None, committer: Committer | None = None,
                clock: Callable[[], datetime] | None = None, targets: list[str] | None = None,
                notes: Iterable[tuple[str, str, dict]] = (), driver: str = "nightly",
                rescan_days: float | None = None, incremental: bool | str = False) -> AccountResult:
    """One account's run. ``clock``: the time of each capture (WARC-Date, first and last seen);
    the wall clock by default, a simulated night's in the demo and in tests. ``targets`` (a
    listener's capture): read only these posts and their threads, record ``notes`` (kind, uri,
    payload: what the platform pushed) first, leave the account's checkpoint alone, and mark the
    run with its ``driver``. ``rescan_days`` overrides collect.rescan_days (a poller's tier);
    with ``incremental`` a collector that can reads only what is newer than the archive holds
    (``"check"``: and checks the archived items by id, ``Known.check``).
    Every driver stays inside the platform's quota budget."""
    clock = clock or utcnow
    run_id = new_run_id(account.name, now)
    result = AccountResult(account.name, account.platform, run_id, "ok")
    cls = collector_class(account.platform)
    if driver == "nightly" and targets is None and cls.check_sweep_days and polled(db, account.name, now):
        # The poller reads this account (X): the sweep is its daily tier, by id; the weekly tier reads further back.
        incremental, rescan_days = "check", cls.check_sweep_days
    db.conn.execute(
        "INSERT OR REPLACE INTO accounts (name, platform, platform_account_id, api_base) VALUES (?,?,?,?)",
        (account.name, account.platform, account.id, account.api_base),
    )
    db.conn.execute("INSERT INTO runs (id, account, platform, started_at, status, driver) VALUES (?,?,?,?, 'running', ?)",
                    (run_id, account.name, account.platform, iso(now), driver))
    token = None
    fetcher = None
    collector = None
    try:
        token = resolve_secret(account, environ)
        if cls.needs_token and token is None:
            raise TokenError(f"account {account.name!r}: {account.platform} needs a credential; set token_env "
                             "to the environment variable that holds it", account=account.name)
    except TokenError as exc:
        result.status, result.message = "failed", str(exc)
    collector = cls(account, token)
    capture = CaptureSession(settings, db, store, account, collector, run_id, now, should_stop, after_ingest,
                             committer)
    capture.clock = clock
    capture.driver = driver
    capture.budget = budget_for(settings, db, account.platform, now)
    for kind, uri, payload in notes:
        capture.note(kind, uri, payload)
    # The resume point of an interrupted night belongs to the nightly sweep: a listener's or a
    # poller's run neither skips threads by it nor overwrites it.
    own_checkpoint = targets is None and driver == "nightly"
    checkpoint = _load_checkpoint(db, account.name) if own_checkpoint else {}
    ctx = None
    if result.status == "ok":
        secrets = [token] if token else []
        secrets += [environ[v] for k, v in account.options.items() if k.endswith("_env") and environ.get(v)]
        fetcher = Fetcher(
            recorder=capture.record_exchange, account=account.name, auth=collector.auth(), secrets=secrets,
            api_base=collector.api_base or None,
            secret_params=collector.secret_params, sleep=sleep, session=session, clock=clock,
            policy=RetryPolicy(
                retry_delay=settings["collect.retry_delay"], max_retries=settings["collect.max_retries"],
                throttle_retries=settings["collect.throttle_retries"], max_backoff=settings["collect.max_backoff"],
                timeout=settings["collect.timeout"], max_media_bytes=settings["collect.max_media_bytes"],
            ),
        )
        http = fetcher if capture.budget is None else \
            BudgetedHttp(fetcher, capture.budget, reserve_for(settings, account.platform))
        ctx = CollectContext(account=account, http=http, now=now,
                             since=retry_window(_since(db, account.name, now,
                                                       settings["collect.rescan_days"] if rescan_days is None
                                                       else rescan_days), checkpoint),
                             page_limit=settings["collect.page_limit"], checkpoint=checkpoint,
                             known=known_items(db, account.name), targets=targets)
        if incremental and collector.supports_incremental and ctx.since is not None:
            ctx.archived = archived_to(db, account.name, ctx.since, check=incremental == "check")
        try:
            for event in collector.collect(ctx):
                capture.handle(event, ctx)
                if isinstance(event, ThreadDone):
                    report_progress("threads", advance=1, label=account.name)
        except ThrottledError as exc:
            result.status, result.message = "throttled", str(exc)
        except Interrupted as exc:
            result.status, result.message = "interrupted", str(exc)
        except (TokenError, QuotaError, CollectError) as exc:
            result.status, result.message = "failed", str(exc)
        except StoreError as exc:  # the spool refused a write; finish() reports it
            result.status, result.message = "failed", str(exc)
        except Exception as exc:  # a collector bug must not stop the other accounts or lose the WARC
            log.exception("collector for %s crashed", account.name)
            result.status = "failed"
            result.message = fetcher.scrub.text(f"internal error in the {account.platform} collector: "
                                                f"{type(exc).__name__}: {exc}")
    result.status, result.message = run_status(result.status, result.message, capture.problems)
    if fetcher is not None:
        try:
            fetcher.close()  # what was read ahead and not used is recorded too
        except StoreError:
            pass  # the spool refused the write: finish() reports it
    try:
        capture.finish(result.status, result.message, fetcher)
    except StoreError as exc:
        result.status = "failed"
        if str(exc) not in result.message:
            result.message = (f"{result.message + '; ' if result.message else ''}{capture.failure}: {exc}; "
                              "the WARC stays in the spool and the next run commits it")
        db.conn.execute("UPDATE runs SET status = 'failed', message = ?, finished_at = ?, problems = ? WHERE id = ?",
                        (result.message, iso(clock()), json.dumps(capture.problems), run_id))
    if ctx is not None and not capture.spool_error and own_checkpoint:
        # After a spool failure the torn WARC may lack threads the checkpoint calls done.
        _save_checkpoint(db, account.name, run_id, ctx.checkpoint)
    result.counts = dict(capture.counts)
    result.problems = list(capture.problems)
    summary = {"event": "account_done", "account": account.name, "platform": account.platform, "run": run_id,
               "status": result.status, **result.counts, "problems": len(result.problems),
               "reason": result.message}
    # One line per account per run; with log.json it is one JSON object a monitor can parse.
    log.log(logging.INFO if not result.failed else logging.ERROR,
            "account %s %s: %d seen, %d new, %d edited, %d hidden, %d deleted, %d problems",
            account.name, result.status, result.counts["seen"], result.counts["new"], result.counts["edited"],
            result.counts["hidden"], result.counts["deleted"], len(result.problems), extra={"fields": summary})
    return result


def polled(db, account: str, now: datetime) -> bool:
    """Whether the poller (archiver.capture.poll) read the account in the last week."""
    return db.conn.execute("SELECT 1 FROM runs WHERE account = ? AND driver LIKE 'poll:%' AND started_at >= ? LIMIT 1",
                           (account, iso(now - timedelta(days=7)))).fetchone() is not None


def archived_to(db, account: str, since: datetime, check: bool = False) -> Known:
    """What the index holds of an account, for a read of only what is new (``ctx.archived``). X ids
    grow with time, so the newest is the longest, then the greatest."""
    posts = []
    for pid, created, native in db.conn.execute(
            "SELECT i.platform_id, i.created_at, (SELECT v.native FROM versions v WHERE v.item_rowid = i.rowid "
            "ORDER BY v.n DESC LIMIT 1) FROM items i WHERE i.account = ? AND i.kind = 'post' "
            "AND i.status != 'deleted' AND i.date_key >= ? AND i.created_at >= ? ORDER BY i.created_at DESC",
            (account, epoch_key(iso(since)), iso(since))):
        try:
            versions = (json.loads(native) or {}).get("edit_history_tweet_ids") if native else None
        except (ValueError, AttributeError):
            versions = None
        posts.append((pid, parse_platform_time(created), [str(v) for v in versions or [pid]]))
    newest = "SELECT platform_id FROM items WHERE account = ? AND {} ORDER BY length(platform_id) DESC, platform_id DESC LIMIT 1"

    def newest_reply(root: str) -> str | None:
        row = db.conn.execute(newest.format("root = ? AND kind != 'post'"), (account, root)).fetchone()
        return row[0] if row else None

    row = db.conn.execute(newest.format("kind = 'post'"), (account,)).fetchone()
    return Known(posts=posts, newest_post=row[0] if row else None, newest_reply=newest_reply, check=check)


def _load_checkpoint(db, account: str) -> dict:
    row = db.conn.execute("SELECT data FROM checkpoints WHERE account = ?", (account,)).fetchone()
    return json.loads(row[0]) if row else {}


def _save_checkpoint(db, account: str, run_id: str, data: dict) -> None:
    with transaction(db):
        if data:
            db.conn.execute("INSERT OR REPLACE INTO checkpoints (account, run_id, data, updated_at) VALUES (?,?,?,?)",
                            (account, run_id, json.dumps(data), iso(utcnow())))
        else:
            db.conn.execute("DELETE FROM checkpoints WHERE account = ?", (account,))
