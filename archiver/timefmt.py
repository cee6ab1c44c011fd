"""Time parsing and the agency-timezone date ranges users type.

Times are stored in UTC (ISO 8601 with ``Z``). Dates users type (``--from 2024-03-01``) are
days in the agency's timezone: ``--to 2024-03-31`` means up to the end of March 31 there,
so a comment at 10:30 pm Central on March 31 is inside and 00:30 on April 1 is not.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from .errors import QueryError


def parse_platform_time(value: str | None) -> datetime | None:
    """Accepts every form the platforms send (Graph ``+0000``, ``Z``, fractions, RFC 822)."""
    if not value:
        return None
    value = value.strip()
    try:
        dt = datetime.fromisoformat(value)  # Python 3.11+ reads Graph's "+0000" and "Z" itself
    except ValueError:
        try:
            # Imported here: a search never reads an RSS date, and email imports socket (3 ms cold).
            from email.utils import parsedate_to_datetime

            dt = parsedate_to_datetime(value)  # RSS pubDate (RFC 822)
        except (TypeError, ValueError):
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt if dt.tzinfo is timezone.utc else dt.astimezone(timezone.utc)


def iso(dt: datetime | None) -> str | None:
    """UTC ISO 8601 with a Z, second precision or better; the one stored form."""
    if dt is None:
        return None
    if dt.tzinfo is not timezone.utc:
        dt = dt.astimezone(timezone.utc)
    # isoformat prints the same text as strftime("%Y-%m-%dT%H:%M:%S[.%f]") at a fifth of the
    # cost; in UTC it ends "+00:00", which becomes the Z
    return dt.isoformat()[:-6] + "Z"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def parse_user_date(value: str, tz: str) -> date | datetime:
    """A date or datetime a user typed. A bare date stays a date (a whole day)."""
    value = value.strip()
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"{value!r} is not a date; use YYYY-MM-DD (or YYYY-MM-DDTHH:MM)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo(tz))
    return dt


def day_range_utc(start: str | None, end: str | None, tz: str) -> tuple[str | None, str | None]:
    """Turn the user's inclusive [from, to] in agency time into a UTC half-open [lo, hi)."""
    zone = ZoneInfo(tz)
    lo = hi = None
    if start:
        v = parse_user_date(start, tz)
        if not isinstance(v, datetime):
            v = datetime.combine(v, time.min, tzinfo=zone)
        lo = iso(v)
    if end:
        v = parse_user_date(end, tz)
        if not isinstance(v, datetime):
            # the whole last day, up to midnight that starts the next day in agency time
            v = datetime.combine(v + timedelta(days=1), time.min, tzinfo=zone)
        else:
            v = v + timedelta(microseconds=1)
        hi = iso(v)
    if lo and hi and lo >= hi:
        raise QueryError(f"the date range {start} to {end} is empty: --from must not be after --to")
    return lo, hi


def agency_time(value: str | None, tz: str) -> str:
    """Render a stored UTC time in the agency's timezone for people."""
    if not value:
        return ""
    dt = parse_platform_time(value)
    if dt is None:
        return value
    return dt.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")
