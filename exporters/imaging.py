"""Page images in parallel: WeasyPrint lays out documents in worker processes, and pages are
numbered in document order.

WeasyPrint lays out on one core, about 15-20 ms a document plus ~6 ms to write its PDF, so a
10,000-document production spends minutes there. A *job* is the HTML of many documents (one
render, so the per-render set-up is paid once a job); each worker holds one job at a time:

    parent -> worker   ("layout", job, html, anchors)
    worker -> parent   ("pages", job, [page count of each document])
    parent -> worker   ("write", job, first, stamp)    once every earlier job's pages are known
    worker -> parent   ("done", job, [(PDF, [page images]) of each document])
    worker -> parent   ("error", job, message)         in place of either answer

A page's number depends on the pages of every earlier document, but layout does not depend on
the number (the stamp sits in the margin and is drawn while writing: ``stamp``). So jobs are
laid out side by side and only *numbered* strictly in job order: the same selection gets the
same Bates numbers whatever the timing. The parent holds one job per worker, one prepared
ahead, and finished jobs waiting for an earlier one, so memory does not grow with the size of
the production.

Page images other than PDF (single-page TIFF or JPG, ``pageimages``) are rasterised from each
stamped PDF in the worker too: at 300 DPI that costs as much as the layout.

A worker is replaced by a fresh process after JOBS_PER_WORKER jobs, because WeasyPrint's
native memory grows a little with every render.

The parent never sends to a worker that is not waiting for a message (an idle worker, or one
waiting for its numbers), so large PDFs flowing back cannot deadlock the pipes. A worker that
dies is noticed through its process sentinel and stops the export with an ``ExportError``.
"""

from __future__ import annotations

import multiprocessing
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterable, Iterator

from ..errors import ExportError
from .pageimages import FORMATS, ImageFormat, rasterise
from .render import layout, page_spans, write_pages
from .stamp import Stamp

STOP_TIMEOUT = 10.0  # seconds a worker gets to exit after the last job before it is terminated
JOBS_PER_WORKER = 20  # then a fresh process (``PagePool._recycle``): ~2,400 documents


@dataclass
class Job:
    html: str
    anchors: list[str]  # element id where each document starts, in order
    payload: Any = None  # the caller's objects for these documents; stays in the parent


@dataclass
class Rendered:
    job: Job
    first: int  # number of the job's first page
    pieces: list[tuple[bytes, int]]  # (PDF, page count) of each document, in order
    images: list[list[bytes]]  # each document's page images, one per page (empty for PDF images)


class Numbers:
    """Consecutive page numbers from ``start``; the pool reserves each job's pages in order."""

    def __init__(self, start: int = 1):
        self.next = start

    def reserve(self, pages: int) -> int:
        first, self.next = self.next, self.next + pages
        return first


class _Renderer:
    """One process's side of the protocol: lay out a job, write its documents once numbered."""

    def __init__(self) -> None:
        self._jobs: dict[int, tuple[Any, list[tuple[int, int]]]] = {}

    def layout(self, key: int, html: str, anchors: list[str]) -> list[int]:
        document = layout(html)
        spans = page_spans(document, anchors)
        self._jobs[key] = (document, spans)
        return [end - start for start, end in spans]

    def write(self, key: int, first: int, stamp: Stamp, images: ImageFormat) -> list[tuple[bytes, list[bytes]]]:
        document, spans = self._jobs.pop(key)
        out = []
        for start, end in spans:
            pdf = write_pages(document, start, end, stamp.finisher(first))
            out.append((pdf, rasterise(pdf, images) if images.per_page else []))
            first += end - start
        return out


def _serve(conn: Connection) -> None:
    """Worker process main loop."""
    # Ctrl-C reaches the whole process group; the parent decides, and terminates the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    renderer = _Renderer()
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the parent has gone
            return
        if message[0] == "stop":
            return
        kind, key, *args = message
        try:
            if kind == "layout":
                conn.send(("pages", key, renderer.layout(key, *args)))
            else:
                conn.send(("done", key, renderer.write(key, *args)))
        except ExportError as exc:
            conn.send(("error", key, str(exc)))
        except Exception as exc:  # sent to the parent, which stops the export with it
            conn.send(("error", key, f"{type(exc).__name__}: {exc}"))


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    jobs: int = 0  # jobs finished

    @classmethod
    def start(cls) -> "_Worker":
        # spawn, not fork: the parent holds an SQLite connection and may run threads.
        ctx = multiprocessing.get_context("spawn")
        here, there = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(there,), name="archiver-page-layout", daemon=True)
        try:
            proc.start()
        except OSError as exc:
            raise ExportError(f"cannot start a page-layout worker process ({exc})") from None
        finally:
            there.close()
        return cls(proc, here)

    def stop(self, *, abort: bool = False) -> None:
        try:
            if abort:
                self.process.terminate()
            else:
                self.conn.send(("stop",))
        except OSError:  # it has already gone
            pass
        self.process.join(STOP_TIMEOUT)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()

    def stopped(self) -> ExportError:
        self.process.join()
        return ExportError(f"a page-layout worker stopped unexpectedly (exit code {self.process.exitcode}; -9 "
                           "usually means the system ran out of memory); the production is incomplete: delete "
                           "its directory and run the export again")


