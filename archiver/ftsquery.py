"""What a person types in the search box, checked and turned into a safe FTS5 MATCH string.

The accepted syntax (docs/legal-staff.md):

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
A "word" of punctuation only (``&``, ``-``, ``–``) is skipped, not refused.

Word forms. The index stems English words (FTS5 ``porter`` over ``unicode61``, migration
``m_web_fts_porter``), so ``lawsuit`` finds "Lawsuits" and "lawsuit's". Text is indexed in
its NFKC form (``index_form``): full-width ``ｌａｗｓｕｉｔ`` and ligatures are found by the
plain word, and a hyphenated word ("law-suit") is indexed written together as well. A
hyphenated word typed (``law-suit``) finds both "law-suit"/"law suit" and "lawsuit".

Words typed without ``author:`` search the text only, never author names (the author is its
own filter). Quotes mean *exactly these words*: FTS5 stems both sides, so ``"lawsuit"`` would
also find "lawsuits"; when every quoted phrase is required (no OR or NOT in the query), each
item is checked afterwards for the phrase itself (``exact_phrase``, whole words, any case).
Inside OR/NOT a quoted phrase matches its word forms.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from .errors import QueryError

OPERATORS = ("AND", "OR", "NOT")
# What people type before a colon -> the FTS5 column (the text column is the generated
# ``items.fts_text``: the collector's search text, else the text).
COLUMNS = {"text": "fts_text", "author": "author"}
TEXT_COLUMN = "fts_text"
EXACT_FUNCTION = "archiver_exact_phrase"
# Starts the line of joined hyphenated words in the indexed text (U+2063, invisible separator).
JOINED_LINE = "\n\u2063"
_HYPHENS = "-\u2010\u2011\u2012\u2013\u2014\u2212"
# Starts at a word's first letter only: from every letter inside a long word the search would
# read to the word's end again (quadratic; 14 % of reindex in bench_ops).
_HYPHENATED = re.compile(f"(?<![^\\W\\d_])[^\\W\\d_]+(?:[{_HYPHENS}][^\\W\\d_]+)+")
_ANY_HYPHEN = re.compile(f"[{_HYPHENS}]")
MAX_TERMS = 64
_TOKEN = re.compile(r'\s*(?:(?P<phrase>"[^"]*"?\*?)|(?P<paren>[()])|(?P<word>[^\s()"]+))', re.S)


@dataclass(frozen=True)
class Token:
    kind: str   # term|op|open|close
    value: str  # FTS5 text for term, the operator, or the bracket
    phrase: str | None = None  # a quoted phrase's words, for the exact check


@dataclass(frozen=True)
class Parsed:
    match: str | None                                   # the FTS5 MATCH expression
    exact: list[str] = field(default_factory=list)      # phrases each item must contain as typed


def fold(text: str) -> str:
    """The NFKC form: full-width letters, ligatures and other compatibility forms as plain ones."""
    return unicodedata.normalize("NFKC", text)


def index_form(text: str | None, search_text: str | None = None) -> str | None:
    """What ``items.search_text`` holds for an item: the text search indexes (the collector's
    ``search_text``, else ``text``) in NFKC form, plus a last line with its hyphenated words
    written together ("law-suit" -> "lawsuit") after ``JOINED_LINE``. None when that is just ``text`` itself."""
    base = search_text if search_text is not None else text
    if base is None:
        return None
    out = fold(base)
    # Most texts have no hyphen: one scan for any says so at a fortieth of the word search's cost.
    joined = [_ANY_HYPHEN.sub("", w) for w in _HYPHENATED.findall(out)] if _ANY_HYPHEN.search(out) else []
    if joined:
        out += JOINED_LINE + " ".join(joined)
    return out if out != text or search_text is not None else None


def exact_phrase(text: str | None, phrase: str) -> int:
    """1 when ``phrase`` occurs in ``text`` as whole words, in any case (SQL function
    ``archiver_exact_phrase``: the check after FTS5 found the word forms)."""
    if not text:
        return 0
    text = text.split(JOINED_LINE, 1)[0]  # the words as written, not their joined forms
    words = re.findall(r"[^\W_]+", fold(phrase).casefold())
    if not words:
        return 0
    pattern = r"(?<![^\W_])" + r"[\W_]+".join(map(re.escape, words)) + r"(?![^\W_])"
    return int(re.search(pattern, fold(text).casefold()) is not None)


def register_functions(conn) -> None:
    """The SQL functions search needs on a connection (``archiver.index.open_index``)."""
    conn.create_function(EXACT_FUNCTION, 2, exact_phrase, deterministic=True)


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _term(raw: str, column: str | None) -> Token | None:
    """The term for a word or phrase; None for a word of punctuation only (skipped)."""
    prefix = raw.endswith("*")
    body = raw[:-1] if prefix else raw
    quoted = body.startswith('"')
    if quoted:
        if len(body) < 2 or not body.endswith('"'):
            raise QueryError(f"the phrase {raw} has no closing double quote")
        body = body[1:-1]
    if not re.search(r"[^\W_]", body):
        if quoted or column:
            raise QueryError(f"{raw!r} has no letters or digits to search for")
        return None  # "&", "-", "–": nothing to find, nothing to refuse
    col = COLUMNS[column] if column else TEXT_COLUMN
    fts = f"{col} : {_quote(body)}" + ("*" if prefix else "")
    if not quoted and not prefix and col == TEXT_COLUMN and _HYPHENATED.fullmatch(body):
        # law-suit: as written ("law suit", "law-suit") or written together ("lawsuit")
        fts = f"({fts} OR {col} : {_quote(re.sub(f'[{_HYPHENS}]', '', body))})"
    return Token("term", fts, body if quoted and not prefix and col == TEXT_COLUMN else None)


def tokens(text: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    text = fold(text).strip()
    if "\0" in text:
        raise QueryError("the query contains a NUL character; type the words again")
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
                term = _term(word, None)
                if term is not None:
                    out.append(term)
    if len([t for t in out if t.kind == "term"]) > MAX_TERMS:
        raise QueryError(f"the query has more than {MAX_TERMS} words; narrow it down")
    return out


def to_fts(text: str) -> str | None:
    """The FTS5 MATCH expression for ``text``; None when there is nothing to search for."""
    return parse(text).match


def parse(text: str | None) -> Parsed:
    """The MATCH expression and the phrases to check exactly (see the module docstring)."""
    toks = tokens(text or "")
    if not toks:
        if text and text.strip():
            raise QueryError(f"{text.strip()!r} has no letters or digits to search for")
        return Parsed(None)
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
    required = not any(t.kind == "op" and t.value in ("OR", "NOT") for t in toks)
    exact = [t.phrase for t in toks if t.phrase] if required else []
    return Parsed(" ".join(parts), exact)
