"""Change decisions of a run whose files are committed while it goes on (archiver.capture)."""

from __future__ import annotations

from datetime import timedelta

from archiver.capture import CaptureSession
from archiver.committer import Committer
from archiver.config import load_settings
from archiver.replay.facebook import FacebookSimulator, _decode_offset, _encode_offset
from archiver.replay.samples import facebook_next_night, facebook_sample
from tests.conftest import write_config
from tests.helpers import index_content
from tests.ops.support import NOW, TOKEN, Page, run_collect


class OverlappingPages(FacebookSimulator):
    """Comment pages that each start with the previous page's last comment, as Graph's
    time-based paging can at a page boundary: every comment is read twice in one run."""

    def _next_url(self, request, path, **params):
        if path.endswith("/comments") and "after" in params:
            params["after"] = _encode_offset(_decode_offset(params["after"]) - 1)
        return super()._next_url(request, path, **params)


def _two_nights(replay, tmp_path, sim_class, extra: str, monkeypatch=None):
    sim = sim_class("1000001", "Oak Creek Police Department", token=TOKEN)
    base = replay.mount(sim)
    facebook_sample(sim, NOW - timedelta(days=1))
    tmp_path.mkdir()
    cfg = write_config(tmp_path, [Page(sim, f"{base}/{sim.version}").account()], extra=extra)
    reports = [run_collect(cfg, NOW - timedelta(days=1))[1]]
    facebook_next_night(sim, NOW)
    sim.posts[1].comments[1].message += " (edited)"  # read twice: the pages overlap
    reports.append(run_collect(cfg, NOW)[1])
    assert all(r.ok for r in reports), [r.results for r in reports]
    return load_settings(cfg, environ={}), reports


def test_an_item_read_again_after_its_file_is_committed_is_judged_against_the_index(replay, tmp_path,
                                                                                    monkeypatch):
    # One item per file, each committed in this process as soon as it closes (no worker), so
    # the run's own record of a change is dropped before the overlapping page repeats it: the
    # repeat must be decided against the index, on the backfill night too.
    def no_worker(self, path):
        raise OSError("no worker in this test")

    monkeypatch.setattr(Committer, "submit", no_worker)
    held = []
    safe_point = CaptureSession._safe_point
    monkeypatch.setattr(CaptureSession, "_safe_point",
                        lambda self: (held.append(len(self.run_state)), safe_point(self))[1])
    twice, reports = _two_nights(replay, tmp_path / "twice", OverlappingPages, "page_limit = 2\ncommit_items = 1\n")
    monkeypatch.undo()
    once, _ = _two_nights(replay, tmp_path / "once", FacebookSimulator, "commit_items = 0\n")

    assert index_content(twice) == index_content(once)
    first, second = (r.results[0].counts for r in reports)
    assert first["new"] == 11 and first["seen"] > 11  # each comment page repeated one
    assert (second["edited"], second["hidden"], second["deleted"], second["new"]) == (2, 1, 1, 1)
    # What the run holds is what it has not committed yet (at most a page of two comments and
    # its post, read before the next file opens), not the 11 items it has changed.
    assert held and max(held) <= 3, held
