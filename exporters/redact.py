"""Redaction of released copies (Wis. Stat. 19.36(6)): separate what may not be disclosed,
release the rest, and log what was withheld and why.

The redactions file (TOML) lists ``[[redaction]]`` entries, each naming an item (its archive
id, or ``*`` for every item) and exactly one of

* ``term = "..."``      – the words, wherever and however they are spelled;
* ``span = [a, b]``     – characters a..b (0-based, end exclusive) of the item's current text;
* ``field = "..."``     – ``text`` (every version, every text field of the natives: captions,
  alt text, link previews, ``note_tweet``), ``author`` (the person: name, handle, display
  name, profile URL, DID, numeric ids — and their mentions in every other item), ``url`` or
  ``media``;
* ``withhold = true``   – the whole item (privilege, an exempt record): not released; listed in
  the redaction log, and in a production's privilege log;

each with ``reason`` (the specific harm, or the balancing that outweighs disclosure),
``basis`` (the statute, case or common-law rule) and ``what`` (the kind of information, shown
in the logs and the letter — never the information itself). Section 19.36(6) is the duty to
separate, not a ground, so ``reason`` is required: an entry without one is refused.

Redaction applies to copies only; the archive (WARC files, index) is never changed. Every
redaction becomes a set of withheld *values*, gathered from the whole release before anything
is written (``Redactor.prepare``), and every value is removed from every string of every copy
in every spelling (``spellings.Spellings``), so the same information cannot survive in a field
or an item the officer did not name (the JSON native, the URL, an earlier version, a reply
that @-mentions the person). The exporters then search their finished output for the same
values (``releasecheck``).
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable

from ..errors import ExportError
from .inputs import read_toml
from .records import Entry, Thread, Version
from .spellings import MARK, Spellings, normalize, plain_text

FIELDS = ("text", "author", "url", "media")
KINDS = ("term", "span", "field", "withhold")
WITHHELD = "[WITHHELD: see the redaction log]"

# Keys of platform JSON that carry an item's own words (platforms.md): Graph ``message``/
# ``story``, Mastodon ``content``/``spoiler_text`` and media ``description`` (alt text),
# YouTube ``textDisplay``/``textOriginal``/``title``/``description``, X ``text`` and
# ``note_tweet``, Bluesky ``text`` and ``alt``, link-preview ``title``/``description``.
TEXT_KEYS = frozenset({"message", "story", "content", "spoiler_text", "description", "textDisplay",
                       "textOriginal", "title", "text", "note_tweet", "alt", "summary", "caption"})
# Keys of an author object that identify the person.
AUTHOR_KEYS = frozenset({"id", "name", "username", "acct", "display_name", "displayName", "handle", "did",
                         "url", "uri", "avatar", "avatar_static", "header", "header_static", "profile_image_url",
                         "authorDisplayName", "authorChannelUrl", "authorProfileImageUrl", "authorChannelId",
                         "value", "channelId", "channelTitle"})
# Where the platforms put the author of an item (Graph ``from``, Mastodon ``account``,
# Bluesky ``author``, X ``user`` in expansions); YouTube puts ``author*`` keys in ``snippet``.
AUTHOR_OBJECTS = ("from", "account", "author", "user")


@dataclass(frozen=True)
class Redaction:
    item: str
    kind: str  # term | span | field | withhold
    value: Any
    reason: str  # the specific harm or balancing
    basis: str  # statute, case or rule
    what: str

    def describe(self, *, own: bool = True) -> str:
        if self.kind == "withhold":
            return "whole item withheld"
        if not own:
            return "where it recurs in this item (mention, quotation or reference)"
        if self.kind == "field":
            return {"author": "author (name, handle, ids, profile address)",
                    "text": "whole text, every version"}.get(self.value, f"whole {self.value} field")
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
        kinds = [k for k in KINDS if k in entry]
        if len(kinds) != 1:
            raise ExportError(f"{where} must have exactly one of term, span, field or withhold")
        if not entry.get("item"):
            raise ExportError(f"{where} needs item (an archive id, or \"*\" for every item)")
        missing = [k for k in ("reason", "basis") if not str(entry.get(k, "")).strip()]
        if missing:
            raise ExportError(
                f"{where} is missing {' and '.join(missing)}: every redaction needs reason (the specific harm, "
                "or why it outweighs the public interest) and basis (the statute or case). s. 19.36(6) is "
                "the duty to separate, not a reason")
        kind = kinds[0]
        value = entry[kind]
        if kind == "field" and value not in FIELDS:
            raise ExportError(f"{where}: field must be one of {', '.join(FIELDS)}")
        if kind == "span" and not (isinstance(value, list) and len(value) == 2 and 0 <= value[0] < value[1]):
            raise ExportError(f"{where}: span must be [start, end] with 0 <= start < end")
        if kind == "term" and len(normalize(str(value)).replace(" ", "")) < 2:
            raise ExportError(f"{where}: term is empty or a single character")
        if kind in ("span", "withhold") and entry["item"] == "*":
            raise ExportError(f"{where}: a {kind} needs one item, not \"*\"")
        if kind == "withhold" and value is not True:
            raise ExportError(f"{where}: withhold must be true")
        out.append(Redaction(str(entry["item"]), kind, value, str(entry["reason"]).strip(),
                             str(entry["basis"]).strip(),
                             str(entry.get("what") or "information not subject to disclosure")))
    return out


class Redactor:
    """Applies redactions to entries; collects the redaction log as it goes.

    Call ``prepare`` with the release's threads first: an author or text withheld in one item
    is removed from every item of the release, so the values must be known before the first
    file is written."""

    def __init__(self, redactions: list[Redaction]):
        self.redactions = redactions
        self.log: list[dict] = []
        self.values: dict[int, set[str]] = {n: set() for n in range(len(redactions))}
        self.owners: dict[str, set[int]] = {}  # normalized value -> redactions withholding it
        self.spellings = Spellings(())
        self._targets: dict[str, set[int]] = {}  # item id -> field/withhold redactions naming it
        self._used: set[tuple[int, str]] = set()
        self._prepared = False

    def __bool__(self) -> bool:
        return bool(self.redactions)

    # -- before writing ---------------------------------------------------------------------
    def prepare(self, threads: Iterable[Thread]) -> None:
        for thread in threads:
            for entry in thread.entries:
                for n, r in self._for(entry):
                    self.values[n] |= {v for v in self._values(r, entry) if v and v.strip()}
        for n, r in enumerate(self.redactions):
            if r.kind == "term":
                self.values[n].add(str(r.value))
        for n, values in self.values.items():
            for v in list(values):
                if "<" in v or "&" in v:  # withheld HTML is also withheld as the words it shows
                    values.add(plain_text(v))
            for v in values:
                self.owners.setdefault(normalize(v), set()).add(n)
        self.spellings = Spellings(v for values in self.values.values() for v in values)
        self._prepared = True

    def _for(self, entry: Entry) -> list[tuple[int, Redaction]]:
        # "*" with field = "author" hides every private author: the agency's own accounts are
        # public officials speaking for the agency, and their name is on every page.
        return [(n, r) for n, r in enumerate(self.redactions) if r.item == entry.id or (
            r.item == "*" and not (r.kind == "field" and r.value == "author" and entry.is_department))]

    def _values(self, r: Redaction, entry: Entry) -> list[str]:
        if r.kind == "span":
            text = entry.text or ""
            if r.value[1] > len(text):
                raise ExportError(f"redaction span {r.value} is past the end of item {entry.id}'s text "
                                  f"({len(text)} characters)")
            return [text[r.value[0]:r.value[1]]]
        if r.kind == "withhold" or (r.kind == "field" and r.value == "text"):
            return text_values(entry)
        if r.kind == "field" and r.value == "author":
            return author_values(entry)
        if r.kind == "field" and r.value == "url":
            return [entry.url or ""]
        if r.kind == "field" and r.value == "media":
            return [m.url for m in entry.media if m.url]
        return []

    @property
    def withheld_values(self) -> Spellings:
        """Every withheld value in every spelling: what the release check searches for."""
        return self.spellings

    def label(self, form: str) -> str:
        """Which redaction withholds a value, for an error message (never the value itself)."""
        names = [f"#{n + 1} ({self.redactions[n].what})" for n in sorted(self.owners.get(form, ()))]
        return "the value withheld by redaction " + ", ".join(names or ["(unknown)"])

    # -- applying ---------------------------------------------------------------------------
    def withheld(self, entry: Entry) -> Redaction | None:
        return next((r for _, r in self._for(entry) if r.kind == "withhold"), None)

    def scrub(self, value: str | None) -> str | None:
        return self.spellings.redact(value)[0] if value else value

    def entry(self, entry: Entry) -> Entry:
        """The entry as released: the same object when nothing in it is withheld."""
        if not self._prepared:
            raise RuntimeError("Redactor.prepare must run before entries are redacted")
        own = {n: r for n, r in self._for(entry) if r.kind in ("field", "withhold", "span")}
        found: set[str] = set()

        def scrub(value):
            out, hit = self.spellings.redact(value)
            found.update(hit)
            return out

        whole_text = any(r.kind == "withhold" or r.value == "text" for r in own.values() if r.kind != "span")
        drop_media = any(r.kind == "withhold" or r.value == "media" for r in own.values() if r.kind != "span")
        versions = [Version(v.n, scrub(v.text), _redact_native(v.native, scrub, whole_text), v.first_seen,
                            v.last_seen, v.record_id) for v in entry.versions]
        changed = entry.with_(
            author=scrub(entry.author), author_id=scrub(entry.author_id), text=scrub(entry.text),
            url=scrub(entry.url), platform_id=scrub(entry.platform_id), parent=scrub(entry.parent),
            root=scrub(entry.root), versions=versions,
            media=[] if drop_media else [replace(m, url=scrub(m.url)) for m in entry.media])
        if any(r.kind == "withhold" for r in own.values()):
            changed = changed.with_(text=WITHHELD, versions=[], media=[], status="withheld")
        hits = {n for form in found for n in self.owners.get(form, ())}
        if drop_media and entry.media:
            hits |= {n for n, r in own.items() if r.kind == "withhold" or r.value == "media"}
        hits |= {n for n, r in own.items() if r.kind == "withhold"}
        if not hits and not found:
            return entry
        for n in sorted(hits):
            if (n, entry.id) not in self._used:
                self._used.add((n, entry.id))
                r = self.redactions[n]
                self.log.append({"item": entry.id, "platform": entry.platform, "kind": entry.kind,
                                 "what": r.what, "where": r.describe(own=n in own or r.kind == "term"),
                                 "reason": r.reason, "basis": r.basis})
        return changed

    def thread(self, thread: Thread) -> Thread:
        if not self.redactions:
            return thread
        return Thread(thread.account, self.scrub(thread.root), thread.platform, [self.entry(e) for e in thread.entries])

    def unused(self) -> list[Redaction]:
        """Redactions that matched nothing: the officer should know before release."""
        used = {n for n, _ in self._used}
        return [r for n, r in enumerate(self.redactions) if n not in used]


def text_values(entry: Entry) -> list[str]:
    """Every text an item carries: each version's text and the text fields of its natives."""
    values = [entry.text or ""] + [v.text or "" for v in entry.versions]
    for v in entry.versions:
        values += _strings_under(_parse(v.native), TEXT_KEYS)
    return values


