"""The completeness statement, the health check and the morning `runs --failed`."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from archiver.completeness import completeness
from archiver.health import check_health
from archiver.replay.samples import facebook_next_night
from tests.ops.support import NOW, finish, index_of, run_collect, start_cli

TZ = "America/Chicago"
SHORT = {"data": [], "paging": {"cursors": {"before": "", "after": ""}},
         "summary": {"order": "chronological", "total_count": 5, "can_comment": True}}


def test_expected_counts_that_disagree_are_flagged(page, replay, make_config, tmp_path):
    cfg = make_config([page.account()])
    # Night 1: the platform says post 103 has 5 comments but its comment listing comes back empty.
    replay.inject(r"1000001_103/comments", 200, SHORT, times=1)
    settings, first = run_collect(cfg, NOW - timedelta(days=1))
    facebook_next_night(page.sim, NOW)
    _, second = run_collect(cfg, NOW)
    assert first.ok and second.ok
    report = completeness(index_of(settings), "2026-11-18", "2026-11-20", TZ, accounts=["ocpd-facebook"])
    rows = {r.night: r for r in report.rows}
    assert list(rows) == ["2026-11-18", "2026-11-19", "2026-11-20"]
    assert rows["2026-11-18"].status == "no run" and rows["2026-11-18"].flags == ["no capture run this night"]
    night1 = rows["2026-11-19"]
    assert night1.status == "ok" and night1.threads == 3 and night1.threads_short == 1
    assert [(c.root, c.expected, c.captured) for c in night1.disagreements] == [("1000001_103", 5, 0)]
    assert "thread 1000001_103: platform counts 5, archive holds 0 (missing)" in night1.flags
    night2 = rows["2026-11-20"]
    assert night2.complete, night2.flags  # night 2 read the thread in full: it agrees again
    # New: the reply, and the comment night 1 missed; the one deleted today was never archived at
    # all — exactly the loss the night-1 flag pointed at.
    assert (night2.new, night2.edited, night2.hidden, night2.deleted) == (2, 1, 1, 0)
    assert night2.comments_expected == night2.comments_captured == 8
    assert not report.complete

    code, out, err = finish(start_cli(cfg, "report", "completeness", "--from", "2026-11-19", "--to", "2026-11-20",
                                      "--format", "json"))
    assert code == 1 and "2 account-nights, 1 flagged" in err
    doc = json.loads(out)
    assert doc["complete"] is False and doc["rows"][0]["disagreements"][0]["expected"] == 5
    code, out, _ = finish(start_cli(cfg, "report", "completeness", "--from", "2026-11-20", "--to", "2026-11-20",
                                    "--format", "csv", "--out", str(tmp_path / "c.csv")))
    assert code == 0 and list(csv.DictReader(io.StringIO((tmp_path / "c.csv").read_text())))[0]["complete"] == "yes"
    code, _, err = finish(start_cli(cfg, "report", "completeness", "--from", "2026-11-19", "--to", "2026-11-20",
                                    "--format", "pdf", "--out", str(tmp_path / "c.pdf")))
    assert code == 1, err
    assert (tmp_path / "c.pdf").read_bytes().startswith(b"%PDF")


def test_failed_runs_health_and_token_problems(two_nights, tmp_path):
    settings, cfg = two_nights
    db = index_of(settings)
    assert check_health(db, ["ocpd-facebook"], now=NOW + timedelta(hours=1)).ok
    stale = check_health(db, ["ocpd-facebook"], max_age_hours=24, now=NOW + timedelta(hours=30))
    assert not stale.ok and "is the nightly job still scheduled" in stale.accounts[0].message
    assert not check_health(db, ["never-ran"], now=NOW).ok

    _, report = run_collect(cfg, NOW + timedelta(hours=2), environ={})  # the token variable is unset
    assert not report.ok
    code, out, _ = finish(start_cli(cfg, "runs", "--failed", "--format", "json"))
    failed = json.loads(out)
    assert code == 0 and len(failed) == 1 and failed[0]["status"] == "failed"
    assert "OCPD_FB_TOKEN" in failed[0]["message"]
    code, out, _ = finish(start_cli(cfg, "health", "--max-age", "100000", "--format", "json"))
    assert code == 1 and json.loads(out)[0]["ok"] is False
    row = completeness(index_of(settings), "2026-11-20", "2026-11-20", TZ).rows[-1]
    assert row.status == "failed" and "OCPD_FB_TOKEN" in row.token_problem and not row.complete
