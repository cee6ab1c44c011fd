"""How a row of ``versions`` stores its hash and first sighting, and how readers get them back.

A lean index (issue 24): a version's hash is kept as the 32-byte sha256 digest (a BLOB), not
as its 64 hex characters. Capture, the WARC metadata and everything printed (show, exports,
manifests, certificates, tombstones) spell it as lowercase hex: readers select ``hash_hex``,
and a comparison with a hash capture computed turns that one into bytes (``digest``) rather
than every stored one into text.

A version's first sighting is NULL where it is the item's own (``items.first_seen``): the
version captured the first time the item was seen, which is nearly every version, the way its
text and last sighting are NULL for the latest version. Readers select ``first_seen``.
"""

from __future__ import annotations


def digest(hex_hash: str) -> bytes:
    """The stored form of a version hash as capture computes and the WARC metadata spells it
    (64 lowercase hex characters of a sha256)."""
    return bytes.fromhex(hex_hash)


def hash_hex(version: str = "v") -> str:
    """SQL of the lowercase hex hash of the ``versions`` row aliased ``version``."""
    return f"lower(hex({version}.hash))"


def first_seen(version: str = "v", item: str = "i") -> str:
    """SQL of the first sighting of the ``versions`` row aliased ``version``, whose item is the
    ``items`` row aliased ``item``."""
    return f"COALESCE({version}.first_seen, {item}.first_seen)"


def stored_first_seen(seen: str, item_first_seen: str | None) -> str | None:
    """What a version row stores for a version first seen at ``seen`` of an item first seen at
    ``item_first_seen``: NULL when they are the same."""
    return None if seen == item_first_seen else seen
