"""Derived JSON (archiver/textsafe.py): orjson writes it, and where orjson would not write a
value exactly as the standard library does, the standard encoder does -- nothing is lost."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from archiver.textsafe import NonFinite, json_bytes, json_text, loads

STDLIB = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)

HOSTILE = [
    {"message": "<script>alert(1)</script>", "rtl": "\u202eevil\u202c שלום", "zwj": "👩\u200d👩\u200d👧",
     "zw": "a\u200bb", "ctl": "\x00\x1f\x7f\u2028\u2029", "quote": '"\\/'},
    {"big": 2 ** 70, "neg": -(2 ** 64), "n": 0, "t": True, "f": False, "none": None},
    {"nested": [[{"a": [1, 2, {"b": "c" * 100_000}]}]]},
    {1: "int key", None: "null key"},
    ["a\ud83d", {"lone": "\udc00"}],
]


@pytest.mark.parametrize("value", HOSTILE)
def test_the_same_data_as_the_standard_encoder(value):
    text = json_text(value)
    assert json.loads(text) == json.loads(STDLIB.encode(value))
    assert json_bytes(value) == text.encode("utf-8")  # always UTF-8: surrogates go out as \u escapes


def test_plain_values_are_written_exactly_as_the_standard_encoder_writes_them():
    value = HOSTILE[0] | {"counts": {"likes": 3}, "list": [None, True, "x"]}
    assert json_text(value) == STDLIB.encode(value)


def test_lone_surrogates_and_big_integers_round_trip_exactly():
    body = '{"id": 123456789012345678901234567890, "text": "\\ud83d alone"}'
    parsed = loads(body)
    assert loads(json_text(parsed)) == parsed
    assert "123456789012345678901234567890" in json_text(parsed)


def test_nan_and_infinities_from_a_body_are_written_back_not_turned_into_null():
    parsed = loads('{"a": NaN, "b": Infinity, "c": -Infinity, "d": 1e999, "e": 1.5}')
    assert all(isinstance(parsed[k], NonFinite) for k in "abcd") and type(parsed["e"]) is float
    text = json_text(parsed)
    assert text == '{"a":NaN,"b":Infinity,"c":-Infinity,"d":Infinity,"e":1.5}'
    assert json_bytes(parsed) == text.encode()


def test_values_json_does_not_know_are_written_as_the_standard_default_str_writes_them():
    @dataclass
    class Point:
        x: int

    when = datetime(2024, 3, 31, 22, 30, tzinfo=timezone.utc)
    parsed = time.strptime("2024-03-31", "%Y-%m-%d")  # a tuple subclass (feedparser's dates)
    value = {"when": when, "point": Point(1), "struct": parsed}
    assert json.loads(json_text(value)) == json.loads(STDLIB.encode(value))


def _typed(value):
    """A value with every number's type spelled out: 1 and 1.0 and a NonFinite differ."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, repr(value))


BODIES = [
    b'{"ids": [9223372036854775807, 9223372036854775808, 18446744073709551615, 18446744073709551616,'
    b' -9223372036854775808, -9223372036854775809, 123456789012345678901234567890]}',
    b'{"id": "1234567890123456789012", "n": 12345678901234567, "f": [0.1, -0.0, 1e-320, 1e308, 2.5E3]}',
    b'{"a": NaN, "b": -Infinity, "c": 1e999, "d": 1.5}',
    b'{"lone": "\\ud83d alone", "pair": "\\ud83d\\ude00", "raw": "\xed\xa0\x80"}',
    b'\xef\xbb\xbf{"bom": true}',
    b'12345678901234567890', b' -12345678901234567890', b'[1,\n-99999999999999999999]',
    b'{"hash": "a1234567890123456789012345b", "x": 1.12345678901234567890123}',
    b'{"message": "<script>alert(1)</script> \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d'
    b' \xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7", "dup": 1, "dup": [2], "nul": "\\u0000"}',
]


@pytest.mark.parametrize("body", BODIES)
def test_bytes_are_parsed_exactly_as_the_standard_parser_parses_them(body):
    # Bytes take orjson's path; where orjson would differ (an integer beyond 64 bits becomes a
    # float there) or refuses, the standard parser answers. Same values, same number types.
    expected = json.loads(body, parse_constant=NonFinite,
                          parse_float=lambda t: float(t) if float(t) - float(t) == 0 else NonFinite(t))
    assert _typed(loads(body)) == _typed(expected)
    assert _typed(loads(body)) == _typed(loads(body.decode("utf-8-sig", "surrogatepass")))


@pytest.mark.parametrize("body", [b'{"a": 1', b'{"a": 1}}', b'[1,]', b'"a\x01b"', b'\xff'])
def test_malformed_bytes_are_refused_as_the_standard_parser_refuses_them(body):
    with pytest.raises(ValueError):
        loads(body)
