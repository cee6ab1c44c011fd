"""The moderation report: every removal of a period, its attribution and recorded reason.

One row per comment or reply the archive found hidden or deleted in the period (by the day
the removal was detected, agency timezone), with its archived text, author, when it was
posted, the last capture before the removal and when the removal was found, what the platform
tells about who removed it (``attribution``), and the reason records staff recorded. Rows with
no recorded reason come first: they are the ones a reviewer must look at. Totals per
category, and a statement of what the archive can and cannot see (``METHOD``).
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import ModerationError
from ..sightings import latest_sighting
from ..timefmt import day_range_utc
from .attribution import attribute
from .policy import Policy
from .reasons import current_reasons

NO_REASON = "(no reason recorded)"
FIELDS = ("item_id", "account", "platform", "kind", "author", "text", "posted_at", "last_capture_before",
          "detected_at", "platform_time", "removal", "status_now", "attribution", "removed_by", "certainty",
          "attribution_text", "category", "category_title", "policy_version", "decided_by", "recorded_by",
          "recorded_at", "note", "reason_entries", "parent_text", "url")

METHOD = (
    "The archive captures each account on a schedule; a comment posted and removed between two captures was never "
    "seen and cannot appear here. The time of a removal is known only to lie between the last capture that saw "
    "the comment and the capture that found it hidden or gone (both given for every row), unless the platform "
    "itself told of it: a Facebook webhook names the hide or removal with the platform's own time of the act "
    "(platform_time), and the listener captures the comment within minutes of it.",
    "Attribution is what the platform itself signals. A hidden comment on Facebook or Instagram, or a reply hidden "
    "by a Bluesky thread's author, can only be hidden by the owner of the post, so hiding is shown as the "
    "department's act. YouTube's held or rejected comments are in the channel's review queue, which YouTube's own "
    "filters also fill. No platform says who deleted a comment: its author, the department or the platform; a "
    "deletion is therefore never shown as the department's act. Bluesky answers alike for a deletion and a "
    "moderation takedown, shown as \"gone from public view\".",
    "A deletion is declared only after the platform confirms the comment is gone, never from one missing page.",
    "Categories are those of the agency's posted comment policy, as recorded by records staff; an entry is never "
    "changed, a correction is a new entry (the number of entries is given), and every entry is in the audit log.",
)


@dataclass
class ModerationReport:
    date_from: str | None
    date_to: str | None
    timezone: str
    accounts: list[str]
    policy: Policy
    rows: list[dict[str, Any]] = field(default_factory=list)
    captures: dict[str, dict[str, Any]] = field(default_factory=dict)  # account -> count, longest gap

    @property
    def totals(self) -> list[tuple[str, str, int]]:
        """(category, title, count): the policy's categories in its order, then the unrecorded ones."""
        counts = Counter(r["category"] or NO_REASON for r in self.rows)
        titles = {r["category"]: r["category_title"] for r in self.rows if r["category"]}
        out = [(c.name, c.title, counts.pop(c.name, 0)) for c in self.policy.latest.categories]
        unrecorded = counts.pop(NO_REASON, 0)
        out += [(name, titles.get(name, name), n) for name, n in sorted(counts.items())]
        out.append((NO_REASON, "No reason recorded", unrecorded))
        return out

    @property
    def unrecorded(self) -> int:
        return sum(1 for r in self.rows if not r["category"])

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.date_from, "to": self.date_to, "timezone": self.timezone, "accounts": self.accounts,
                "policy": {"name": self.policy.name, "placeholder": self.policy.placeholder},
                "totals": [{"category": c, "title": t, "count": n} for c, t, n in self.totals],
                "captures": self.captures, "method": list(METHOD), "removals": self.rows}