def author_values(entry: Entry) -> list[str]:
    """Everything that names the author of an item, from the index row and every native."""
    values = [entry.author or "", entry.author_id or ""]
    for v in entry.versions:
        data = _parse(v.native)
        if not isinstance(data, dict):
            continue
        for key in AUTHOR_OBJECTS:
            obj = data.get(key)
            if isinstance(obj, dict):
                values += _strings_under(obj, AUTHOR_KEYS, everything=True)
            elif isinstance(obj, str) and key == "author":
                values.append(obj)
        for snippet in (data.get("snippet"), ((data.get("snippet") or {}).get("topLevelComment") or {}).get("snippet")):
            if isinstance(snippet, dict):
                values += [s for k, s in snippet.items() if k.startswith("author") and isinstance(s, str)]
                channel = snippet.get("authorChannelId")
                if isinstance(channel, dict) and isinstance(channel.get("value"), str):
                    values.append(channel["value"])
    # A Mastodon acct "name@server" is mentioned as "@name" on its own server; a YouTube
    # "@handle" is also the bare handle; "Dana Driver 🚗" is also "Dana Driver".
    values += [v.split("@")[0] for v in values if v.count("@") == 1 and not v.startswith(("http", "@"))]
    values += [v[1:] for v in values if v.startswith("@")]
    values += [" ".join("".join(c for c in v if unicodedata.category(c)[0] in "LNPZ").split()) for v in values]
    return [v for v in values if len(normalize(v)) >= 2]


