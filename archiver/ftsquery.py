"""What a person types in the search box, checked and turned into a safe FTS5 MATCH string.

The accepted syntax (docs/readme/search.md):

    drexel town square        all three words, anywhere (implicit AND)
    "town square"             the exact phrase
    shoot*                    a prefix: shoot, shooting, shooter ...
    fire OR smoke             either word;  fire AND smoke  both (AND is the default)
    incident NOT drill        the first without the second
    (fire OR smoke) AND "main street"    parentheses group
    author:smith              a word in the author name only (``text:`` for the text only)

Operators are written in capitals, as in FTS5; lower-case "and"/"or"/"not" are ordinary words.
Every word and phrase is re-quoted before it reaches SQLite, so punctuation in what people
type (``don't``, ``3-car``, ``#tag``, ``@user``, ``C++``) can never become FTS5 syntax, and a
query that does not parse raises ``QueryError`` saying what is wrong — never an SQL error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import QueryError

OPERATORS = ("AND", "OR", "NOT")
COLUMNS = ("text", "author")
MAX_TERMS = 64
_TOKEN = re.compile(r'\s*(?:(?P<phrase>"[^"]*"?\*?)|(?P<paren>[()])|(?P<word>[^\s()"]+))', re.S)


@dataclass(frozen=True)
class Token:
    kind: str   # term|op|open|close
    value: str  # FTS5 text for term, the operator, or the bracket


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _term(raw: str, column: str | None) -> Token:
    prefix = raw.endswith("*")
    body = raw[:-1] if prefix else raw
    if body.startswith('"'):
        if len(body) < 2 or not body.endswith('"'):
            raise QueryError(f"the phrase {raw} has no closing double quote")
        body = body[1:-1]
    if not re.search(r"\w", body):
        raise QueryError(f"{raw!r} has no letters or digits to search for")
    fts = _quote(body) + ("*" if prefix else "")
    return Token("term", f"{column} : {fts}" if column else fts)


def tokens(text: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        if m.group("paren"):
            out.append(Token("open" if m.group("paren") == "(" else "close", m.group("paren")))
        elif m.group("phrase"):
            out.append(_term(m.group("phrase"), None))
        else:
            word = m.group("word")
            column, colon, rest = word.partition(":")
            if colon and column.lower() in COLUMNS:
                if not rest:  # author:"john smith" — the phrase follows the colon directly
                    m2 = _TOKEN.match(text, pos)
                    if not (m2 and m2.group("phrase") and text[pos:pos + 1] == '"'):
                        raise QueryError(f'{word} needs a word or a "phrase" right after it')
                    rest, pos = m2.group("phrase"), m2.end()
                out.append(_term(rest, column.lower()))
            elif word in OPERATORS:
                out.append(Token("op", word))
            else:
                out.append(_term(word, None))
    if len([t for t in out if t.kind == "term"]) > MAX_TERMS:
        raise QueryError(f"the query has more than {MAX_TERMS} words; narrow it down")
    return out


def to_fts(text: str) -> str | None:
    """The FTS5 MATCH expression for ``text``; None when there is nothing to search for."""
    toks = tokens(text or "")
    if not toks:
        return None
    parts: list[str] = []
    depth = 0
    prev: Token | None = None
    for tok in toks:
        if tok.kind == "op":
            if prev is None or prev.kind in ("op", "open"):
                where = "at the start" if prev is None else f"after {prev.value}"
                raise QueryError(f"{tok.value} {where} needs a word before it (e.g. incident {tok.value} drill)")
        elif tok.kind == "close":
            if depth == 0:
                raise QueryError("there is a ) without a matching (")
            if prev is not None and prev.kind == "open":
                raise QueryError("() is empty: put words between the brackets")
            if prev is not None and prev.kind == "op":
                raise QueryError(f"{prev.value} needs a word after it, before the )")
            depth -= 1
        else:
            if tok.kind == "open":
                depth += 1
            if prev is not None and prev.kind in ("term", "close"):
                parts.append("AND")  # adjacent words: all of them (FTS5's implicit AND)
        parts.append(tok.value)
        prev = tok
    if prev.kind == "op":
        raise QueryError(f"the query ends with {prev.value}; add a word after it")
    if depth:
        raise QueryError("there is a ( without a matching )")
    return " ".join(parts)
