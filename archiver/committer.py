"""Commit closed WARC files in a second process while capture goes on.

A run closes its WARC file every ``collect.commit_items`` items (or past
``collect.warc_max_bytes``). Each closed file is uploaded (verified), ingested and given its
retention by ``spool.commit_spool_files`` -- the same function as the capture process's own
commits, run here by one worker process, in order, while the capture process writes the next
file; the files waiting when the worker is behind are committed together (``_waiting_files``).
Capture does not wait for its own run's files to be indexed (change decisions compare against
the index plus the run's changes it has not committed yet, ``capture.CaptureSession._prev``;
``committed`` tells it, without waiting, which files the index now holds) unless the worker
falls ``MAX_BEHIND`` files behind: then ``submit`` waits for the oldest answer. The run's
uncommitted changes are held in memory (about 380 B an item), so a platform that answers
faster than the worker indexes would otherwise grow the capture process without bound (to
1.2 GB in a 10-million-item backfill, when it was 290 files ahead; bench/index_size.py). At the
end of the run the capture process waits for the worker and commits the last file.

Why a process: ingest is CPU work in Python and SQLite, and a thread would share the
interpreter lock with capture. Why not fork: SQLite connections must not cross a fork, so the
worker is a fresh interpreter (``python -m archiver.committer``) that opens its own index
connection and store from the pickled settings.

The worker holds the index's write lock only while it ingests, as the capture process did
before; it dies with its parent (``PR_SET_PDEATHSIG``), so a SIGKILLed collect leaves no
process behind: an interrupted ingest rolls back and the next run recovers its files from the
spool. After a failed upload the worker refuses the files that follow, so the next run uploads
and ingests them in order; if the worker itself fails, the capture process commits what is
left inline.
"""

from __future__ import annotations

import gc
import logging
import os
import pickle
import select
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Callable

log = logging.getLogger("archiver.capture")

# The most closed files one transaction of the worker commits: bounds its memory and the
# WAL one commit writes, when capture is far ahead (a backfill closes hundreds of files).
BATCH_FILES = 16

# How many closed files capture may be ahead of the worker before it waits: at the default
# ``collect.commit_items`` (10,000) about 15 MB of uncommitted changes in the capture process.
# A larger bound lets larger batches form (each takes the files waiting when it starts) and
# writes less, but costs memory: at 1M items (bench_collect.py) 2 files gave collect 82 MB and
# night-1 disk writes of 27.3x the WARC; 4 files, 90 MB and 22.7x; 8 files, 102 MB and 19.3x.
MAX_BEHIND = 4


@dataclass
class Outcome:
    """The worker's answer for one file: ``key`` when committed, else the reason."""
    path: Path
    key: str | None = None
    store_error: str | None = None  # the upload failed: the file stays in the spool
    error: str | None = None  # anything else: the capture process commits the file itself
    logs: list[tuple[int, str, str]] = field(default_factory=list)


