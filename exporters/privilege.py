"""The privilege log of a production: every document withheld whole by the redactions file
(``withhold = true``: attorney-client privilege, work product, an exempt record), listed so
the other side can test the claim (Fed. R. Civ. P. 26(b)(5)(A); Wis. Stat. 804.01(2)(g):
describe the nature of what is withheld without revealing the protected information).

Each row: a control number (withheld documents take no Bates number, so the numbering of the
produced pages has no gaps to explain), the date, author, recipients where known (the author
of the post or comment it answers), the privilege basis, the reason and a description. The
log is written as privilege-log.csv and privilege-log.pdf in the volume.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from .output import write_bytes
from .records import Entry, Thread
from .redact import Redaction, Redactor
from .render import printable, render, render_pdf

COLUMNS = ["control", "date", "author", "recipients", "type", "platform", "privilege_basis", "reason",
           "description"]


@dataclass
class PrivilegeLog:
    volume: str
    redactor: Redactor
    rows: list[dict] = field(default_factory=list)
    withheld_ids: set[str] = field(default_factory=set)  # archive ids of the withheld items

    def add(self, entry: Entry, thread: Thread, redaction: Redaction) -> None:
        """Log a withheld item (``entry`` as archived; every value is scrubbed of what other
        redactions withhold, so the log itself cannot leak a redacted name)."""
        self.withheld_ids.add(entry.id)
        by_pid = {e.platform_id: e for e in thread.entries}
        parent = by_pid.get(entry.parent) if entry.parent else None
        scrub = self.redactor.scrub
        self.rows.append({
            "control": f"{self.volume}-PRIV-{len(self.rows) + 1:04d}",
            "date": entry.created_at or "",
            "author": printable(scrub(entry.author)) or "unknown",
            "recipients": printable(scrub(parent.author)) if parent and parent.author else
            ("the public (a published post)" if entry.kind == "post" else "unknown"),
            "type": entry.kind, "platform": entry.platform,
            "privilege_basis": redaction.basis, "reason": redaction.reason,
            "description": f"{redaction.what}: a {entry.platform} {entry.kind} (archive id {entry.id})",
        })

    def write(self, out: Path, ctx: dict) -> None:
        if not self.rows:
            return
        with open(out / "privilege-log.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows)
        write_bytes(out / "privilege-log.pdf", render_pdf(render("exports/privilege-log.html", rows=self.rows, **ctx)))