class PagePool:
    """``workers`` layout processes for the life of a ``with`` block (0: lay out in this
    process, one job at a time — for tiny exports and for debugging)."""

    def __init__(self, workers: int = 2, jobs_per_worker: int = JOBS_PER_WORKER):
        self.size = workers
        self.jobs_per_worker = jobs_per_worker
        self.workers: list[_Worker] = []

    def __enter__(self) -> "PagePool":
        try:
            for _ in range(self.size):
                self.workers.append(_Worker.start())
        except ExportError:
            self.__exit__(ExportError, None, None)
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        for worker in self.workers:
            worker.stop(abort=exc_type is not None)
        self.workers = []

    def run(self, jobs: Iterable[Job], stamp: Stamp, reserve: Callable[[int], int],
            images: ImageFormat = FORMATS["pdf"]) -> Iterator[Rendered]:
        """Render ``jobs`` and yield them in order. ``reserve(pages)`` is called in job order
        with each job's total pages and returns the number of its first page (it may raise,
        e.g. when Bates numbers run out of digits). ``images``: the page images wanted
        besides each document's PDF."""
        if not self.workers:
            yield from self._run_here(jobs, stamp, reserve, images)
            return
        jobs = iter(jobs)
        idle = list(self.workers)
        sent: dict[int, tuple[Job, _Worker]] = {}
        counts: dict[int, list[int]] = {}
        firsts: dict[int, int] = {}
        done: dict[int, list[bytes]] = {}
        submitted = numbered = emitted = 0
        ahead = next(jobs, None)  # prepared while the workers are busy, so none waits for it
        while True:
            while ahead is not None and idle:
                worker = idle.pop()
                self._send(worker, ("layout", submitted, ahead.html, ahead.anchors))
                sent[submitted] = (ahead, worker)
                submitted += 1
                ahead = next(jobs, None)
            if ahead is None and emitted == submitted:
                return
            for worker, (kind, key, value) in self._receive():
                if kind == "error":
                    raise ExportError(f"rendering page images failed: {value}")
                if kind == "pages":
                    counts[key] = value
                else:
                    done[key] = value
                    worker.jobs += 1
                    idle.append(self._recycle(worker) if worker.jobs >= self.jobs_per_worker else worker)
            while numbered in counts:  # number strictly in job order
                firsts[numbered] = reserve(sum(counts[numbered]))
                self._send(sent[numbered][1], ("write", numbered, firsts[numbered], stamp, images))
                numbered += 1
            while emitted in done:
                job, _ = sent.pop(emitted)
                yield _rendered(job, firsts.pop(emitted), done.pop(emitted), counts.pop(emitted))
                emitted += 1

    def _recycle(self, worker: _Worker) -> _Worker:
        """A fresh process for a worker that has done its share: WeasyPrint's native memory
        (Pango/HarfBuzz) grows by about 1 MB a job and is not given back while a process lives."""
        worker.stop()
        fresh = _Worker.start()
        self.workers[self.workers.index(worker)] = fresh
        return fresh

    def _receive(self) -> list[tuple[_Worker, tuple]]:
        """Wait for messages; a worker that exits while jobs are out stops the export."""
        by_conn = {w.conn: w for w in self.workers}
        by_sentinel = {w.process.sentinel: w for w in self.workers}
        ready = wait(list(by_conn) + list(by_sentinel))
        messages = []
        for conn, worker in by_conn.items():
            if conn in ready:
                try:
                    messages.append((worker, conn.recv()))
                except (EOFError, OSError):
                    pass  # the worker has gone: its sentinel is ready too, and says how
        dead = [by_sentinel[s] for s in ready if s in by_sentinel]
        if dead and not any(kind == "error" for _, (kind, *_rest) in messages):
            raise dead[0].stopped()
        return messages

    @staticmethod
    def _send(worker: _Worker, message: tuple) -> None:
        try:
            worker.conn.send(message)
        except OSError:  # a broken pipe: the worker has gone
            raise worker.stopped() from None

    @staticmethod
    def _run_here(jobs: Iterable[Job], stamp: Stamp, reserve: Callable[[int], int],
                  images: ImageFormat) -> Iterator[Rendered]:
        renderer = _Renderer()
        for key, job in enumerate(jobs):
            counts = renderer.layout(key, job.html, job.anchors)
            first = reserve(sum(counts))
            yield _rendered(job, first, renderer.write(key, first, stamp, images), counts)


def _rendered(job: Job, first: int, written: list[tuple[bytes, list[bytes]]], counts: list[int]) -> Rendered:
    return Rendered(job, first, [(pdf, n) for (pdf, _), n in zip(written, counts)], [pages for _, pages in written])
