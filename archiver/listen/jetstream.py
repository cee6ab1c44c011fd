"""Bluesky's Jetstream: the public firehose of posts as JSON over a WebSocket.

``{endpoint}?wantedCollections=app.bsky.feed.post[&cursor=<time_us>]`` sends one JSON object
per repository event: ``{"did", "time_us", "kind": "commit", "commit": {"operation":
"create"|"update"|"delete", "collection", "rkey", "record", "cid"}}``. The stream carries every
post on the network; the client keeps only

- a reply whose ``record.reply.root.uri`` is one of the department's posts (a new comment),
- a new post by the department itself (its thread starts now),
- a deletion of a record the archive knows (a comment in one of the department's threads).

Each becomes a delivery naming the thread's root post. The cursor (``time_us`` of the last
event read) is kept; a reconnect resumes a few seconds before it, so nothing in between is
missed (Jetstream keeps about three days; a capture is idempotent, so an event seen twice costs
one read).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping
from urllib.parse import urlencode

from .streams import Stream, StreamState

COLLECTION = "app.bsky.feed.post"
REWIND_US = 5_000_000  # resume 5 s before the last event read
CURSOR_EVERY = 500     # events between cursor saves (the firehose sends hundreds a second)
DEFAULT_ENDPOINT = "wss://jetstream2.us-east.bsky.network/subscribe"


def post_uri(did: str, rkey: str) -> str:
    return f"at://{did}/{COLLECTION}/{rkey}"


@dataclass
class JetstreamStream(Stream):
    endpoint: str = DEFAULT_ENDPOINT
    accounts: Mapping[str, str] = field(default_factory=dict)  # department DID -> account name
    root_of: Callable[[str], str | None] = lambda uri: None
    connect: Callable | None = None  # websockets.sync.client.connect, or a test double

    def url(self, state: StreamState) -> str:
        query = {"wantedCollections": COLLECTION}
        if state.resume:
            query["cursor"] = str(max(int(state.resume) - REWIND_US, 0))
        return f"{self.endpoint}?{urlencode(query)}"

    def events(self, state: StreamState) -> Iterator[None]:
        connect = self.connect
        if connect is None:
            from websockets.sync.client import connect
        with connect(self.url(state), open_timeout=10, close_timeout=5, max_size=2 ** 22) as ws:
            for n, message in enumerate(ws, 1):
                self.handle(message, state)
                if n % CURSOR_EVERY == 0:  # most events are kept by nobody: save the cursor anyway
                    self.board.update(self.name, resume=state.resume)
                yield None

    def handle(self, message: str | bytes, state: StreamState) -> None:
        try:
            event = json.loads(message)
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        if isinstance(event.get("time_us"), int):
            state.resume = event["time_us"]  # every event moves the cursor, kept or not
        if event.get("kind") != "commit":
            return
        commit = event.get("commit") or {}
        if commit.get("collection") != COLLECTION:
            return
        did, operation = str(event.get("did")), commit.get("operation")
        uri = post_uri(did, str(commit.get("rkey")))
        if operation in ("create", "update"):
            record = commit.get("record") or {}
            root = ((record.get("reply") or {}).get("root") or {}).get("uri") if isinstance(record, dict) else None
            if isinstance(root, str) and root.startswith("at://"):
                owner = root[5:].split("/", 1)[0]
                if owner in self.accounts:
                    self.keep(self.accounts[owner], [root], event, state)
            elif did in self.accounts:
                self.keep(self.accounts[did], [uri], event, state)  # the department posted or edited a post
        elif operation == "delete":
            root = self.root_of(uri)
            if root and root[5:].split("/", 1)[0] in self.accounts:
                self.keep(self.accounts[root[5:].split("/", 1)[0]], [root], event, state)
