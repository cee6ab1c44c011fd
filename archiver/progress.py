"""Progress of long work (collect, exports, reindex, fixity, disposition), for a person at a terminal.

The library never prints: a long operation reports through the ``Progress`` callable of the
current context, one line at each step,

    progress.report("objects", advance=1, total=120)       # one more of 120 objects
    progress.report("bytes", advance=4_096, unit="bytes")  # 4 KB more read
    progress.report("accounts", label="sample-facebook")   # what is being worked on now

and the caller decides what that becomes: nothing by default (``silent``), bars drawn with
rich on stderr when the CLI runs at a terminal (``on_terminal``), a list in a test
(``reporting``). The callable travels in a context variable so that the hooks in capture,
exporters, reindex and fixity stay one line each and their signatures do not change. Worker
threads do not inherit it: take ``current()`` before starting them. Cron and log shippers keep
reading the JSON log events, which this module does not touch.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, Protocol, TextIO


class Progress(Protocol):
    def __call__(self, bar: str, *, advance: float = 0, total: float | None = None,
                 label: str | None = None, unit: str = "") -> None: ...


def silent(bar: str, *, advance: float = 0, total: float | None = None, label: str | None = None,
           unit: str = "") -> None:
    """The default: report nowhere."""


_current: ContextVar[Progress] = ContextVar("archiver_progress", default=silent)


def current() -> Progress:
    return _current.get()


def report(bar: str, *, advance: float = 0, total: float | None = None, label: str | None = None,
           unit: str = "") -> None:
    """Report a step of long work to whoever listens in this context (nobody by default)."""
    _current.get()(bar, advance=advance, total=total, label=label, unit=unit)


@contextmanager
def reporting(progress: Progress) -> Iterator[Progress]:
    """Within the block, ``report`` calls ``progress``."""
    token = _current.set(progress)
    try:
        yield progress
    finally:
        _current.reset(token)


@contextmanager
def on_terminal(stream: TextIO | None = None) -> Iterator[Progress]:
    """Within the block, progress is drawn as bars on ``stream`` (stderr) when it is a terminal;
    otherwise nothing is drawn."""
    stream = sys.stderr if stream is None else stream
    if not (hasattr(stream, "isatty") and stream.isatty()):
        yield silent
        return
    from rich import filesize
    from rich.console import Console
    from rich.progress import BarColumn, Progress as Bars, ProgressColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class Amount(ProgressColumn):
        def render(self, task) -> Text:
            bytes_ = task.fields.get("unit") == "bytes"
            done = filesize.decimal(int(task.completed)) if bytes_ else f"{int(task.completed):,}"
            if task.total is None:
                return Text(done)
            total = filesize.decimal(int(task.total)) if bytes_ else f"{int(task.total):,}"
            return Text(f"{done}/{total}")

    bars = Bars(TextColumn("{task.description}"), BarColumn(), Amount(), TimeElapsedColumn(),
                console=Console(file=stream), transient=False)
    tasks: dict[str, int] = {}

    def progress(bar: str, *, advance: float = 0, total: float | None = None, label: str | None = None,
                 unit: str = "") -> None:
        # Text from archived content (an account or thread name) is shown as text, not markup.
        description = f"{bar}: {label}" if label else bar
        description = description.replace("[", "\\[")
        if bar not in tasks:
            tasks[bar] = bars.add_task(description, total=total, unit=unit)
        fields = {"description": description} if label else {}
        if total is not None:
            fields["total"] = total
        bars.update(tasks[bar], advance=advance, **fields)

    with bars, reporting(progress):
        yield progress
