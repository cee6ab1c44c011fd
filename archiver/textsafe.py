"""Hostile text that UTF-8 files and SQLite can hold.

JSON from a platform may carry lone UTF-16 surrogates (``"\\ud83d"`` without its pair),
which Python keeps in ``str`` but which cannot be encoded as UTF-8. The WARC response keeps
the exact bytes the platform sent (the source of truth); derived copies use these helpers:
JSON falls back to ASCII escapes (lossless), plain index columns get U+FFFD (lossy, for
display and search only).

Derived JSON is written by orjson (capture writes a few texts per item, and orjson takes a
fifth of the time of the standard encoder). Whatever orjson would not write exactly as the
standard library does -- a lone surrogate, an integer beyond 64 bits, a non-string key, a
NaN or infinity -- makes it refuse, and the standard encoder writes that value instead, so
nothing is lost or changed: the two differ only in how a float is spelled. (orjson would
write a plain ``float("nan")`` as ``null`` without refusing: platform bodies are therefore
parsed with ``loads``, which gives NaN and the infinities a type of their own.)
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# Built once: ``json.dumps`` with options builds a new encoder per call.
_UTF8 = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)
_ASCII = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), default=str)
# Dates and dataclasses go to ``_as_stdlib`` (``str``), as the standard encoder's default=str does.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class NonFinite(float):
    """NaN or an infinity read from a platform body. Not JSON, but the standard parser accepts
    them (``loads``); kept as this type so that they are written back as they came: orjson
    would write ``null``."""


# A digit becomes 0, a byte a JSON number can follow (":,[-" and whitespace) 2, any other 1:
# "2" and 19 "0"s is a number of 19 digits or more. Digits inside strings (ids, hashes) follow
# a letter, a quote or "_" and are left alone; a string holding ", 1234567890123456789" is
# only a needless trip to the standard parser.
_NUMBER_MAP = bytes(0 if 0x30 <= b <= 0x39 else 2 if b in b":,[- \t\r\n" else 1 for b in range(256))
_LONG_NUMBER = b"\x02" + bytes(19)


def _long_number(mapped: bytes) -> bool:
    return _LONG_NUMBER in mapped or mapped.startswith(_LONG_NUMBER[1:])  # a body that is one number


def loads(data: str | bytes) -> Any:
    """A platform body (or our own metadata) parsed as the standard library parses it, with NaN,
    ``Infinity`` and overflowing numbers (``1e999``) kept as ``NonFinite``.

    orjson parses in under half the time and gives the same values wherever it accepts the
    input (floats included: both round correctly); where it differs it refuses (NaN,
    infinities, lone surrogates, a byte-order mark, deep nesting) and the standard parser
    decides -- except for an integer beyond 64 bits, which orjson silently turns into a float.
    A number of 19 digits or more (an integer that might not fit) therefore goes to the
    standard parser too. The look and orjson's parse together take about 60 % of the standard
    parser's time on capture's metadata."""
    if isinstance(data, bytes) and not _long_number(data.translate(_NUMBER_MAP)):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(data, parse_constant=NonFinite, parse_float=_float)
    except UnicodeDecodeError:
        # Bytes that are not UTF-8 inside one string (one comment's broken text) must not cost
        # the whole page: each stray byte becomes a lone surrogate (``surrogateescape``), which
        # the derived copies already handle (a ``\u`` escape in JSON, U+FFFD in the index). The
        # WARC response keeps the bytes as sent.
        return json.loads(data.decode("utf-8", "surrogateescape"), parse_constant=NonFinite, parse_float=_float)


def _float(text: str) -> float:
    value = float(text)
    return value if value - value == 0 else NonFinite(value)  # x - x is NaN for NaN and infinities


def _as_stdlib(value: Any) -> Any:
    """orjson's ``default``: what the standard encoder would make of a value orjson does not
    know (a tuple subclass such as ``time.struct_time`` is a list there; the rest is ``str``)."""
    if isinstance(value, float):  # NonFinite: refuse, so that the standard encoder writes it
        raise TypeError("not finite")
    if isinstance(value, tuple):
        return list(value)
    return str(value)


def json_bytes(value: Any) -> bytes:
    """Compact JSON as UTF-8 bytes, ``\\u`` escapes where a lone surrogate forbids UTF-8."""
    try:
        return orjson.dumps(value, default=_as_stdlib, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError included
        return _stdlib(value).encode("utf-8")


def json_text(value: Any) -> str:
    """Compact JSON, UTF-8 where possible, ``\\u`` escapes when a lone surrogate forbids it."""
    return json_bytes(value).decode("utf-8")


def _stdlib(value: Any) -> str:
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
    if value.isascii():  # a flag CPython keeps on every string: no encoding needed to know
        return value
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in value)
