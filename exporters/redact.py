"""Redaction of released copies (Wis. Stat. 19.36(6)): delete what may not be disclosed,
release the rest, and log what was withheld and why.

The redactions file (TOML) lists entries, each naming an item (its archive id, or ``*`` for
every item) and exactly one of

* ``term = "..."``      – every occurrence of the words, case-insensitive;
* ``span = [a, b]``     – characters a..b (0-based, end exclusive) of the item's current text;
* ``field = "author"``  – a whole field: ``text``, ``author``, ``url`` or ``media``;

with ``basis`` (the statute, common-law rule or balancing-test reason) and ``what`` (the kind
of information, shown in the redaction log and the letter — never the information itself).

Redaction applies to copies only — rendered HTML/PDF, the CSV, the natives' redacted copies.
The archive (WARC files, index) is never changed. Every redaction becomes a set of secret
strings for its item, removed from every string of every copy, so the same words cannot
survive in a field the officer did not think of (the JSON native, the URL, an earlier version).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ExportError
from .inputs import read_toml
from .records import Entry, Thread, Version

FIELDS = ("text", "author", "url", "media")
MARK = "[REDACTED]"


@dataclass(frozen=True)
class Redaction:
    item: str
    kind: str  # term | span | field
    value: Any
    basis: str
    what: str

    def describe(self) -> str:
        if self.kind == "field":
            return f"whole {self.value} field"
        if self.kind == "span":
            return f"characters {self.value[0]}–{self.value[1]} of the text"
        return "words wherever they occur"


def load_redactions(path: str | Path | None) -> list[Redaction]:
    if not path:
        return []
    data = read_toml(path, "redactions")
    out = []
    for n, entry in enumerate(data.get("redaction", []), 1):
        where = f"{path}: [[redaction]] #{n}"
        kinds = [k for k in ("term", "span", "field") if k in entry]
        if len(kinds) != 1:
            raise ExportError(f"{where} must have exactly one of term, span or field")
        if not entry.get("item") or not str(entry.get("basis", "")).strip():
            raise ExportError(f"{where} needs item (an archive id or \"*\") and basis (the statutory reason)")
        kind = kinds[0]
        value = entry[kind]
        if kind == "field" and value not in FIELDS:
            raise ExportError(f"{where}: field must be one of {', '.join(FIELDS)}")
        if kind == "span" and not (isinstance(value, list) and len(value) == 2 and 0 <= value[0] < value[1]):
            raise ExportError(f"{where}: span must be [start, end] with 0 <= start < end")
        if kind == "term" and not str(value).strip():
            raise ExportError(f"{where}: term is empty")
        if kind == "span" and entry["item"] == "*":
            raise ExportError(f"{where}: a span needs one item, not \"*\"")
        out.append(Redaction(str(entry["item"]), kind, value, str(entry["basis"]).strip(),
                             str(entry.get("what") or "information not subject to disclosure")))
    return out


class Redactor:
    """Applies redactions to entries; collects the redaction log as it goes."""

    def __init__(self, redactions: list[Redaction]):
        self.redactions = redactions
        self.log: list[dict] = []
        self._used: set[tuple[int, str]] = set()

    def __bool__(self) -> bool:
        return bool(self.redactions)

    def _for(self, entry: Entry) -> list[tuple[int, Redaction]]:
        return [(n, r) for n, r in enumerate(self.redactions) if r.item in ("*", entry.id)]

    def secrets(self, entry: Entry) -> tuple[list[str], bool]:
        """(strings to delete from this item's copies, whether its media are withheld)."""
        strings, drop_media = [], False
        for n, r in self._for(entry):
            found = []
            if r.kind == "term":
                # Removed wherever it is; logged only where it occurs.
                strings.append(str(r.value))
                if any(re.search(re.escape(r.value), s or "", re.I) for s in _all_strings(entry)):
                    found = [str(r.value)]
            elif r.kind == "span":
                text = entry.text or ""
                if r.value[1] > len(text):
                    raise ExportError(f"redaction span {r.value} is past the end of item {entry.id}'s text "
                                      f"({len(text)} characters)")
                found = [text[r.value[0]:r.value[1]]]
            elif r.value == "media":
                drop_media = bool(entry.media)
            elif r.value == "text":
                found = [v.text for v in entry.versions if v.text] + [entry.text or ""]
            elif r.value == "author":
                found = [entry.author or "", entry.author_id or ""]
            elif r.value == "url":
                found = [entry.url or ""]
            found = [s for s in found if s.strip()]
            if found or (r.kind == "field" and r.value == "media" and drop_media):
                strings.extend(found)
                if (n, entry.id) not in self._used:
                    self._used.add((n, entry.id))
                    self.log.append({"item": entry.id, "platform_id": entry.platform_id, "what": r.what,
                                     "where": r.describe(), "basis": r.basis})
        # Longest first, so a span inside a term (or the reverse) leaves nothing behind.
        return sorted(set(strings), key=len, reverse=True), drop_media

    def entry(self, entry: Entry) -> Entry:
        secrets, drop_media = self.secrets(entry)
        if not secrets and not drop_media:
            return entry
        scrub = lambda s: redact_string(s, secrets)  # noqa: E731
        return entry.with_(
            author=scrub(entry.author), author_id=scrub(entry.author_id), text=scrub(entry.text),
            url=scrub(entry.url), platform_id=scrub(entry.platform_id),
            versions=[Version(v.n, scrub(v.text), redact_json(v.native, secrets), v.first_seen, v.last_seen,
                              v.record_id) for v in entry.versions],
            media=[] if drop_media else entry.media,
        )

    def thread(self, thread: Thread) -> Thread:
        if not self.redactions:
            return thread
        return Thread(thread.account, thread.root, thread.platform, [self.entry(e) for e in thread.entries])

    def unused(self) -> list[Redaction]:
        """Redactions that matched nothing: the officer should know before release."""
        used = {n for n, _ in self._used}
        return [r for n, r in enumerate(self.redactions) if n not in used]


def _all_strings(entry: Entry) -> list[str]:
    natives = []
    for v in entry.versions:
        try:  # compare decoded JSON, so a \u-escaped term is still found
            natives.append(json.dumps(json.loads(v.native), ensure_ascii=False) if v.native else None)
        except ValueError:
            natives.append(v.native)
    return [entry.text, entry.author, entry.url] + [v.text for v in entry.versions] + natives


def redact_string(value: str | None, secrets: list[str]) -> str | None:
    if value is None or not secrets:
        return value
    for secret in secrets:
        value = re.sub(re.escape(secret), MARK, value, flags=re.I)
    return value


def redact_json(native: str | None, secrets: list[str]) -> str | None:
    """Redact every string (keys and values) of a JSON text; non-JSON is redacted as text."""
    if native is None or not secrets:
        return native
    try:
        data = json.loads(native)
    except ValueError:
        return redact_string(native, secrets)

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return redact_string(v, secrets)
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {redact_string(k, secrets): walk(x) for k, x in v.items()}
        return v

    return json.dumps(walk(data), ensure_ascii=False)
