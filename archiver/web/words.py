"""A search filter in words, for people: "Comments and replies from 1 March 2024 to 31 March
2024, mentioning “lawsuit”, deleted or hidden" -- where ``SearchQuery.describe`` writes the
machine form (``date_from='2024-03-01'``) kept in bag-info and the audit log."""

from __future__ import annotations

from datetime import date

KIND_WORDS = {"post": "posts", "comment": "comments", "reply": "replies"}


def _day(value: str) -> str:
    try:
        d = date.fromisoformat(value)
    except ValueError:
        return value
    return f"{d.day} {d.strftime('%B')} {d.year}"


def _either(values: list[str], word: str = "or") -> str:
    values = list(values)
    if len(values) <= 1:
        return "".join(values)
    return ", ".join(values[:-1]) + f" {word} " + values[-1]


def query_in_words(q, tz: str) -> str:
    kinds = [KIND_WORDS.get(k, k) for k in q.kind] or ["items"]
    parts = [_either(kinds, "and").capitalize()]
    if q.date_from and q.date_to:
        parts.append(f"from {_day(q.date_from)} to {_day(q.date_to)} ({tz} time)")
    elif q.date_from:
        parts.append(f"from {_day(q.date_from)} on ({tz} time)")
    elif q.date_to:
        parts.append(f"up to {_day(q.date_to)} ({tz} time)")
    else:
        parts.append("of any date")
    if q.account:
        parts.append(f"on {_either(q.account)}")
    if q.platform:
        parts.append(f"on {_either(q.platform)}")
    if q.text:
        parts.append(f"matching the words “{q.text}”")
    if q.author:
        parts.append(f"by an author named like “{q.author}”")
    if q.status:
        parts.append(f"now {_either(q.status)}")
    if q.has_media is not None:
        parts.append("with media" if q.has_media else "without media")
    text = " ".join(parts[:2]) + ("" if len(parts) <= 2 else ", " + ", ".join(parts[2:]))
    if q.ids:
        text += f" — only the {len(q.ids)} result{'s' if len(q.ids) != 1 else ''} ticked"
    return text
