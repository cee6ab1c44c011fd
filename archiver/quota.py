"""Platform quotas as budgets that no capture driver may exceed.

Some platforms bill or cap reads (research/platforms.md): YouTube Data API v3 gives 10,000
units a day, reset at midnight Pacific time, and every list call the archiver makes costs 1
unit; X counts every post returned against the tier's monthly read cap. A budget names the
cap, the period and how a response is priced. What was spent in the period so far is derived
from the runs table (rebuilt by ``reindex`` from the WARC files); what the running capture
spends is counted response by response, and the capture stops at the cap
(``BudgetExhausted``): the account's run ends throttled, checkpointed like a rate limit, and
the next period resumes it. Media downloads from CDN hosts cost nothing and are not counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Callable
from zoneinfo import ZoneInfo

from .errors import ThrottledError
from .timefmt import iso


class BudgetExhausted(ThrottledError):
    """The platform's quota for this period would be exceeded by the next read."""


def _one_unit(body: bytes) -> int:
    return 1


def _posts_returned(body: bytes) -> int:
    """X bills each post a response returns (``data`` and expanded ``includes.tweets``)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return 0
    if not isinstance(doc, dict):
        return 0
    data = doc.get("data")
    count = len(data) if isinstance(data, list) else int(isinstance(data, dict))
    tweets = (doc.get("includes") or {}).get("tweets") if isinstance(doc.get("includes"), dict) else None
    return count + (len(tweets) if isinstance(tweets, list) else 0)


@dataclass(frozen=True)
class Platform:
    unit: str
    period: str                       # day | month | hour
    zone: str                         # the timezone the period is counted in
    setting: str                      # the config setting holding the cap (0: no budget)
    price: Callable[[bytes], int]     # units one API response costs


PLATFORMS = {
    "youtube": Platform("units", "day", "America/Los_Angeles", "quota.youtube_units_per_day", _one_unit),
    "x": Platform("post reads", "month", "UTC", "quota.x_reads_per_month", _posts_returned),
    "facebook": Platform("calls", "hour", "UTC", "quota.graph_calls_per_hour", _one_unit),
    "instagram": Platform("calls", "hour", "UTC", "quota.graph_calls_per_hour", _one_unit),
}


def period_start(platform: Platform, now: datetime) -> datetime:
    local = now.astimezone(ZoneInfo(platform.zone))
    if platform.period == "hour":
        start = local.replace(minute=0, second=0, microsecond=0)
    elif platform.period == "day":
        start = datetime.combine(local.date(), time.min, tzinfo=local.tzinfo)
    else:
        start = datetime.combine(local.date().replace(day=1), time.min, tzinfo=local.tzinfo)
    return start


@dataclass
class Budget:
    platform: str
    cap: int
    spent_before: int     # spent in this period by earlier runs (every driver, every account of it)
    period_from: str
    spent_now: int = 0    # spent by this run so far
    unit: str = "units"

    @property
    def left(self) -> int:
        return max(self.cap - self.spent_before - self.spent_now, 0)

    def charge(self, body: bytes) -> None:
        """Count one API response the capture received (every attempt: a retry costs too)."""
        self.spent_now += PLATFORMS[self.platform].price(body)

    def before_request(self, reserve: int) -> None:
        """Refuse the next read unless its largest possible cost still fits under the cap."""
        if self.left < reserve:
            raise BudgetExhausted(f"{self.platform} quota: {self.spent_before + self.spent_now} of {self.cap} "
                                  f"{self.unit} spent since {self.period_from}, and the next read may cost up to "
                                  f"{reserve}; the rest waits for the next period")

    def as_dict(self) -> dict[str, Any]:
        return {"platform": self.platform, "cap": self.cap, "spent": self.spent_before + self.spent_now,
                "left": self.left, "unit": self.unit, "since": self.period_from}


class BudgetedHttp:
    """The collector's HTTP client under a budget: each API read is checked against what is left
    before it is sent (``reserve``: the most one read can cost, retries included); media reads
    are free; reading ahead is off (an answer nobody asks for would still be billed)."""

    def __init__(self, fetcher, budget: Budget, reserve: int):
        self.fetcher, self.budget, self.reserve = fetcher, budget, reserve

    def get(self, url: str, params=None, *, media: bool = False, **kw):
        if not media:
            self.budget.before_request(self.reserve)
        return self.fetcher.get(url, params, media=media, **kw)

    def prefetch(self, *args, **kw) -> None:
        return None

    def __getattr__(self, name: str):
        return getattr(self.fetcher, name)


def reserve_for(settings, platform: str) -> int:
    """The most one API read can cost: every retry of a unit-priced call, or a full page of posts."""
    if platform == "x":
        return 2 * int(settings["collect.page_limit"])  # a page of posts and as many expanded ones
    return 1 + int(settings["collect.max_retries"])


def budget_for(settings, db, platform: str, now: datetime) -> Budget | None:
    """The platform's budget for the period containing ``now``, or None when none is set."""
    spec = PLATFORMS.get(platform)
    cap = int(settings[spec.setting]) if spec else 0
    if not spec or cap <= 0:
        return None
    start = iso(period_start(spec, now))
    # Every account of the platform shares the app's quota (YouTube and X count per project/app).
    spent = db.conn.execute(
        "SELECT coalesce(sum(quota_spent), 0) FROM runs WHERE platform = ? AND started_at >= ?",
        (platform, start)).fetchone()[0]
    return Budget(platform, cap, int(spent), start, unit=spec.unit)


def next_period(platform: str, now: datetime) -> datetime:
    spec = PLATFORMS[platform]
    start = period_start(spec, now)
    if spec.period == "hour":
        return start + timedelta(hours=1)
    if spec.period == "day":
        return datetime.combine(start.date() + timedelta(days=1), time.min, tzinfo=start.tzinfo)
    month = start.date().replace(day=28) + timedelta(days=4)
    return datetime.combine(month.replace(day=1), time.min, tzinfo=start.tzinfo)
