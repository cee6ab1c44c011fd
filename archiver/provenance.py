"""Which API response an item was read from.

Every item's metadata names the response record it was parsed from: that record is the
evidence an export points at (custody report, WARCRECID) and what ``items.record_id``
records as the item's latest sighting. "The last API response fetched" is not that record:
collectors walk nested listings lazily (a post listing page stays open while each post's
comment pages are fetched; Instagram fetches a comment's extra reply pages before the next
comment of the same page), so the items of an outer page are observed after inner pages
were fetched.

Rather than have every collector thread record ids through its parsing, the Fetcher hands
each parsed JSON body to ``Provenance.parsed``, which registers every dict in it by identity.
An item's ``native`` is one of those dicts (collectors keep the platform's own object), so
``source_of(item.native)`` finds its response. Identity is sound because a registered object
is kept alive by this registry, so its id cannot be reused by another object while the entry
exists; entries whose object nobody else references any more are pruned, which bounds memory
by what the collector itself still holds (the open pages of the walk), not by the run.
"""

from __future__ import annotations

import sys
from typing import Any

# An entry is (record id, URL, the object); the tuple's reference and getrefcount's own
# argument are the only ones left when the collector has let go of the object.
_ONLY_OURS = 2
PRUNE_EVERY = 32


class Provenance:
    def __init__(self) -> None:
        self._by_id: dict[int, tuple[str, str, Any]] = {}
        self._since_prune = 0

    def parsed(self, record_id: str | None, url: str, body: Any) -> None:
        """Register every dict of a parsed API body as coming from ``record_id``."""
        if record_id is None:
            return
        self._prune()
        by_id = self._by_id
        stack = [body]
        pop, push = stack.pop, stack.append
        while stack:
            node = pop()
            # json.loads makes exact dicts and lists; nothing else can hold an item.
            if type(node) is dict:
                by_id[id(node)] = (record_id, url, node)
                for value in node.values():
                    if type(value) is dict or type(value) is list:
                        push(value)
            else:
                for value in node:
                    if type(value) is dict or type(value) is list:
                        push(value)

    def source_of(self, obj: Any) -> tuple[str, str] | None:
        """(record id, URL) of the response ``obj`` was parsed from, or None if unknown."""
        entry = self._by_id.get(id(obj))
        if entry is None or entry[2] is not obj:
            return None
        return entry[0], entry[1]

    def _prune(self) -> None:
        # Every few bodies, one pass in registration order: ``parsed`` registers a container
        # before what it holds, so dropping a dead body's entry frees the body at once and its
        # children are found dead further on in the same pass.
        self._since_prune += 1
        if self._since_prune < PRUNE_EVERY:
            return
        self._since_prune = 0
        by_id = self._by_id
        for key in list(by_id):
            if sys.getrefcount(by_id[key][2]) <= _ONLY_OURS:
                del by_id[key]
