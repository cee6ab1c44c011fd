"""Push streams on a simulated clock: what Jetstream and a Mastodon user stream send, in order.

A simulator with a ``StreamFeed`` attached publishes each change of its world as the platform's
stream would (``BlueskySimulator``: Jetstream ``commit`` events; ``MastodonSimulator``:
``event:``/``data:`` blocks), stamped with the simulated time. The stream clients of
``archiver.listen`` read it through their transport seams (``JetstreamStream.connect``,
``MastodonStream.session``), so the real client code parses, keeps, reconnects and resumes.

``SimClock`` is what makes a simulated month deterministic: the stream threads wait on it (for
the next event, or for a backoff to pass in simulated time), and the driver advances it and
calls ``settle`` — which returns once every stream thread is waiting with nothing left to read —
before it flushes what the streams kept. ``StreamFeed.drop(until)`` breaks the connection and
refuses new ones until the simulated time ``until`` (an outage).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterator


class SimClock:
    """The simulated time, and every thread waiting on it (by what it waits for)."""

    def __init__(self, now: datetime):
        self.now = now
        self.closed = False
        self.cond = threading.Condition()
        self.waiters: dict[object, Callable[[], bool]] = {}

    def set(self, now: datetime) -> None:
        with self.cond:
            self.now = now
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def wait_until(self, ready: Callable[[], bool]) -> None:
        """Block the calling stream thread until ``ready()`` (evaluated under the clock's lock)."""
        key = object()
        with self.cond:
            self.waiters[key] = ready
            self.cond.notify_all()
            try:
                while not (self.closed or ready()):
                    self.cond.wait()
            finally:
                del self.waiters[key]
                self.cond.notify_all()

    def sleep(self, seconds: float) -> bool:
        """A stream's backoff (``Stream.sleep``), in simulated time; True once the clock is closed."""
        until = self.now + timedelta(seconds=seconds)
        self.wait_until(lambda: self.now >= until)
        return self.closed

    def settle(self, threads: int, timeout: float = 60) -> None:
        """Return once ``threads`` stream threads wait and none of them has anything to do."""
        with self.cond:
            while not (len(self.waiters) >= threads and not any(ready() for ready in self.waiters.values())):
                if not self.cond.wait(timeout):
                    raise TimeoutError(f"{len(self.waiters)} of {threads} stream thread(s) waiting after {timeout} s")


@dataclass
class StreamFeed:
    """What a platform's stream has sent so far: (simulated time, message) in order."""

    clock: SimClock
    items: list[tuple[datetime, object]] = field(default_factory=list)
    down_until: datetime | None = None
    drops: list[tuple[datetime, datetime]] = field(default_factory=list)  # (from, until) of each outage

    @property
    def down(self) -> bool:
        return self.down_until is not None and self.clock.now < self.down_until

    def publish(self, message: object, at: datetime | None = None) -> None:
        with self.clock.cond:
            self.items.append((at or self.clock.now, message))
            self.clock.cond.notify_all()

    def drop(self, until: datetime) -> None:
        """Break every open connection now and refuse new ones until ``until``."""
        with self.clock.cond:
            self.down_until = until
            self.drops.append((self.clock.now, until))
            self.clock.cond.notify_all()

    def read_from(self, position: int) -> Iterator[object]:
        """The messages from ``position`` on, waiting for each; ConnectionError when the stream drops."""
        while True:
            self.clock.wait_until(lambda: self.down or position < len(self.items))
            if self.clock.closed:
                return
            if self.down:
                raise ConnectionError("the stream dropped (simulated outage)")
            yield self.items[position][1]
            position += 1

