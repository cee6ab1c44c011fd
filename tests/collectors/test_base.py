"""Shared collector pieces (archiver.collectors.base): the version hash every platform uses."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict

from archiver.collectors.base import content_digest


def _standard(content) -> tuple[str, str]:
    """The version hash as it has always been taken: the standard encoder, sorted keys, compact,
    UTF-8 (surrogatepass bytes and ASCII-escaped text for a lone surrogate). Archives hold
    hashes taken this way; a different spelling would make every item look edited."""
    blob = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    try:
        return hashlib.sha256(blob.encode("utf-8")).hexdigest(), blob
    except UnicodeEncodeError:
        return (hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest(),
                json.dumps(content, sort_keys=True, ensure_ascii=True, separators=(",", ":")))


EVERY_CHARACTER = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)

CONTENTS = [
    {"message": "Thanks officers!", "attachment": []},
    {"message": None, "attachments": [{"type": "photo", "title": None, "sub": [{"type": "album", "sub": []}]}]},
    {"message": '<script>alert("x")</script> \\ \n\t\r\b\f \x00\x1f\x7f', "z": True, "a": False, "m": 0},
    {"message": "שלום 👩‍👩‍👧 \u200b\u2028\u2029\ufeff e\u0301", "é": 1, "\U0001f600": 2, "\uffff": 3, "\ue000": 4},
    {"message": EVERY_CHARACTER[:600000], "rest": EVERY_CHARACTER[600000:]},
    {"n": [2**63 - 1, -2**63, 2**64 - 1, 2**64, -2**63 - 1, 10**30]},  # beyond 64 bits: the long way
    {"f": [1e-05, 0.00001234, 1e16, 1.5e300, 0.1, -0.0, 3.0, 2.5e-7]},  # floats: the long way
    {"message": "lone \udc80 surrogate"},
    {"message": ("a", "tuple"), "sub": OrderedDict([("b", 1), ("a", 2)])},
    {1: "integer key", 2: "another"},
    {"message": "x" * 1_000_000},
]


def test_the_version_hash_is_the_standard_encoders_for_every_kind_of_content():
    for content in CONTENTS:
        assert content_digest(content) == _standard(content), repr(content)[:80]


def test_retry_after_reads_seconds_and_http_dates():
    from datetime import datetime, timezone

    from archiver.collectors.base import retry_after

    now = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
    assert retry_after("30", now) == 30.0
    assert retry_after("Fri, 20 Nov 2026 08:01:00 GMT", now) == 60.0
    assert retry_after("soon", now) is None and retry_after(None, now) is None


def test_a_failed_thread_whose_post_left_the_listing_is_not_retried_for_ever():
    from datetime import datetime, timezone

    from archiver.collectors.base import FAILED_THREADS, CollectContext, forget_unlisted

    since = datetime(2026, 11, 1, tzinfo=timezone.utc)
    ctx = CollectContext(account=None, http=None, now=since, since=since, checkpoint={FAILED_THREADS: {
        "gone": "2026-11-10T00:00:00+00:00", "listed": "2026-11-11T00:00:00+00:00",
        "older": "2026-10-01T00:00:00+00:00"}})
    forget_unlisted(ctx, {"listed"})
    assert set(ctx.checkpoint[FAILED_THREADS]) == {"listed", "older"}  # "older" was outside the window read
