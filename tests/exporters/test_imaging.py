"""The page-layout pool and the page stamp: numbering in document order whatever the timing,
multi-page documents, stamps bottom right on every page, failures as ExportError (never a hang)."""

from __future__ import annotations

import io
import os
import signal

import pypdf
import pytest

from archiver.errors import ExportError
from archiver.exporters.bates import Bates
from archiver.exporters.imaging import Job, Numbers, PagePool

LONG = "A long post that needs several pages. " * 200  # about three letter pages


def job(*lengths: int) -> Job:
    """One job of documents; a length of 0 is a short document, otherwise that many copies of LONG."""
    parts = "".join(f'<section class="doc" id="d{n}"><p>document {n}</p><p>{LONG * k}</p></section>'
                    for n, k in enumerate(lengths))
    style = "@page { size: letter; margin: 0.7in 0.7in 0.8in 0.7in } section.doc { break-before: page }"
    return Job(f"<html><head><style>{style}</style></head><body>{parts}</body></html>",
               [f"d{n}" for n in range(len(lengths))], payload=lengths)


def stamps(pdf: bytes) -> list[tuple[str, float, float]]:
    """(text, x, y) of the last text drawn on each page: the stamp."""
    out = []
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        drawn = []
        page.extract_text(visitor_text=lambda text, cm, tm, font, size: drawn.append((text, tm[4], tm[5]))
                          if text.strip() else None)
        out.append(drawn[-1])
    return out


JOBS = [(0, 1, 0), (0,), (0, 0, 1, 0)]  # multi-page documents in the first and the last job


def run(workers: int, start: int = 1):
    bates = Bates("OCPD-SM-", 7, start)
    with PagePool(workers) as pool:
        return [(r.first, r.pieces) for r in pool.run((job(*j) for j in JOBS), bates.stamp, bates.reserve)], bates


def test_two_workers_number_like_one_process_and_stamp_every_page():
    here, bates_here = run(0, start=9998)
    two, bates_two = run(2, start=9998)
    assert [first for first, _ in two] == [first for first, _ in here]
    assert [[p for _, p in pieces] for _, pieces in two] == [[p for _, p in pieces] for _, pieces in here]
    assert bates_two.next == bates_here.next
    number = 9998
    for first, pieces in two:
        assert first == number  # each job starts where the previous one ended
        for pdf, pages in pieces:
            assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == pages
            found = stamps(pdf)
            assert [text for text, _, _ in found] == [f"OCPD-SM-{n:07d}" for n in range(number, number + pages)]
            for text, x, y in found:  # bottom right: right edge 0.7in from the page's, inside the margin
                assert abs(x + len(text) * 0.6 * 9 - (612 - 0.7 * 72)) < 0.5 and 18 < y < 36
            number += pages
    assert [p for _, p in two[0][1]] == [1, 3, 1] and number == bates_two.next


def test_workers_are_replaced_after_their_share_of_jobs_without_a_gap():
    bates = Bates("X", 7)
    with PagePool(2, jobs_per_worker=1) as pool:
        first_pids = {w.process.pid for w in pool.workers}
        rendered = [(r.first, [p for _, p in r.pieces]) for r in
                    pool.run((job(0, 0) for _ in range(5)), bates.stamp, bates.reserve)]
        assert not first_pids & {w.process.pid for w in pool.workers}
    assert rendered == [(1, [1, 1]), (3, [1, 1]), (5, [1, 1]), (7, [1, 1]), (9, [1, 1])]


def test_numbers_count_pages_in_job_order():
    numbers = Numbers(5)
    assert numbers.reserve(3) == 5 and numbers.reserve(1) == 8 and numbers.next == 9


def test_an_error_in_a_worker_is_an_export_error():
    broken = job(0, 0)
    broken.anchors = ["d0", "missing"]
    with PagePool(2) as pool, pytest.raises(ExportError, match="lost the start of document"):
        list(pool.run([job(0), broken, job(0)], Bates("X").stamp, Bates("X").reserve))


def test_running_out_of_bates_digits_stops_the_workers():
    bates = Bates("X", 1, 8)
    with pytest.raises(ExportError, match="does not fit"):
        with PagePool(2) as pool:
            list(pool.run([job(0, 0), job(0, 0)], bates.stamp, bates.reserve))
    assert pool.workers == []


def test_a_worker_that_dies_stops_the_export_instead_of_hanging():
    with PagePool(2) as pool:
        victim = pool.workers[0].process

        def jobs():
            yield job(0)
            os.kill(victim.pid, signal.SIGKILL)
            victim.join()
            yield job(0)
            yield job(0)

        with pytest.raises(ExportError, match="stopped unexpectedly .*exit code -9"):
            list(pool.run(jobs(), Bates("X").stamp, Bates("X").reserve))
