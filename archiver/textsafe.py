"""Hostile text that UTF-8 files and SQLite can hold.

JSON from a platform may carry lone UTF-16 surrogates (``"\\ud83d"`` without its pair),
which Python keeps in ``str`` but which cannot be encoded as UTF-8. The WARC response keeps
the exact bytes the platform sent (the source of truth); derived copies use these helpers:
JSON falls back to ASCII escapes (lossless), plain index columns get U+FFFD (lossy, for
display and search only).
"""

from __future__ import annotations

import json
from typing import Any


# Built once: ``json.dumps`` with options builds a new encoder per call, and capture encodes
# a few JSON texts per item.
_UTF8 = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)
_ASCII = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), default=str)


def json_text(value: Any) -> str:
    """Compact JSON, UTF-8 where possible, ``\\u`` escapes when a lone surrogate forbids it."""
    text = _UTF8.encode(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _ASCII.encode(value)
    return text


def db_text(value: Any) -> Any:
    """A string SQLite can store: lone surrogates become U+FFFD; other values pass through."""
    if not isinstance(value, str):
        return value
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in value)
