"""Opt-in: feedparser's own 1,213-feed corpus read through the RSS collector over loopback
(``scripts/conformance_rss.py``); skipped where ``shared/realworld`` is not beside the project."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.conformance_rss import run

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "realworld" / "rss" / "feedparser" / "tests"
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/realworld/rss/feedparser/tests")


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared/realworld/rss is not beside the project")
def test_every_feed_feedparser_reads_is_read_by_the_collector():
    report = run(CORPUS)
    assert report.with_entries > 500
    # Where the collector reads fewer items, it is for one of two reasons only: entries that
    # share an identity (one item, versions of it), or a document cut off before it closes.
    for rel, expected, got, why in report.differ:
        assert why.startswith("entries share") or "ends before it is complete" in why, (rel, why)
    assert report.items >= report.entries - 5