def build_report(db, settings, policy: Policy, *, date_from: str | None, date_to: str | None,
                 accounts: list[str] | None = None) -> ModerationReport:
    """Every removal detected in [date_from, date_to] (agency days, inclusive) for the accounts."""
    known = [a.name for a in settings.accounts]
    for name in accounts or []:
        if name not in known:
            raise ModerationError(f"no account named {name!r}: configured accounts are {', '.join(known) or '(none)'}")
    lo, hi = day_range_utc(date_from, date_to, settings.timezone)
    clauses, params = _within("e.at", lo, hi)
    clauses = ["e.event IN ('hidden', 'deleted')", "i.kind != 'post'", *clauses]
    if accounts:
        clauses.append(f"i.account IN ({', '.join('?' * len(accounts))})")
        params += accounts
    # The latest removal in the period per item: an item hidden and later deleted is one row.
    inner, inner_params = _within("e2.at", lo, hi)
    sql = (
        f"SELECT i.id, i.account, i.platform, i.kind, i.author, i.text, i.created_at, {latest_sighting('last_seen')},"
        " i.status, i.url, "
        "i.root, e.event, e.at FROM events e JOIN items i ON i.rowid = e.item_rowid "
        f"WHERE {' AND '.join(clauses)} AND e.id = (SELECT max(e2.id) FROM events e2 WHERE e2.item_rowid = e.item_rowid "
        "AND e2.event IN ('hidden', 'deleted')" + "".join(f" AND {c}" for c in inner) + ") ORDER BY e.at, i.id")
    rows = []
    for (item_id, account, platform, kind, author, text, created, last_seen, status, url, root, event,
         at) in db.conn.execute(sql, params + inner_params):
        row = {"item_id": item_id, "account": account, "platform": platform, "kind": kind, "author": author,
               "text": text, "posted_at": created, "detected_at": at, "removal": event, "status_now": status,
               "url": url, "root": root,
               "last_capture_before": _last_capture_before(db, account, at, last_seen if event == "deleted" else None)}
        row.update(attribute(platform, event).as_dict())
        rows.append(row)
    add_platform_times(db, rows)
    reasons = current_reasons(db, [r["item_id"] for r in rows])
    parents = _parent_texts(db, rows)
    for row in rows:
        reason = reasons.get(row["item_id"], {})
        row.update(category=reason.get("category"), category_title=reason.get("category_title"),
                   policy_version=reason.get("policy_version"), decided_by=reason.get("decided_by"),
                   recorded_by=reason.get("recorded_by"), recorded_at=reason.get("recorded_at"),
                   note=reason.get("note"), reason_entries=reason.get("entries", 0),
                   parent_text=parents.get((row["account"], row.pop("root"))))
    rows.sort(key=lambda r: (r["category"] is not None, r["detected_at"], r["item_id"]))
    report = ModerationReport(date_from, date_to, settings.timezone, list(accounts or known), policy, rows)
    report.captures = {a: _captures(db, a, lo, hi) for a in report.accounts}
    return report


VERB = {"hidden": "hide", "deleted": "remove"}


def add_platform_times(db, rows: list[dict[str, Any]]) -> None:
    """Set each row's ``platform_time``: the platform's own time of the hide or removal, when it
    pushed one (``platform_actions``, from Graph webhooks) at or before the removal was found."""
    # One query for all the rows: they travel as one JSON array of [row, item id, verb, found at].
    wanted = [[n, row["item_id"], VERB.get(row.get("removal") or ""), row.get("detected_at")]
              for n, row in enumerate(rows)]
    wanted = [w for w in wanted if w[2] and w[3]]
    found = dict(db.conn.execute(
        "SELECT json_extract(w.value, '$[0]'), max(pa.at) FROM json_each(?) w "
        "JOIN items i ON i.id = json_extract(w.value, '$[1]') "
        "JOIN platform_actions pa ON pa.account = i.account AND pa.platform_id = i.platform_id "
        "AND pa.verb = json_extract(w.value, '$[2]') AND pa.at <= json_extract(w.value, '$[3]') GROUP BY w.key",
        (json.dumps(wanted),))) if wanted else {}
    for n, row in enumerate(rows):
        row["platform_time"] = found.get(n)


def _last_capture_before(db, account: str, at: str, last_seen: str | None) -> str | None:
    """The last time the archive saw the comment before the removal was found: for a deletion its
    last sighting; for a hide, the end of the account's previous capture."""
    if last_seen and last_seen < at:
        return last_seen
    row = db.conn.execute("SELECT max(finished_at) FROM runs WHERE account = ? AND finished_at < ?",
                          (account, at)).fetchone()
    return row[0] if row else None


def _parent_texts(db, rows: list[dict[str, Any]]) -> dict[tuple[str, str], str | None]:
    keys = {(r["account"], r["root"]) for r in rows}
    out = {}
    for account, root in keys:
        found = db.conn.execute("SELECT text FROM items WHERE account = ? AND platform_id = ?",
                                (account, root)).fetchone()
        out[(account, root)] = found[0] if found else None
    return out


def _captures(db, account: str, lo: str | None, hi: str | None) -> dict[str, Any]:
    """How often the account was captured in the period, and the longest gap between captures."""
    clauses, params = _within("started_at", lo, hi)
    clauses, params = ["account = ?", *clauses], [account, *params]
    starts = [r[0] for r in db.conn.execute(
        f"SELECT started_at FROM runs WHERE {' AND '.join(clauses)} ORDER BY started_at", params)]
    gaps = [(_dt(b) - _dt(a)).total_seconds() / 3600 for a, b in zip(starts, starts[1:])]
    return {"captures": len(starts), "longest_gap_hours": round(max(gaps), 1) if gaps else None}


def _within(column: str, lo: str | None, hi: str | None) -> tuple[list[str], list[str]]:
    """SQL conditions (and parameters) for ``column`` in the half-open UTC range [lo, hi)."""
    clauses, params = [], []
    if lo:
        clauses.append(f"{column} >= ?")
        params.append(lo)
    if hi:
        clauses.append(f"{column} < ?")
        params.append(hi)
    return clauses, params


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def to_csv(report: ModerationReport) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(FIELDS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in report.rows:
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in FIELDS})
    return out.getvalue()


def to_json(report: ModerationReport) -> str:
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=str) + "\n"
