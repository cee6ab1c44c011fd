"""Mastodon's user stream for the department's own account (server-sent events).

``GET {api_base}/streaming/user`` with the account's token sends ``event:``/``data:`` blocks:
``notification`` (a reply mentions the department: its ``status.in_reply_to_id`` names what
was replied to), ``status.update`` (the department edited a post), ``delete`` (a status id).
Each is kept as a delivery naming the status to capture; the collector's targeted walk finds
the thread's root (``ancestors``) and reads the whole thread. On reconnect, the mentions
missed while down are read with ``/notifications?types[]=mention&since_id=`` once the stream is
open again.

The token goes only to the API's own host: redirects are not followed (an instance that moves
its streaming to another host is reported, not followed with the credential).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Iterator

import requests

from ..config import AccountConfig
from ..errors import CollectError
from .streams import Stream, StreamState

STREAM_TIMEOUT = (10, 90)  # connect, and at most this long without a byte (Mastodon sends a heartbeat)


@dataclass
class MastodonStream(Stream):
    account: AccountConfig | None = None
    token: str = ""
    api_base: str = ""
    root_of: Callable[[str], str | None] = lambda platform_id: None
    session: requests.Session | None = None

    def _get(self, url: str, **kw) -> requests.Response:
        http = self.session or requests
        resp = http.get(url, headers={"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"},
                        allow_redirects=False, timeout=STREAM_TIMEOUT, **kw)
        if resp.is_redirect:
            raise CollectError(f"{url} redirects to {resp.headers.get('Location')}: not followed with the token")
        if resp.status_code != 200:
            raise CollectError(f"{url} answered HTTP {resp.status_code}")
        return resp

    def events(self, state: StreamState) -> Iterator[None]:
        # The stream first, then the mentions missed: nothing falls between the two (what arrives
        # meanwhile waits in the connection), and a stream that cannot connect is a failed
        # attempt — the backoff grows even while the REST API answers.
        resp = self._get(f"{self.api_base}/streaming/user", stream=True)
        with resp:
            if state.resume:
                yield from self._catch_up(state)
            event, data = None, []
            for raw in resp.iter_lines(decode_unicode=False):
                line = raw.decode("utf-8", "replace")
                if line.startswith(":"):
                    yield None  # a heartbeat: the connection is alive
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip(" "))
                elif line == "":
                    if event and data:
                        self._dispatch(event, "\n".join(data), state)
                    event, data = None, []
                    yield None

    def _catch_up(self, state: StreamState) -> Iterator[None]:
        resp = self._get(f"{self.api_base}/notifications", params={"types[]": "mention", "since_id": state.resume,
                                                                    "limit": 40})
        for note in sorted(resp.json(), key=lambda n: int(n.get("id", 0))):
            self._notification(note, state)
        yield None

    def _dispatch(self, event: str, data: str, state: StreamState) -> None:
        try:
            payload = json.loads(data)
        except ValueError:
            return  # a torn event; the nightly sweep is the net
        if event == "notification" and isinstance(payload, dict):
            self._notification(payload, state)
        elif event == "status.update" and isinstance(payload, dict):
            target = payload.get("in_reply_to_id") or payload.get("id")
            self.keep(self.account.name, [str(target)], {"event": event, "data": payload}, state)
        elif event == "delete":
            root = self.root_of(str(payload))
            if root:
                self.keep(self.account.name, [root], {"event": event, "data": payload}, state)

    def _notification(self, note: dict, state: StreamState) -> None:
        status = note.get("status") or {}
        if note.get("type") == "mention" and status.get("in_reply_to_id"):
            state.resume = str(note.get("id"))
            self.keep(self.account.name, [str(status["in_reply_to_id"])], {"event": "notification", "data": note},
                      state)
