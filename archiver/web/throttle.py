"""Login throttling by account and by client address (OWASP ASVS 4.0 2.2.1).

Each failed login is a row of ``login_failures`` (the account as a sha256 of the name typed).
Within ``WINDOW``, the first few failures cost nothing (people mistype); after that each one
makes the next attempt wait twice as long (1 s, 2 s, 4 s ... up to ``MAX_DELAY``), and at
``LOCK_AFTER`` failures the account or address is locked for ``WINDOW`` from its last failure.
A login while throttled or locked is refused before the password is checked, so even the right
password does not get in. A client address gets more room than an account: several people can
share one (an office behind NAT), while the per-account limit stops guessing at one name from
many addresses. A successful login clears its account's failures, not its address's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..index import transaction

WINDOW = timedelta(minutes=15)
MAX_DELAY = timedelta(minutes=2)


@dataclass(frozen=True)
class Limit:
    column: str
    free: int        # failures within WINDOW that cost nothing
    lock_after: int  # failures within WINDOW that lock for WINDOW


ACCOUNT = Limit("account_hash", free=3, lock_after=10)
ADDRESS = Limit("address", free=10, lock_after=50)


@dataclass(frozen=True)
class Refusal:
    until: datetime
    locked: bool
    by: str  # account|address

    def message(self, now: datetime) -> str:
        seconds = max(1, int((self.until - now).total_seconds() + 0.999))
        if self.locked:
            return (f"Too many failed logins: this {self.by} is locked for {(seconds + 59) // 60} minute(s). "
                    "Wait, or ask an administrator.")
        return f"Too many failed logins: wait {seconds} second(s) before trying again."


def _stamp(dt: datetime) -> str:
    # Fixed width (microseconds always), so the stored stamps compare as text in time order.
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def account_key(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()


def _delay(failures: int, limit: Limit) -> timedelta:
    if failures < limit.free:
        return timedelta(0)
    return min(timedelta(seconds=2 ** (failures - limit.free)), MAX_DELAY)


def refusal(db, name: str, address: str, now: datetime) -> Refusal | None:
    """Why a login for ``name`` from ``address`` may not be tried now, or None."""
    worst = None
    for limit, value in ((ACCOUNT, account_key(name)), (ADDRESS, address)):
        count, last = db.conn.execute(
            f"SELECT count(*), max(at) FROM login_failures WHERE {limit.column} = ? AND at > ?",
            (value, _stamp(now - WINDOW))).fetchone()
        if not count:
            continue
        last_at = datetime.fromisoformat(last.replace("Z", "+00:00"))
        locked = count >= limit.lock_after
        until = last_at + (WINDOW if locked else _delay(count, limit))
        if until > now and (worst is None or until > worst.until):
            worst = Refusal(until, locked, "account" if limit is ACCOUNT else "address")
    return worst


def record_failure(db, name: str, address: str, now: datetime) -> None:
    with transaction(db):
        db.conn.execute("INSERT INTO login_failures (at, account_hash, address) VALUES (?, ?, ?)",
                        (_stamp(now), account_key(name), address))
        # Old rows say nothing any more; keep the table small.
        db.conn.execute("DELETE FROM login_failures WHERE at < ?", (_stamp(now - 4 * WINDOW),))


def clear_account(db, name: str) -> None:
    with transaction(db):
        db.conn.execute("DELETE FROM login_failures WHERE account_hash = ?", (account_key(name),))
