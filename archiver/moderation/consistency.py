"""Removed and kept comments with the same words, side by side.

Whether a removal rule was applied the same way to everyone is a question about the comments
that were *kept* as much as the removed ones. For the words a reviewer gives (full-text
search syntax, as in ``archiver search``), a period and accounts, this lists the comments and
replies now hidden or deleted beside those still live, with each removal's recorded reason.
"""

from __future__ import annotations

import re
from typing import Any

from ..search import SearchQuery, search
from .attribution import attribute
from .reasons import current_reasons

REMOVED = ["hidden", "deleted"]
KEPT = ["live", "edited"]
_WORD = re.compile(r"[^\W\d_]{4,}")


def compare(db, settings, words: str, *, date_from: str | None = None, date_to: str | None = None,
            accounts: list[str] | None = None, limit: int = 200) -> dict[str, Any]:
    """{"removed": rows with their reason, "kept": rows, "*_total": counts} for ``words``."""
    def query(statuses: list[str]):
        q = SearchQuery(date_from=date_from, date_to=date_to, text=words, account=list(accounts or []),
                        kind=["comment", "reply"], status=statuses, limit=limit)
        return search(db, q, settings.timezone)

    removed, kept = query(REMOVED), query(KEPT)
    reasons = current_reasons(db, [r["id"] for r in removed.rows])
    for row in removed.rows:
        reason = reasons.get(row["id"], {})
        row["category"] = reason.get("category")
        row["category_title"] = reason.get("category_title")
        row["attribution_text"] = attribute(row["platform"], "hidden" if row["status"] == "hidden" else "deleted").words
    return {"words": words, "removed": removed.rows, "removed_total": removed.total,
            "kept": kept.rows, "kept_total": kept.total}


def suggested_words(text: str | None, n: int = 3) -> str:
    """A starting query from a removed comment: its longest distinct words, any of them (OR)."""
    words = sorted(dict.fromkeys(w.lower() for w in _WORD.findall(text or "")), key=len, reverse=True)[:n]
    return " OR ".join(words)
