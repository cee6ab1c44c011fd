"""What the stream clients share: reconnecting with a bounded backoff, and their status on disk.

A stream (Mastodon's user stream, Bluesky's Jetstream) runs in its own thread. Each event it
keeps becomes a *delivery* with precomputed targets (``Pending.put_targets``), captured at the
next flush like a webhook delivery. When the connection drops the client waits (1 s, doubling,
at most ``MAX_BACKOFF``), reconnects and resumes from what it saw last (a Mastodon notification
id, a Jetstream cursor). Its state — connected or down since when, the last error, the resume
point — is written to ``<spool>/listen/streams.json``, which ``archiver health`` reads.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator

from ..timefmt import iso, parse_platform_time, utcnow

log = logging.getLogger("archiver.listen")
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 300.0  # never wait more than 5 minutes to try again: comments get deleted
STATUS_FILE = "streams.json"

Sink = Callable[[str, list[str], dict], None]  # (account name, post ids/URIs, the event as received)


@dataclass
class StreamState:
    name: str
    connected: bool = False
    since: str | None = None          # connected since, or down since
    last_event: str | None = None
    last_error: str | None = None
    resume: Any = None                # the platform's resume point (notification id, cursor)
    reconnects: int = 0


class StatusBoard:
    """Every stream's state, in memory and in one JSON file (atomically replaced)."""

    def __init__(self, root: Path):
        self.path = Path(root) / STATUS_FILE
        self.lock = threading.Lock()
        self.states: dict[str, StreamState] = {}
        for name, data in load_states(self.path).items():
            self.states[name] = StreamState(**{k: v for k, v in data.items() if k in StreamState.__dataclass_fields__})

    def get(self, name: str) -> StreamState:
        with self.lock:
            return self.states.setdefault(name, StreamState(name))

    def update(self, name: str, **fields: Any) -> None:
        with self.lock:
            state = self.states.setdefault(name, StreamState(name))
            for key, value in fields.items():
                setattr(state, key, value)
            self._write()

    def _write(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({n: asdict(s) for n, s in self.states.items()}, indent=2), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:  # the status is for monitoring; capture goes on without it
            log.warning("stream status not written to %s: %s", self.path, exc.strerror)


def load_states(path: Path) -> dict[str, dict]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def stream_problems(spool_listen: Path, *, now: datetime | None = None, max_down_minutes: float = 15) -> list[str]:
    """For the morning check: each stream down for longer than ``max_down_minutes``."""
    now = now or utcnow()
    out = []
    for name, state in sorted(load_states(Path(spool_listen) / STATUS_FILE).items()):
        since = parse_platform_time(state.get("since"))
        if not state.get("connected") and since is not None and now - since > timedelta(minutes=max_down_minutes):
            out.append(f"stream {name} has been down since {state.get('since')}: {state.get('last_error') or 'unknown'}"
                       " (the nightly job still captures the account; changes are seen a day later)")
    return out


@dataclass
class Stream:
    """One connection that reconnects. Subclasses implement ``events(state)``: connect (resuming
    from ``state.resume``) and yield until the connection ends; they raise OSError/ConnectionError
    (or any error) when it breaks."""

    name: str
    board: StatusBoard
    sink: Sink
    sleep: Callable[[float], bool] | None = None  # stop.wait
    delays: list[float] = field(default_factory=list)  # what it waited, for tests

    def events(self, state: StreamState) -> Iterator[None]:  # pragma: no cover - abstract
        raise NotImplementedError

    def run(self, stop: threading.Event, *, max_connections: int | None = None) -> None:
        wait = stop.wait if self.sleep is None else self.sleep
        backoff, connections = FIRST_BACKOFF, 0
        while not stop.is_set() and (max_connections is None or connections < max_connections):
            connections += 1
            state = self.board.get(self.name)
            try:
                for _ in self.events(state):
                    if not state.connected:
                        self.board.update(self.name, connected=True, since=iso(utcnow()), last_error=None)
                        backoff = FIRST_BACKOFF
                    if stop.is_set():
                        return
                error = "the server closed the stream"
            except Exception as exc:  # noqa: BLE001 - any failure is a disconnect; the loop retries
                error = f"{type(exc).__name__}: {exc}"
            if state.connected or state.since is None:
                self.board.update(self.name, connected=False, since=iso(utcnow()))
            self.board.update(self.name, last_error=error, reconnects=state.reconnects + 1)
            log.warning("stream %s disconnected (%s); reconnecting in %.0f s", self.name, error, backoff)
            self.delays.append(backoff)
            if max_connections is not None and connections >= max_connections:
                return
            wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def keep(self, account: str, targets: list[str], event: dict, state: StreamState) -> None:
        self.sink(account, targets, {"stream": self.name, "event": event})
        self.board.update(self.name, last_event=iso(utcnow()), resume=state.resume)
