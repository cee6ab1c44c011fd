"""Quota budgets and the poller on the YouTube simulator: never past the cap, fresh threads often
and old ones rarely, and every skipped read reported."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from archiver.capture import collect
from archiver.config import load_settings
from archiver.errors import ConfigError
from archiver.index import open_index
from archiver.capture.poll import Poller, parse_tiers
from archiver.quota import _posts_returned, period_start, PLATFORMS
from archiver.replay.youtube import YouTubeSimulator, sample_world
from archiver.timefmt import iso
from tests.helpers import run_cli

KEY = "AIzaPollKey+/="
NOW = datetime(2026, 11, 20, 18, 0, tzinfo=timezone.utc)  # 10:00 in Los Angeles
ENV = {"PD_YT_KEY": KEY}


@pytest.fixture
def channel(replay, make_config):
    def make(cap: int = 10000, tiers: str = "48h:15m,7d:1d,90d:7d"):
        sim = YouTubeSimulator(token=KEY, now=NOW - timedelta(hours=1))
        replay.mount(sim)
        sample_world(sim)
        fresh = sim.add_video("Fresh: road closed this morning", NOW - timedelta(hours=3))
        sim.add_comment(fresh, "Which road?", NOW - timedelta(hours=2), author="Early Bird")
        cfg = make_config([{"name": "pd-youtube", "platform": "youtube", "id": sim.channel_id,
                            "token_env": "PD_YT_KEY", "api_base": sim.api_base}],
                          extra=f"[quota]\nyoutube_units_per_day = {cap}\n\n[poll]\ntiers = \"{tiers}\"\n")
        return sim, load_settings(cfg, environ={}), fresh
    return make


def api_calls(replay) -> int:
    return len(replay.requests_matching(r"/youtube/v3/"))


def test_the_nightly_run_stops_at_the_cap_and_the_next_day_resumes(channel, replay):
    sim, settings, _ = channel(cap=9)
    report = collect(settings, environ=ENV, now=NOW)
    result = report.results[0]
    assert result.status == "throttled" and "youtube quota" in result.message and "next period" in result.message
    assert api_calls(replay) <= 9
    db = open_index(settings.index_path)
    assert db.conn.execute("SELECT sum(quota_spent) FROM runs").fetchone()[0] == api_calls(replay)
    before = api_calls(replay)
    again = collect(settings, environ=ENV, now=NOW + timedelta(hours=2)).results[0]
    assert again.status == "throttled" and api_calls(replay) - before <= 9 - before  # never past 9 in the day
    tomorrow = collect(settings, environ=ENV, now=NOW + timedelta(days=1)).results[0]
    assert tomorrow.status in ("ok", "throttled") and api_calls(replay) > before  # a new Pacific day


def test_poller_reads_fresh_threads_often_and_old_ones_on_their_own_schedule(channel, replay):
    sim, settings, fresh = channel()
    assert collect(settings, environ=ENV, now=NOW).ok
    clock = [NOW + timedelta(minutes=10)]
    poller = Poller(settings, ENV, now=lambda: clock[0])
    assert poller.tick().ran == {}  # the nightly sweep covered every tier ten minutes ago
    old = sim.videos[0]
    before_old = len(replay.requests_matching(f"videoId={old.id}"))
    before_fresh = len(replay.requests_matching(f"videoId={fresh.id}"))
    clock[0] = NOW + timedelta(minutes=16)
    sim.add_comment(fresh, "Main St, just reopened", NOW + timedelta(minutes=12), author="Commuter")
    report = poller.tick()
    assert report.ran == {"pd-youtube 48h": "ok"}
    assert len(replay.requests_matching(f"videoId={fresh.id}")) > before_fresh
    assert len(replay.requests_matching(f"videoId={old.id}")) == before_old  # four days old: not re-read
    db = open_index(settings.index_path)
    assert db.conn.execute("SELECT count(*) FROM items WHERE text = 'Main St, just reopened'").fetchone()[0] == 1
    assert db.conn.execute("SELECT driver FROM runs ORDER BY started_at DESC LIMIT 1").fetchone() == ("poll:48h",)
    clock[0] = NOW + timedelta(minutes=20)
    assert poller.tick().ran == {}  # 4 minutes after the fresh read
    clock[0] = NOW + timedelta(days=1, minutes=1)
    assert poller.tick().ran == {"pd-youtube 48h": "ok"}  # the daily tier is due one fresh interval late
    clock[0] = NOW + timedelta(days=1, minutes=16)
    assert poller.tick().ran == {"pd-youtube 7d": "ok"}  # a day and a fresh interval after the nightly
    assert len(replay.requests_matching(f"videoId={old.id}")) > before_old


def test_a_daily_tier_falling_due_at_the_nightly_sweep_is_left_to_the_sweep(channel, replay):
    sim, settings, _ = channel()
    assert collect(settings, environ=ENV, now=NOW).ok
    clock = [NOW + timedelta(days=1)]
    poller = Poller(settings, ENV, now=lambda: clock[0])
    assert poller.tick().ran == {"pd-youtube 48h": "ok"}  # a day after the sweep: only the fresh tier
    assert collect(settings, environ=ENV, now=clock[0]).ok  # the next night's sweep, minutes later
    clock[0] = NOW + timedelta(days=1, minutes=20)
    assert poller.tick().ran == {"pd-youtube 48h": "ok"}  # the sweep read the daily tier: not again
    clock[0] = NOW + timedelta(days=2, minutes=15)  # no sweep that night: the daily tier runs itself
    assert poller.tick().ran == {"pd-youtube 7d": "ok"}


def test_the_nightly_sweep_covers_only_the_tiers_its_window_reaches(channel, make_config):
    sim, settings, _ = channel()
    assert collect(settings, environ=ENV, now=NOW).ok
    short = load_settings(settings.config_path, environ={"ARCHIVER_COLLECT_RESCAN_DAYS": "7"})
    poller = Poller(short, ENV, now=lambda: NOW + timedelta(minutes=5))
    db = open_index(settings.index_path)
    assert poller.covered_since(db, "pd-youtube", poller.tiers[1]) is not None
    assert poller.covered_since(db, "pd-youtube", poller.tiers[2]) is None  # 90 days: beyond a 7-day sweep


def test_a_read_that_would_not_fit_the_budget_is_skipped_and_said(channel, replay):
    sim, settings, _ = channel(cap=40)
    assert collect(settings, environ=ENV, now=NOW).ok
    spent = open_index(settings.index_path).conn.execute("SELECT sum(quota_spent) FROM runs").fetchone()[0]
    assert 0 < spent < 40
    poller = Poller(settings, ENV, now=lambda: NOW + timedelta(minutes=20))  # the fresh tier is due
    # The fresh tier's last read, yesterday, cost the whole budget: it cannot fit in what is left today.
    db = open_index(settings.index_path)
    db.conn.execute("INSERT INTO runs (id, account, platform, started_at, finished_at, status, driver, quota_spent) "
                    "VALUES ('x', 'pd-youtube', 'youtube', ?, ?, 'ok', 'poll:48h', 40)",
                    (iso(NOW - timedelta(days=1)), iso(NOW - timedelta(days=1))))
    calls = api_calls(replay)
    report = poller.tick()
    assert report.ran == {} and api_calls(replay) == calls
    assert any("not re-read" in s and "left of 40" in s for s in report.skipped), report.skipped
    status = json.loads((settings.spool_dir / "listen" / "poll.json").read_text())
    assert status["skipped"] == report.skipped


def test_tiers_are_checked():
    assert [(t.name, t.every) for t in parse_tiers("90d:7d, 48h:15m")] == [("48h", timedelta(minutes=15)),
                                                                         ("90d", timedelta(days=7))]
    with pytest.raises(ConfigError, match="AGE:INTERVAL"):
        parse_tiers("48 hours:15m")


def test_x_bills_each_post_returned_and_youtube_days_are_pacific():
    body = json.dumps({"data": [{"id": "1"}, {"id": "2"}], "includes": {"tweets": [{"id": "3"}]}}).encode()
    assert _posts_returned(body) == 3 and _posts_returned(b'{"errors": []}') == 0 and _posts_returned(b"x") == 0
    late = datetime(2026, 11, 21, 7, 30, tzinfo=timezone.utc)  # 23:30 on the 20th in Los Angeles
    assert period_start(PLATFORMS["youtube"], late).isoformat() == "2026-11-20T00:00:00-08:00"


def test_poll_command_runs_one_tick(channel):
    sim, settings, _ = channel()
    out = run_cli("--config", str(settings.config_path), "poll", env=ENV)
    assert out.returncode == 0 and "not polled before its first complete capture" in out.stderr


def test_x_fresh_polls_read_only_what_is_new_and_wider_tiers_find_deletions(replay, make_config):
    from archiver.replay.x import XSimulator, sample_world as x_world

    sim = XSimulator(token="x-bearer", now=NOW)
    replay.mount(sim)
    x_world(sim)
    fresh = sim.post("Fresh: shelter in place lifted", NOW - timedelta(hours=5))
    early = sim.reply(fresh, "Thank you!", NOW - timedelta(hours=4), "resident1")
    cfg = make_config([{"name": "pd-x", "platform": "x", "id": sim.user_id, "token_env": "PD_X",
                        "api_base": sim.api_base}], extra="[quota]\nx_reads_per_month = 15000\n")
    settings = load_settings(cfg, environ={})
    env = {"PD_X": "x-bearer"}
    assert collect(settings, environ=env, now=NOW).ok
    late = sim.reply(fresh, "Is the school open tomorrow?", NOW + timedelta(minutes=5), "resident2")
    early.deleted = True
    clock = [NOW + timedelta(minutes=16)]
    sim.now = clock[0]
    poller = Poller(settings, env, now=lambda: clock[0])
    assert poller.tick().ran == {"pd-x 48h": "ok"}
    db = open_index(settings.index_path)
    status = dict(db.conn.execute("SELECT platform_id, status FROM items"))
    assert status[late.id] == "live"
    assert status[early.id] == "live", "a reply not returned since the newest one proves nothing"
    searches = replay.requests_matching(rf"conversation_id(%3A|:){fresh.id}")
    assert f"since_id={early.id}" in searches[-1]
    assert any("since_id=" in r for r in replay.requests_matching(rf"users/{sim.user_id}/tweets"))
    spent = db.conn.execute("SELECT quota_spent FROM runs WHERE driver = 'poll:48h'").fetchone()[0]
    nightly = db.conn.execute("SELECT quota_spent FROM runs WHERE driver = 'nightly'").fetchone()[0]
    assert 0 < spent <= 2 < nightly  # the new reply and the post it answers, not the whole threads again
    clock[0] = sim.now = NOW + timedelta(days=1, minutes=16)
    assert poller.tick().ran == {"pd-x 7d": "ok"}
    assert db.conn.execute("SELECT status FROM items WHERE platform_id = ?", (early.id,)).fetchone() == ("deleted",)


def test_youtube_fresh_polls_skip_threads_whose_comment_count_is_unchanged(channel, replay):
    sim, settings, fresh = channel()
    assert collect(settings, environ=ENV, now=NOW).ok
    clock = [NOW + timedelta(minutes=16)]
    poller = Poller(settings, ENV, now=lambda: clock[0])
    threads = len(replay.requests_matching(f"commentThreads.*videoId={fresh.id}"))
    channels = len(replay.requests_matching(r"/youtube/v3/channels"))
    assert poller.tick().ran == {"pd-youtube 48h": "ok"}
    assert len(replay.requests_matching(f"commentThreads.*videoId={fresh.id}")) == threads  # count unchanged
    assert len(replay.requests_matching(r"/youtube/v3/channels")) == channels  # UC... -> UU..., no lookup
    sim.add_comment(fresh, "Still closed at noon?", NOW + timedelta(minutes=20), author="Commuter")
    clock[0] = NOW + timedelta(minutes=32)
    assert poller.tick().ran == {"pd-youtube 48h": "ok"}
    assert len(replay.requests_matching(f"commentThreads.*videoId={fresh.id}")) == threads + 1
    db = open_index(settings.index_path)
    assert db.conn.execute("SELECT status FROM items WHERE text = 'Still closed at noon?'").fetchone() == ("live",)
    clock[0] = NOW + timedelta(minutes=48)
    assert poller.tick().ran == {"pd-youtube 48h": "ok"}
    assert len(replay.requests_matching(f"commentThreads.*videoId={fresh.id}")) == threads + 1  # archived since
    spent = [r[0] for r in db.conn.execute("SELECT quota_spent FROM runs WHERE driver = 'poll:48h' ORDER BY started_at")]
    assert spent == [2, 3, 2]  # playlistItems + videos, then the one thread that changed, then nothing


def test_x_wider_tiers_check_known_replies_by_id_and_read_only_new_ones(replay, make_config):
    """The daily and weekly tiers look archived replies up with /tweets?ids= (edits, deletions;
    a protected reply is not a deleted one) and search conversations only since the newest."""
    from archiver.replay.x import XSimulator, sample_world as x_world

    sim = XSimulator(token="x-bearer", now=NOW)
    replay.mount(sim)
    x_world(sim)
    old = sim.post("Ten days ago: the parade route", NOW - timedelta(days=10))
    sim.now = NOW - timedelta(days=10) + timedelta(hours=2)  # its replies were in recent search then
    old_reply = sim.reply(old, "Which streets?", NOW - timedelta(days=10, minutes=-30), "resident3")
    cfg = make_config([{"name": "pd-x", "platform": "x", "id": sim.user_id, "token_env": "PD_X",
                        "api_base": sim.api_base}], extra="[quota]\nx_reads_per_month = 15000\n")
    settings = load_settings(cfg, environ={})
    env = {"PD_X": "x-bearer"}
    assert collect(settings, environ=env, now=sim.now).ok  # ten days ago: the old thread archived
    sim.now = NOW
    assert collect(settings, environ=env, now=NOW).ok
    db = open_index(settings.index_path)
    alert = next(t for t in sim.tweets if not t.reply_to)
    replies = [t for t in sim.tweets if t.reply_to and t.conversation_id == alert.conversation_id]
    gone, shielded, changed = replies[0], replies[1], replies[2]
    gone.deleted, shielded.protected = True, True
    sim.edit(changed, "@driver27 Yes, the 27th St ramp is open again.", NOW + timedelta(minutes=10))
    old_reply.deleted = True
    late = sim.reply(alert, "Thanks!", NOW + timedelta(hours=3), "resident4")
    before = len(replay.requests_matching(""))
    clock = [NOW + timedelta(days=1, minutes=16)]
    sim.now = clock[0]
    poller = Poller(settings, env, now=lambda: clock[0])
    # A week after the first capture; the nightly walk sees 7 days of replies: it never covers 90 days.
    assert poller.tick().ran == {"pd-x 90d": "ok"}
    reads = replay.requests_matching("")[before:]
    assert any("/tweets?ids=" in r and gone.ids[0] in r for r in reads)
    searches = [r for r in reads if "search/recent" in r and alert.conversation_id in r]
    assert searches and all("since_id=" in r for r in searches)  # the conversation is not read whole again
    status = dict(db.conn.execute("SELECT platform_id, status FROM items"))
    assert status[gone.ids[0]] == "deleted" and status[shielded.ids[0]] == "live"
    assert status[late.ids[0]] == "live"
    assert db.conn.execute("SELECT versions FROM items WHERE platform_id = ?", (changed.ids[0],)).fetchone() == (2,)
    assert status[old_reply.ids[0]] == "deleted"  # older than recent search reaches: found by its id
    late.deleted = True
    clock[0] = sim.now = NOW + timedelta(days=2, minutes=31)
    assert poller.tick().ran == {"pd-x 7d": "ok"}
    assert db.conn.execute("SELECT status FROM items WHERE platform_id = ?", (late.ids[0],)).fetchone() == ("deleted",)


def test_while_the_poller_reads_x_the_nightly_sweep_checks_by_id_over_the_daily_window(replay, make_config):
    from archiver.replay.x import XSimulator, sample_world as x_world

    sim = XSimulator(token="x-bearer", now=NOW)
    replay.mount(sim)
    x_world(sim)
    cfg = make_config([{"name": "pd-x", "platform": "x", "id": sim.user_id, "token_env": "PD_X",
                        "api_base": sim.api_base}], extra="[quota]\nx_reads_per_month = 15000\n")
    settings = load_settings(cfg, environ={})
    env = {"PD_X": "x-bearer"}
    assert collect(settings, environ=env, now=NOW).ok  # the first capture: a full walk
    alert = next(t for t in sim.tweets if not t.reply_to)
    sim.now = NOW + timedelta(days=1)
    before = len(replay.requests_matching(""))
    assert collect(settings, environ=env, now=sim.now).ok  # not polled: the full walk again
    assert any("search/recent" in r and "since_id" not in r for r in replay.requests_matching("")[before:])
    clock = [NOW + timedelta(days=1, minutes=20)]
    sim.now = clock[0]
    assert Poller(settings, env, now=lambda: clock[0]).tick().ran == {"pd-x 48h": "ok"}
    gone = next(t for t in sim.tweets if t.reply_to and t.conversation_id == alert.conversation_id)
    gone.deleted = True
    sim.now = NOW + timedelta(days=2)
    before = len(replay.requests_matching(""))
    assert collect(settings, environ=env, now=sim.now).ok
    reads = replay.requests_matching("")[before:]
    assert any("/tweets?ids=" in r for r in reads)
    assert all("since_id=" in r for r in reads if "search/recent" in r and alert.conversation_id in r)
    db = open_index(settings.index_path)
    assert db.conn.execute("SELECT status FROM items WHERE platform_id = ?", (gone.ids[0],)).fetchone() == ("deleted",)
    spent = [r[0] for r in db.conn.execute("SELECT quota_spent FROM runs WHERE driver = 'nightly' ORDER BY started_at")]
    assert spent[2] < spent[1]  # no conversation and no answered post returned twice
