"""The simulated month (bench/bench_schedule.py), two days of it: the stream platforms' rows are
measured through the real stream clients, and a stream outage is survived."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location("bench_schedule",
                                               Path(__file__).resolve().parents[1] / "bench/bench_schedule.py")
bench = importlib.util.module_from_spec(_spec)
sys.modules["bench_schedule"] = bench  # dataclasses look their module up by name
_spec.loader.exec_module(bench)


def test_two_days_capture_bluesky_and_mastodon_as_they_happen_through_an_outage(tmp_path):
    result = bench.run(days=2, seed=1, outage=20, tmp=tmp_path)
    assert result["outages"] == [["2026-03-01T18:00Z", "2026-03-01T18:20Z"]]
    for platform in ("bluesky", "mastodon"):
        p = result["platforms"][platform]
        archived, lived = p["lived_1min_archived"]
        assert lived >= 5 and archived == lived, (platform, p)
        # Pushed, not swept: most comments are in the archive within minutes of being posted
        # (only the nightly sweep at 02:00 would leave them for hours).
        within, total = p["archived_within_5min"]
        assert total == archived and within >= 0.9 * total, (platform, p)
        assert p["runs"] > 2 and p["requests_per_day"] > 0 and p["minimum_reads"] > 0
        assert 0 < p["max_requests_5min"] <= p["rate_limit_5min"]
    # Each stream broke at noon, was refused while down, and came back.
    assert all(n >= 3 for n in result["stream_reconnects"].values())