def _parse(native: str | None) -> Any:
    try:
        return json.loads(native) if native else None
    except ValueError:
        return None


def _strings_under(data: Any, keys: frozenset[str], *, everything: bool = False) -> list[str]:
    """String values under the given keys (``everything``: the object's own keys only)."""
    out: list[str] = []
    if isinstance(data, dict):
        for k, v in data.items():
            if k in keys:
                if isinstance(v, str):
                    out.append(v)
                elif isinstance(v, (int,)) and not isinstance(v, bool) and everything:
                    out.append(str(v))
                elif isinstance(v, dict) and not everything:
                    out += [s for s in v.values() if isinstance(s, str)]
                elif isinstance(v, dict) and everything:
                    out += _strings_under(v, keys, everything=True)
            if not everything:
                out += _strings_under(v, keys)
    elif isinstance(data, list) and not everything:
        for v in data:
            out += _strings_under(v, keys)
    return out


def _redact_native(native: str | None, scrub, whole_text: bool) -> str | None:
    """Every string of a JSON text (keys and values) scrubbed; with ``whole_text`` every text
    field replaced by the mark. Non-JSON is scrubbed as text."""
    if native is None:
        return None
    data = _parse(native)
    if data is None and native.strip() != "null":
        return scrub(native)

    def walk(v: Any, key: str | None = None) -> Any:
        if isinstance(v, str):
            return MARK if whole_text and key in TEXT_KEYS and v else scrub(v)
        if isinstance(v, list):
            return [walk(x, key) for x in v]
        if isinstance(v, dict):
            if whole_text and key in TEXT_KEYS:  # note_tweet: {"text": ..., "entities": ...}
                return {scrub(k): walk(x, k if k in TEXT_KEYS else key) for k, x in v.items()}
            return {scrub(k): walk(x, k) for k, x in v.items()}
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            text = json.dumps(v)
            return MARK if scrub(text) != text else v  # a numeric author id
        return v

    redacted = walk(data)
    return native if redacted == data else json.dumps(redacted, ensure_ascii=False)


def redact_json(native: str | None, secrets: list[str]) -> str | None:
    """Redact every string (keys and values) of a JSON text; non-JSON is redacted as text."""
    spellings = Spellings(secrets)
    return _redact_native(native, lambda s: spellings.redact(s)[0], False)
