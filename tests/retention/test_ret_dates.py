"""Offsets, leap days, triggers and Wisconsin business days (19.345)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from archiver.retention.dates import (add_business_days, add_offset, fiscal_year_end, is_business_day, local_day,
                                      wisconsin_legal_holidays)
from archiver.retention.holds import request_hold_ends


@pytest.mark.parametrize("start, kw, expected", [
    (date(2024, 2, 29), {"years": 1}, date(2025, 3, 1)),    # no Feb 29: roll forward, never short
    (date(2024, 2, 29), {"years": 4}, date(2028, 2, 29)),   # leap to leap: the same day
    (date(2024, 2, 29), {"years": 7}, date(2031, 3, 1)),
    (date(2023, 2, 28), {"years": 1}, date(2024, 2, 28)),
    (date(2024, 1, 31), {"months": 1}, date(2024, 3, 1)),
    (date(2024, 3, 31), {"months": 1}, date(2024, 5, 1)),
    (date(2024, 12, 15), {"months": 1}, date(2025, 1, 15)),
    (date(2017, 3, 5), {"years": 7}, date(2024, 3, 5)),
    (date(2024, 1, 1), {"days": 90}, date(2024, 3, 31)),
    (date(2024, 2, 29), {"years": 1, "days": 1}, date(2025, 3, 2)),
])
def test_offsets_and_leap_days(start, kw, expected):
    assert add_offset(start, **kw) == expected


def test_creation_day_is_the_agency_day():
    # 10:30 pm Central on Dec 31 is 04:30 UTC on Jan 1: the record was created on Dec 31.
    assert local_day("2024-01-01T04:30:00Z", "America/Chicago") == date(2023, 12, 31)
    assert local_day(None, "America/Chicago") is None


def test_fiscal_year_trigger():
    assert fiscal_year_end(date(2024, 3, 5), (1, 1)) == date(2025, 1, 1)
    assert fiscal_year_end(date(2024, 3, 5), (7, 1)) == date(2024, 7, 1)
    assert fiscal_year_end(date(2024, 7, 1), (7, 1)) == date(2025, 7, 1)


def test_wisconsin_holidays_2024():
    h = wisconsin_legal_holidays(2024)
    for day in ["2024-01-01", "2024-01-15", "2024-02-19", "2024-05-27", "2024-06-19", "2024-07-04", "2024-09-02",
                "2024-10-14", "2024-11-05", "2024-11-11", "2024-11-28", "2024-12-25", "2024-08-13"]:
        assert date.fromisoformat(day) in h, day
    assert date(2024, 11, 29) not in h  # the day after Thanksgiving is not a legal holiday
    assert date(2023, 11, 7) not in wisconsin_legal_holidays(2023)  # odd year: no general election
    assert not is_business_day(date(2024, 11, 9))  # Saturday


def test_business_days_skip_weekends_and_holidays():
    # Fri Nov 8 2024 + 5: Mon Nov 11 is Veterans Day -> Tue 12, Wed 13, Thu 14, Fri 15, Mon 18.
    assert add_business_days(date(2024, 11, 8), 5) == date(2024, 11, 18)
    # Fri Nov 1 + 3: Mon 4, (Tue 5 election), Wed 6, Thu 7.
    assert add_business_days(date(2024, 11, 1), 3) == date(2024, 11, 7)


def _count_by_hand(start: date, n: int, holidays: set[date]) -> date:
    day, counted = start, 0
    while counted < n:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in holidays:
            counted += 1
    return day


# Written out by hand from Wis. Stat. 995.20 for the window Nov 2024 - Apr 2025.
HAND_HOLIDAYS = {date(2024, 11, 5), date(2024, 11, 11), date(2024, 11, 28), date(2024, 12, 25),
                 date(2025, 1, 1), date(2025, 1, 20), date(2025, 2, 17)}


def test_denial_hold_is_60_or_90_business_days():
    denied = date(2024, 11, 1)
    sixty = request_hold_ends(denied, committed=False)
    ninety = request_hold_ends(denied, committed=True)
    assert sixty == _count_by_hand(denied, 60, HAND_HOLIDAYS) == date(2025, 2, 3)
    assert ninety == _count_by_hand(denied, 90, HAND_HOLIDAYS) == date(2025, 3, 18)
    # Business days are longer than calendar days: 60 calendar days would end on Dec 31.
    assert sixty > denied + timedelta(days=60)
