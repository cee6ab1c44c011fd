"""Date arithmetic of retention law: schedule offsets, triggers and Wisconsin business days.

Every function is pure and takes the dates it needs; nothing reads the clock.

Two choices the law forces:

* **A period ending on a day the calendar lacks** (29 February + 1 year, 31 January + 1 month)
  ends on the *first day of the next month*, not the last day of the short month. Wis. Stat.
  19.21(4)(b) sets a minimum ("not less than 7 years"); rolling back to 28 February would let a
  record go one day before its full period. Rolling forward can only keep it a day longer.
* **Business days** (Wis. Stat. 19.345): for time periods in ss. 19.33-19.39, "Saturdays,
  Sundays and legal holidays are excluded". This governs the 19.35(5) hold after a denial. It
  does not govern 19.21 (the Historical Society's 60 days), which is outside 19.33-19.39 and
  therefore counted in calendar days.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from ..timefmt import parse_platform_time


def add_offset(start: date, years: int = 0, months: int = 0, days: int = 0) -> date:
    """``start`` + years + months, then + days; a missing day rolls forward (see module doc)."""
    month_index = start.month - 1 + months + 12 * years
    year, month = start.year + month_index // 12, month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    if start.day <= last:
        result = date(year, month, start.day)
    else:
        # 29 Feb -> 1 Mar; 31 Jan + 1 month -> 1 Mar (the first day after the short month)
        result = date(year, month, last) + timedelta(days=1)
    return result + timedelta(days=days)


def local_day(stamp: str | None, tz: str) -> date | None:
    """The agency-timezone calendar day of a stored UTC time (a record's creation day)."""
    dt = parse_platform_time(stamp) if stamp else None
    if dt is None:
        return None
    return dt.astimezone(ZoneInfo(tz)).date()


def fiscal_year_end(day: date, fiscal_year_start: tuple[int, int]) -> date:
    """The first day after the fiscal year containing ``day`` ends (FIS trigger).

    FIS+3 keeps a record through the current fiscal year plus 3 more; the clock therefore
    starts when the current fiscal year closes."""
    month, dom = fiscal_year_start
    start_this_year = date(day.year, month, dom)
    return add_offset(start_this_year, years=1) if day >= start_this_year else start_this_year


def today_in(now: datetime, tz: str) -> date:
    return now.astimezone(ZoneInfo(tz)).date()


# --- Wisconsin legal holidays --------------------------------------------------------------
# The one list, from Wis. Stat. 995.20 "Legal holidays": January 1, the 3rd Monday in January,
# the 3rd Monday in February, the last Monday in May, June 19, July 4, the 1st Monday in
# September, the 2nd Monday in October, November 11, the 4th Thursday in November, December 25,
# and the days of the primary and the general election (source: the 995.20 text as reprinted by
# holidaysmart.com, and the structure of 995.20 shown in 2009 SB 170 by the LRB). Where the text
# could not be verified word for word -- whether a holiday falling on a Sunday moves to Monday,
# and which primary is meant now that the partisan primary is in August -- the list counts the
# extra day: here business days only ever lengthen a hold (19.35(5)), so an extra holiday keeps
# records longer, never shorter. Good Friday (11 am-3 pm observance) is not a whole-day holiday.

def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7)


MON, TUE, THU = 0, 1, 3


@lru_cache(maxsize=256)
def wisconsin_legal_holidays(year: int) -> frozenset[date]:
    fixed = [date(year, 1, 1), date(year, 6, 19), date(year, 7, 4), date(year, 11, 11), date(year, 12, 25)]
    days = set(fixed)
    days |= {d + timedelta(days=1) for d in fixed if d.weekday() == 6}  # Sunday -> Monday (conservative)
    days |= {
        _nth_weekday(year, 1, MON, 3),
        _nth_weekday(year, 2, MON, 3),
        _last_weekday(year, 5, MON),
        _nth_weekday(year, 9, MON, 1),
        _nth_weekday(year, 10, MON, 2),
        _nth_weekday(year, 11, THU, 4),
    }
    if year % 2 == 0:
        # General election: the Tuesday after the first Monday in November of even years; the
        # partisan primary: the 2nd Tuesday in August [unverified dates, counted: see above].
        days.add(_nth_weekday(year, 11, MON, 1) + timedelta(days=1))
        days.add(_nth_weekday(year, 8, TUE, 2))
    return frozenset(days)


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in wisconsin_legal_holidays(day.year)


def add_business_days(start: date, n: int) -> date:
    """The day ``n`` business days after ``start`` (19.345: the start day itself not counted)."""
    day = start
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        if is_business_day(day):
            counted += 1
    return day
