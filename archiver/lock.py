"""One collect (or in-place reindex) at a time: an advisory lock beside the index.

cron happily starts tonight's run while last night's is still uploading. Two writers would
race on the spool (both "recovering" the same file) and interleave their change decisions,
so every writer takes an exclusive ``flock`` on ``<index>.lock`` first; the second one gets a
``LockError`` (exit code 3) naming who holds it. ``flock`` locks die with their process, so a
SIGKILLed run never leaves a stale lock behind: the next run simply gets it.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator

from .errors import LockError
from .timefmt import iso, utcnow


def lock_path(index_path: str | Path) -> Path:
    index_path = Path(index_path)
    return index_path.with_name(index_path.name + ".lock")


@contextmanager
def writer_lock(index_path: str | Path, purpose: str, *, now: datetime | None = None) -> Iterator[Path]:
    """Hold the index's writer lock for the ``with`` block, or raise ``LockError`` at once."""
    path = lock_path(index_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockError(
                f"another archiver process is writing this archive ({_holder(fd)}); this {purpose} did not "
                f"start. If no archiver process is running, the lock is released already — just run it again "
                f"(lock file: {path})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "purpose": purpose, "since": iso(now or utcnow())}).encode())
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return "holder unknown"
    if not info:
        return "holder unknown"
    return f"{info.get('purpose', 'a run')} by pid {info.get('pid')} since {info.get('since')}"