class Committer:
    """The capture process's handle on the worker: ``submit`` closed files, ``drain`` at the end."""

    def __init__(self, settings, now: datetime, *, spawn: Callable[..., subprocess.Popen] = subprocess.Popen):
        self.settings, self.now, self._spawn = settings, now, spawn
        self._no_worker()
        self.exiting: list[subprocess.Popen] = []  # drained workers winding down, reaped by close()

    def start(self) -> None:
        """Start the worker now rather than at the first closed file (``collect`` does, before it
        imports the capture pipeline): the worker's own start-up -- an interpreter and its
        imports, about 0.2 s -- then runs on the second core while this process starts, instead
        of delaying the first commit. Raises OSError if no worker can be started.

        Start it (or submit the first file) from a thread that lives as long as the run: the
        worker is killed when the thread that spawned it ends (``PR_SET_PDEATHSIG`` follows
        the thread, not the process)."""
        if self.proc is not None:
            return
        # The worker imports the very package this process runs, wherever it lives.
        package_root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root,
                                                                         os.environ.get("PYTHONPATH")]))}
        self.proc = self._spawn([sys.executable, "-m", "archiver.committer"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, env=env)
        try:
            _send(self.proc.stdin, ("init", self.settings, self.now))
        except OSError:
            self.kill()
            raise

    def submit(self, path: Path) -> None:
        """Hand a closed spool file to the worker (started on first use). Raises OSError if no
        worker can be started: the caller commits the file itself."""
        self.start()
        # Were the worker's pipe to fill up while this process only writes, both would wait for
        # each other (a backfill closes hundreds of files).
        self._take_answers()
        while not self.broken and len(self.pending) - len(self.received) >= MAX_BEHIND:
            self._receive()  # the worker is far behind: wait for its oldest answer
        self.pending.append(path)
        try:
            _send(self.proc.stdin, ("commit", str(path)))
        except OSError:
            pass  # the worker died; drain() reports it for every pending file

    def committed(self) -> list[Path]:
        """The files committed since the last call, among the answers already in (never waits)."""
        self._take_answers()
        done = [o.path for o in self.received[self.told:] if o.key]
        self.told = len(self.received)
        return done

    def _take_answers(self) -> None:
        """Read what the worker has answered so far, without waiting for more."""
        while self.proc is not None and not self.broken and len(self.received) < len(self.pending) and \
                self._answer_waiting():
            self._receive()

    def _answer_waiting(self) -> bool:
        """Bytes of an answer in the pipe, or already in the stream's buffer: reading one answer
        may have read the next ones too, and ``select`` sees only the pipe."""
        stream = self.proc.stdout
        if select.select([stream], [], [], 0)[0]:
            return True
        os.set_blocking(stream.fileno(), False)  # peek at the buffer; an empty one reads nothing
        try:
            return bool(stream.peek(1))
        finally:
            os.set_blocking(stream.fileno(), True)

    def _receive(self) -> None:
        path = self.pending[len(self.received)]
        try:
            outcome = pickle.load(self.proc.stdout)
            if isinstance(outcome, Outcome) and outcome.path == path:
                self.received.append(outcome)
                return
            self.broken = "the commit worker answered out of turn"
        except Exception as exc:  # EOF, a garbled stream: the worker is gone or lost
            self.broken = f"the commit worker stopped ({type(exc).__name__})"
        # Whatever it was doing must be over before the caller commits the rest itself.
        self.proc.kill()

    def drain(self) -> list[Outcome]:
        """Wait for every submitted file's outcome, in order, and stop the worker."""
        if self.proc is None:
            return []
        if not self.pending:  # started ahead but never given a file: nothing to wait for
            self.kill()
            return []
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        while not self.broken and len(self.received) < len(self.pending):
            self._receive()
        outcomes = self.received + [Outcome(p, error=self.broken) for p in self.pending[len(self.received):]]
        if self.broken:
            self.kill(wait_only=True)  # killed: gone (and its locks with it) before the caller commits
        else:
            self._let_go()
        for outcome in outcomes:
            for level, name, message in outcome.logs:
                logging.getLogger(name).log(level, "%s", message)
        return outcomes

    def _no_worker(self) -> None:
        """What is known of the current worker and its files: nothing (none started, or it is gone)."""
        self.proc: subprocess.Popen | None = None
        self.pending: list[Path] = []  # submitted, in order
        self.received: list[Outcome] = []  # their outcomes so far, in the same order
        self.told = 0  # how many of them ``committed`` has reported
        self.broken: str | None = None  # the worker is gone or garbled: the rest is the caller's

    def _let_go(self) -> None:
        """Every answer is in and the worker, its input closed, is exiting by itself: the run goes
        on without waiting for its interpreter to wind down (about 0.05 s, on the critical path
        at the end of a run); ``close`` reaps it. Its last transaction is committed, so it holds
        no lock on the index."""
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self.exiting.append(self.proc)
        self._no_worker()

    def close(self) -> None:
        """Stop a worker still running and wait for every worker this committer started."""
        self.kill()
        for proc in self.exiting:
            proc.wait()
        self.exiting = []

    def kill(self, wait_only: bool = False) -> None:
        """Stop the worker (``wait_only``: it is finishing by itself) and forget this run's files."""
        if self.proc is not None:
            if not wait_only:
                self.proc.kill()
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            self.proc.wait()
        self._no_worker()


def _send(stream: IO[bytes], message: Any) -> None:
    pickle.dump(message, stream, protocol=pickle.HIGHEST_PROTOCOL)
    stream.flush()


class _Collect(logging.Handler):
    """The worker's log records travel back with each outcome; the capture process logs them
    through its own configuration (text or JSON lines)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[tuple[int, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelno, record.name, record.getMessage()))


def _die_with_parent() -> None:
    # Linux: be killed when the capture process dies, so a SIGKILLed collect never leaves an
    # ingest running that would hold the index (the next run recovers the file instead).
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main(stdin: IO[bytes] | None = None, stdout: IO[bytes] | None = None) -> None:
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the signal was armed
        return
    if stdout is None:
        # Outcomes go to the original stdout; anything a library prints goes to stderr instead
        # of into the pickle stream.
        stdout = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
    stdin = stdin or sys.stdin.buffer
    from .errors import StoreError
    from .index import defer_checkpoints, open_index
    from .retention.assign import AfterIngest
    from .spool import commit_spool_files
    from .store import open_store
    from .timefmt import utcnow

    handler = _Collect()
    logging.getLogger("archiver").addHandler(handler)
    logging.getLogger("archiver").setLevel(logging.INFO)
    logging.getLogger("archiver").propagate = False
    _, settings, now = pickle.load(stdin)
    db = store = after_ingest = None
    failed: Outcome | None = None  # files are committed in order: after a failure, none more
    while True:
        paths, done = _waiting_files(stdin)
        if paths:
            handler.records = []
            outcomes = [Outcome(path) for path in paths]
            if failed is not None:
                for outcome in outcomes:
                    outcome.store_error, outcome.error = failed.store_error, failed.error and "an earlier file failed"
            else:
                try:
                    if db is None:
                        db, store = open_index(settings.index_path), open_store(settings)
                        defer_checkpoints(db.conn)
                        after_ingest = AfterIngest(settings, store, now)
                    keys, store_error = commit_spool_files(
                        db, store, settings.spool_dir, paths, now=utcnow(),
                        retain_years=settings["storage.default_retain_years"], after_ingest=after_ingest)
                    for outcome, key in zip(outcomes, keys):
                        outcome.key = key
                    for outcome in outcomes[len(keys):]:
                        outcome.store_error = str(store_error)
                except StoreError as exc:  # no store to upload to
                    for outcome in outcomes:
                        outcome.store_error = str(exc)
                except Exception as exc:  # reported; the capture process commits the files itself
                    for outcome in outcomes:
                        outcome.error = f"{type(exc).__name__}: {exc}"
                failed = next((o for o in outcomes if o.key is None), None)
            outcomes[0].logs = handler.records
            for outcome in outcomes:
                _send(stdout, outcome)
        if done:
            # Done: exit without the interpreter's shutdown collections (as the command line
            # does, archiver.cli.main); every commit is already on disk.
            gc.freeze()
            return


def _waiting_files(stdin: IO[bytes]) -> tuple[list[Path], bool]:
    """The next file to commit (waiting for it), with every file submitted since that is already
    waiting in the pipe, up to BATCH_FILES; and whether the input has ended.

    The files waiting are committed in one transaction (``spool.commit_spool_files``): when
    capture outruns the worker, commits grow with the backlog and write each shared index
    page once per batch rather than once per file; when the worker keeps up it takes each
    file alone, as soon as it is closed (a listener's capture is searchable at once)."""
    paths: list[Path] = []
    while len(paths) < BATCH_FILES and (not paths or _readable(stdin)):
        try:
            _, name = pickle.load(stdin)
        except EOFError:
            return paths, True
        paths.append(Path(name))
    return paths, False


def _readable(stream: IO[bytes]) -> bool:
    """Bytes waiting in the stream's buffer or its pipe (never waits)."""
    peek = getattr(stream, "peek", None)
    if peek is not None:
        os.set_blocking(stream.fileno(), False)  # an empty pipe reads nothing instead of waiting
        try:
            if peek(1):
                return True
        except BlockingIOError:
            pass
        finally:
            os.set_blocking(stream.fileno(), True)
    return bool(select.select([stream], [], [], 0)[0])

if __name__ == "__main__":
    # Run the module's own copy, so that what is pickled names ``archiver.committer``, not
    # ``__main__``.
    from archiver.committer import main as _main

    _main()
