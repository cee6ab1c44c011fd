"""The capture-completeness report: per account per night, did the archive get everything?

This is the statement a records officer signs to say the archive is complete for a period,
or to say exactly where it is not (Wis. Stat. 19.35 requests ask for *all* records; an
e-discovery custodian must disclose known gaps). Each row is one account on one night
(agency timezone): the run's status; the platform's own comment counts (``thread_scans.
expected``: Facebook ``summary.total_count``, Instagram ``comments_count``, Bluesky
``replyCount``..., falling back to the post's stored ``counts``) against what the archive held
for each thread scanned that night; items new, edited, hidden and deleted; API problems,
throttling, credential failures and media not fetched. Anything that does not add up becomes
a ``flag``; a night with no run at all is flagged too.

"Captured" for a thread at the time it was scanned = its comments and replies first seen at
or before the scan and not confirmed deleted by then. A platform count may lag or include
comments the API never returns (Graph counts can include comments by restricted users), so a
flag is a place to look, not proof of loss; the per-thread detail says where.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from .errors import QueryError
from .sightings import status_at
from .timefmt import day_range_utc, parse_platform_time, parse_user_date

# Which key of a post's stored ``counts`` is the platform's comment (or reply) total, per
# platform; used where a thread scan reported no count of its own.
COMMENT_COUNT_KEY = {"facebook": "comments", "instagram": "comments", "youtube": "comments",
                     "bluesky": "replies", "mastodon": "replies", "x": "replies"}
# A credential failure is named in the run message by the token error (TokenError messages).
TOKEN_PATTERN = re.compile(r"access token|credential|token (?:expired|is invalid)|code 190|token_env|"
                           r"environment variable \S+ is not set", re.I)

COLUMNS = ["night", "account", "platform", "status", "run_id", "threads", "comments_expected",
           "comments_captured", "threads_short", "items_seen", "new", "edited", "hidden", "deleted",
           "api_problems", "throttled", "token_problem", "media_failed", "complete", "flags"]


@dataclass
class ThreadCheck:
    root: str
    expected: int | None
    captured: int
    source: str  # scan|post counts|none


@dataclass
class NightRow:
    night: str
    account: str
    platform: str | None
    status: str
    run_id: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    threads: int = 0
    comments_expected: int | None = None
    comments_captured: int = 0
    threads_short: int = 0
    items_seen: int = 0
    new: int = 0
    edited: int = 0
    hidden: int = 0
    deleted: int = 0
    api_problems: int = 0
    throttled: int = 0
    token_problem: str = ""
    media_failed: int = 0
    message: str = ""
    problems: list[str] = field(default_factory=list)
    disagreements: list[ThreadCheck] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.flags

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["complete"] = self.complete
        return out


@dataclass
class CompletenessReport:
    date_from: str
    date_to: str
    timezone: str
    rows: list[NightRow]

    @property
    def complete(self) -> bool:
        return all(r.complete for r in self.rows)

    def flagged(self) -> list[NightRow]:
        return [r for r in self.rows if r.flags]


def _nights(date_from: str, date_to: str, tz: str) -> list[date]:
    first, last = parse_user_date(date_from, tz), parse_user_date(date_to, tz)
    first = first.date() if isinstance(first, datetime) else first
    last = last.date() if isinstance(last, datetime) else last
    if last < first:
        raise QueryError(f"the date range {date_from} to {date_to} is empty: --from must not be after --to")
    if (last - first).days > 3660:
        raise QueryError("a completeness report covers at most ten years; split the period")
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _local_day(value: str, zone: ZoneInfo) -> str:
    return parse_platform_time(value).astimezone(zone).date().isoformat()


def thread_checks(db, run_id: str, platform: str | None) -> list[ThreadCheck]:
    """Expected (platform count) against captured (archive at scan time), per thread scanned."""
    key = COMMENT_COUNT_KEY.get(platform or "", "comments")
    rows = db.conn.execute(
        f"""SELECT ts.root, ts.expected, p.counts,
                  (SELECT count(*) FROM items i WHERE i.account = ts.account AND i.root = ts.root
                     AND i.kind != 'post' AND i.first_seen <= ts.at
                     AND NOT (i.status = 'deleted' AND {status_at()} <= ts.at)) AS captured
           FROM thread_scans ts LEFT JOIN items p ON p.account = ts.account AND p.platform_id = ts.root
           WHERE ts.run_id = ? ORDER BY ts.root""", (run_id,)).fetchall()
    out = []
    for root, expected, counts, captured in rows:
        source = "scan"
        if expected is None:
            expected = (json.loads(counts) if counts else {}).get(key)
            source = "post counts" if expected is not None else "none"
        out.append(ThreadCheck(root, expected, captured, source))
    return out


def _run_row(db, run: dict, night: str) -> NightRow:
    problems = json.loads(run["problems"] or "[]")
    message = run["message"] or ""
    row = NightRow(night=night, account=run["account"], platform=run["platform"], status=run["status"],
                   run_id=run["id"], started_at=run["started_at"], finished_at=run["finished_at"],
                   items_seen=run["items_seen"] or 0, new=run["items_new"] or 0, edited=run["items_edited"] or 0,
                   hidden=run["items_hidden"] or 0, deleted=run["items_deleted"] or 0,
                   api_problems=len(problems), throttled=run["throttled"] or 0,
                   media_failed=run["media_failed"] or 0, message=message, problems=problems)
    checks = thread_checks(db, run["id"], run["platform"])
    row.threads = len(checks)
    counted = [c for c in checks if c.expected is not None]
    row.comments_expected = sum(c.expected for c in counted) if counted else None
    row.comments_captured = sum(c.captured for c in checks)
    row.disagreements = [c for c in counted if c.captured != c.expected]
    row.threads_short = sum(1 for c in counted if c.captured < c.expected)
    token = [m for m in [message, *problems] if TOKEN_PATTERN.search(m or "")]
    row.token_problem = token[0] if token else ""
    _flag(row)
    return row


def _flag(row: NightRow) -> None:
    if row.status not in ("ok",):
        row.flags.append(f"run {row.status}" + (f": {row.message}" if row.message else ""))
    for c in row.disagreements:
        word = "missing" if c.captured < c.expected else "more than counted"
        row.flags.append(f"thread {c.root}: platform counts {c.expected}, archive holds {c.captured} ({word})")
    if row.api_problems:
        row.flags.append(f"{row.api_problems} API problem(s): {row.problems[0]}"
                         + (" ..." if row.api_problems > 1 else ""))
    if row.throttled:
        row.flags.append(f"throttled {row.throttled} time(s)")
    if row.token_problem and row.status == "ok":
        row.flags.append(f"credential warning: {row.token_problem}")
    if row.media_failed:
        row.flags.append(f"{row.media_failed} media file(s) not fetched")


def completeness(db, date_from: str, date_to: str, tz: str, accounts: Iterable[str] = ()) -> CompletenessReport:
    """Every (night, account) in the period: configured accounts plus any that ran in it."""
    nights = _nights(date_from, date_to, tz)
    lo, hi = day_range_utc(date_from, date_to, tz)
    zone = ZoneInfo(tz)
    cur = db.conn.execute("SELECT * FROM runs WHERE started_at >= ? AND started_at < ? ORDER BY started_at, id",
                          (lo, hi))
    names = [d[0] for d in cur.description]
    runs = [dict(zip(names, r)) for r in cur]
    platforms = dict(db.conn.execute("SELECT name, platform FROM accounts").fetchall())
    wanted = list(dict.fromkeys([*accounts, *(r["account"] for r in runs)]))
    by_key: dict[tuple[str, str], list[dict]] = {}
    for run in runs:
        by_key.setdefault((_local_day(run["started_at"], zone), run["account"]), []).append(run)
    rows = []
    for night in (n.isoformat() for n in nights):
        for account in wanted:
            found = by_key.get((night, account))
            if not found:
                rows.append(NightRow(night, account, platforms.get(account), "no run",
                                     flags=["no capture run this night"]))
                continue
            rows.extend(_run_row(db, run, night) for run in found)
    return CompletenessReport(date_from, date_to, tz, rows)


def table_rows(report: CompletenessReport) -> list[dict[str, Any]]:
    """Flat rows for table/CSV output (JSON gets ``as_dict`` with the per-thread detail)."""
    out = []
    for row in report.rows:
        flat = row.as_dict()
        flat["flags"] = "; ".join(row.flags)
        flat["complete"] = "yes" if row.complete else "NO"
        out.append(flat)
    return out


def render_pdf(report: CompletenessReport, *, agency: str, custodian: str, generated: str) -> bytes:
    """The report as a PDF for court, through the exporters' shared HTML-to-PDF renderer."""
    import jinja2

    from . import SOFTWARE
    from .exporters.render import printable, render_pdf as html_to_pdf

    env = jinja2.Environment(loader=jinja2.PackageLoader("archiver.templates", "reports"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["clean"] = printable
    html = env.get_template("completeness.html").render(
        report=report, agency=agency, custodian=custodian, generated=generated, software=SOFTWARE)
    return html_to_pdf(html)
