"""Find a piece of information in every spelling it takes, and cut it out of the raw text.

A redaction withholds *information* (Wis. Stat. 19.36(6) requires separating it from what
is released), but archived text spells the same information many ways: Mastodon ``content``
and YouTube ``textDisplay`` are HTML (``alert(&#x27;xss&#x27;)``, ``@<span>driver27</span>``),
URLs carry it percent-encoded, JSON text ``\\u``-escaped, and a commenter may hide it behind
zero-width characters or full-width letters. So a string is searched in two decoded views:

* *literal*: HTML entities, percent-escapes and JSON escapes decoded, markup kept as text, so
  a value inside an attribute (``href="https://m.example/@driver27"``) is found;
* *text*: the same, with markup removed (block elements become a space), so a value split
  by tags (``alert(<b>'xss'</b>)``) is found.

Both views are folded the same way as the secrets: Unicode compatibility forms, accents and
case ignored, zero-width characters dropped, runs of white space equal. A secret that is a
number written with separators (a telephone, social security, case or licence number) is
found however it is grouped: ``608-555-0142`` also as ``(608) 555-0142``, ``608.555.0142``,
``6085550142`` or ``+1 608 555 0142``. Every view character
remembers the raw characters it came from, so a match removes exactly those raw characters
(markup inside a match is kept, so the HTML stays well formed).
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Iterable
from urllib.parse import unquote

MARK = "[REDACTED]"

# Characters that change nothing a reader sees: zero-width space/joiners, word joiner, BOM,
# soft hyphen, and NUL (some PDF text extraction interleaves it).
IGNORABLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f\x00")
BLOCK_TAGS = frozenset("p br div li ul ol tr td th h1 h2 h3 h4 h5 h6 blockquote pre hr section article".split())

_ESCAPES = r"""
    (?P<ent>&(?:\#[0-9]{1,7}|\#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?)
  | (?P<pct>(?:%[0-9A-Fa-f]{2})+)
  | (?P<uni>\\u[0-9a-fA-F]{4})
  | (?P<esc>\\[/\\"'])
"""
_TOKEN = re.compile(r"(?P<tag></?[A-Za-z][^<>]*>|<!--.*?-->)|" + _ESCAPES, re.X | re.S)
_LITERAL = re.compile(_ESCAPES, re.X | re.S)  # markup is text: entities in attributes are decoded too
_TAG_NAME = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)")
_SPECIAL = re.compile(r"[&%<\\]")


def _fold(char: str) -> str:
    """One character as the comparison sees it (may be empty or several characters)."""
    if char in IGNORABLE:
        return ""
    if char.isspace():
        return " "
    if char.isascii():
        return char.lower()
    out = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return "".join(" " if c.isspace() else c for c in out.lower() if c not in IGNORABLE)


def normalize(text: str) -> str:
    """A secret as it is compared: decoded like the literal view (so a withheld HTML or URL
    value matches itself), folded, white space collapsed and trimmed."""
    return " ".join(_View(text, markup=False).text.split())


def _decode(token: re.Match) -> str:
    kind, raw = token.lastgroup, token.group(0)
    if kind == "ent":
        return html.unescape(raw)
    if kind == "pct":
        return unquote(raw, errors="replace")
    if kind == "uni":
        return chr(int(raw[2:], 16))
    return raw[1]  # esc


class _View:
    """A folded view of a raw string: ``text[i]`` came from raw characters ``start[i]:end[i]``."""

    def __init__(self, raw: str, *, markup: bool):
        self.markup = markup
        chars: list[str] = []
        self.start: list[int] = []
        self.end: list[int] = []
        self.tags: list[tuple[int, int]] = []  # raw spans of markup (text view only)
        pos = 0

        def emit(text: str, a: int, b: int) -> None:
            for c in text:
                for f in _fold(c):
                    if f == " " and chars and chars[-1] == " ":
                        continue  # runs of white space compare equal to one space
                    chars.append(f)
                    self.start.append(a)
                    self.end.append(b)

        def plain(a: int, b: int) -> None:
            run = raw[a:b]
            if run.isascii() and "\x00" not in run and not any(c.isspace() for c in run):
                chars.extend(run.lower())
                self.start.extend(range(a, b))
                self.end.extend(range(a + 1, b + 1))
            else:
                for i in range(a, b):
                    emit(raw[i], i, i + 1)

        for token in (_TOKEN if markup else _LITERAL).finditer(raw):
            plain(pos, token.start())
            if token.lastgroup == "tag":
                self.tags.append(token.span())
                name = _TAG_NAME.match(token.group(0))
                if name and name.group(1).lower() in BLOCK_TAGS:
                    emit(" ", *token.span())
            else:
                emit(_decode(token), *token.span())
            pos = token.end()
        plain(pos, len(raw))
        self.text = "".join(chars)


class Spellings:
    """Finds any of a set of secrets in any spelling, and removes them from raw text."""

    def __init__(self, secrets: Iterable[str]):
        forms: dict[str, str] = {}
        for secret in secrets:
            norm = normalize(secret or "")
            if len(norm.replace(" ", "")) >= 2:
                forms.setdefault(norm, secret)
        self.forms = forms
        # a number's digits -> its form, to name the secret a differently grouped match is
        self.numbers = {_digits(f): f for f in forms if _is_number(f)}
        self.pattern = re.compile("|".join(_piece(f) for f in sorted(forms, key=len, reverse=True))) if forms else None

    def _form(self, matched: str) -> str:
        """The normalized secret a match is a spelling of."""
        form = " ".join(matched.split())
        if form in self.forms:
            return form
        digits = _digits(form)
        return self.numbers.get(digits) or self.numbers.get(digits[1:] if digits[:1] == "1" else "", form)

    def __bool__(self) -> bool:
        return self.pattern is not None

    def _views(self, raw: str) -> list[_View]:
        views = [_View(raw, markup=False)]
        if _SPECIAL.search(raw):
            views.append(_View(raw, markup=True))
        return views

    def find(self, raw: str | None) -> list[tuple[int, int, str]]:
        """(raw start, raw end, normalized secret) of every match, in either view."""
        if not raw or self.pattern is None:
            return []
        return [(view.start[m.start()], view.end[m.end() - 1], self._form(m.group(0)))
                for view in self._views(raw) for m in self.pattern.finditer(view.text)]

    def redact(self, raw: str | None) -> tuple[str | None, set[str]]:
        """The raw text with every match replaced by MARK, and the normalized secrets found.
        Markup inside a text-view match is kept (the HTML stays whole); a literal-view match
        (say, inside an ``href``) is cut wherever it is."""
        if not raw or self.pattern is None:
            return raw, set()
        n = len(raw)
        cut, in_tag = bytearray(n), bytearray(n)
        found: set[str] = set()
        for view in self._views(raw):
            for a, b in view.tags:
                in_tag[a:b] = b"\x01" * (b - a)
            for m in self.pattern.finditer(view.text):
                a, b = view.start[m.start()], view.end[m.end() - 1]
                bit = 2 if view.markup else 1
                for i in range(a, b):
                    cut[i] |= bit
                found.add(self._form(m.group(0)))
        if not found:
            return raw, found
        out, i = [], 0
        while i < n:
            removed = _removed(cut[i], in_tag[i])
            j = i
            while j < n and _removed(cut[j], in_tag[j]) == removed:
                j += 1
            out.append(MARK if removed else raw[i:j])
            i = j
        return _merge_marks("".join(out)), found


def _removed(cut: int, in_tag: int) -> bool:
    return bool(cut & 1) or bool(cut & 2 and not in_tag)


_MARKS = re.compile(re.escape(MARK) + r"((?:<[^<>]*>)*)" + re.escape(MARK))


def _merge_marks(text: str) -> str:
    """``[REDACTED]<b>[REDACTED]`` (one match across markup) reads as one redaction."""
    while True:
        merged = _MARKS.sub(lambda m: MARK + m.group(1), text)
        if merged == text:
            return text
        text = merged


# Separators people group a number's digits with: space, brackets, dot, slash, hyphens and
# dashes (U+2010..U+2015), at most three between two digits ("608) - 555").
_NUMBER_SEPARATORS = r"[ ().\\/\-\u2010-\u2015]{0,3}"
_NUMBER = re.compile(r"[0-9][0-9 ().\/\-\u2010-\u2015+]*[0-9]")
MIN_NUMBER_DIGITS = 7  # a shorter run of digits (a year, a badge number) is matched as written


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _is_number(form: str) -> bool:
    """A secret that is a number with separators (telephone, SSN, case number): only digits
    and separators, and enough digits that grouping it differently cannot hit a stranger."""
    return bool(_NUMBER.fullmatch(form.lstrip("+"))) and len(_digits(form)) >= MIN_NUMBER_DIGITS


def _piece(form: str) -> str:
    """Regex for one normalized secret: white space matches a run, and a secret that starts
    or ends with a letter or digit only matches at a word boundary (``Ann`` is not in
    ``Annual``; ``driver27`` is in ``@driver27``). A number matches with any grouping of its
    digits, but not inside a longer run of digits."""
    if _is_number(form):
        digits = _digits(form)
        # a ten-digit (North American) number may carry its country code 1 with no separator
        country = f"(?:1{_NUMBER_SEPARATORS})?" if len(digits) == 10 else ""
        return r"(?<!\d)" + country + _NUMBER_SEPARATORS.join(digits) + r"(?!\d)"
    body = " +".join(re.escape(part) for part in form.split(" "))
    before = r"(?<!\w)" if re.match(r"\w", form) else ""
    after = r"(?!\w)" if re.search(r"\w$", form) else ""
    return before + body + after


def plain_text(raw: str | None) -> str:
    """The text a reader sees in a raw HTML-ish string (entities decoded, markup removed),
    for use as a secret: a whole withheld HTML text is then found in a rendered PDF too."""
    return _View(raw or "", markup=True).text
