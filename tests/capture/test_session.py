"""Change decisions of a run whose files are committed while it goes on (archiver.capture.session)."""

from __future__ import annotations

from archiver.capture import CaptureSession
from archiver.committer import Committer
from archiver.replay.facebook import FacebookSimulator, _decode_offset, _encode_offset
from tests.helpers import index_content
from tests.ops.support import two_nights


class OverlappingPages(FacebookSimulator):
    """Comment pages that each start with the previous page's last comment, as Graph's
    time-based paging can at a page boundary: every comment is read twice in one run."""

    def _next_url(self, request, path, **params):
        if path.endswith("/comments") and "after" in params:
            params["after"] = _encode_offset(_decode_offset(params["after"]) - 1)
        return super()._next_url(request, path, **params)


def _edit_a_comment_read_twice(sim) -> None:
    sim.posts[1].comments[1].message += " (edited)"  # the pages overlap on it


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
    twice, reports = two_nights(replay, tmp_path / "twice", "page_limit = 2\ncommit_items = 1\n",
                                sim_class=OverlappingPages, day=_edit_a_comment_read_twice)
    monkeypatch.undo()
    once, _ = two_nights(replay, tmp_path / "once", "commit_items = 0\n", day=_edit_a_comment_read_twice)

    assert index_content(twice) == index_content(once)
    first, second = (r.results[0].counts for r in reports)
    assert first["new"] == 11 and first["seen"] > 11  # each comment page repeated one
    assert (second["edited"], second["hidden"], second["deleted"], second["new"]) == (2, 1, 1, 1)
    # What the run holds is what it has not committed yet (at most a page of two comments and
    # its post, read before the next file opens), not the 11 items it has changed.
    assert held and max(held) <= 3, held
