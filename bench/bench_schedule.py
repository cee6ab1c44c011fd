"""Capture as it happens, within quota: a simulated month of a typical department.

    .venv/bin/python bench/bench_schedule.py                  # 30 days, seed 1
    .venv/bin/python bench/bench_schedule.py --days 7 --seed 2
    .venv/bin/python bench/bench_schedule.py --history 90     # 90 days archived before the month

A world of posts and comments unfolds on a simulated clock, minute by minute, in the platform
simulators (``archiver.replay``) on loopback. The real drivers capture it: the Graph webhook
listener for Facebook (each change delivered, signed, when it happens; a flush every minute),
the stream clients for Bluesky (Jetstream) and Mastodon (the department's user stream), fed by
the simulators on the same clock (``archiver.replay.streaming``) and kept by the same flush,
the poller for YouTube and X (a tick every 5 minutes, tiers 48h:15m,7d:1d,90d:7d), and the
nightly sweep at 02:00 agency time for every account. Everything runs through the real
collectors, stream clients (reconnect, backoff and resume included), capture pipeline, WARC
files and index. Both streams drop at 12:00 on day 1 and every tenth day after it for
``--outage`` minutes (default 20): the connection breaks, reconnects are refused until it ends,
and the clients back off and resume (Jetstream from its cursor, Mastodon by reading the missed
mentions, ``/notifications?since_id=``). With ``--history DAYS`` the month starts with DAYS of
the same department behind it (drawn apart from the month, which stays the same for a seed),
archived by a nightly sweep each of those days and one just before the month: the steady state
of an archive that has run for a while. Every figure is the month's alone.

The model of a department (per day, Poisson-distributed; times of day uniform 07:00-21:00):
- Facebook: 2 posts; 25 comments each, arriving after the post with an exponential delay
  (mean 4 h); each comment is edited (3 %, after ~30 min), hidden by the department (2 %, after
  ~30 min), removed by the department (1 %, after ~20 min) or deleted by its author (4 %,
  after a log-normal lifetime with a median of 2 hours: from minutes to weeks).
- YouTube: 0.3 videos; 10 comments each (mean delay 12 h); 4 % deleted by their authors.
- X: 3 posts; 6 replies each (mean delay 2 h); 5 % deleted by their authors.
- Bluesky: 1.5 posts; 8 replies each (mean delay 3 h); 4 % deleted by their authors (the same
  log-normal lifetimes), 2 % hidden by the department (threadgate ``hiddenReplies``, after
  ~30 min). Bluesky has no edits, and no account can delete another's reply.
- Mastodon: 1.5 posts; 5 replies each (mean delay 3 h); 3 % edited by their authors (after
  ~30 min; Mastodon does not push another account's edit to the department's stream), 4 %
  deleted by their authors (the same lifetimes); 10 % of the department's posts edited by it
  (after ~1 h, ``status.update``). Only an instance's moderators can remove another's reply.

It prints, per platform: API requests and quota units per day (and per month for X), the
minimum needed to see every change at the schedule (each due read of a thread that changed
since its last read, plus one listing read per run that was not told its threads by a push),
the ratio, whether the quota held, the share of deleted comments that were archived, by how
long they lived, and for the pushed platforms how soon comments reached the archive. X bills posts
returned, not requests: its reads are also set against the schedule's minimum in posts (each
post and reply once when new, then once per daily check while its post is under 7 days old and
once per weekly check to 90 days; a deleted one costs nothing to ask about). Bluesky and
Mastodon have rate limits, not billed quotas (``shared/research/platforms.md`` §5-6: Bluesky's
AppView about 3,000 requests per 5 minutes per IP, Mastodon 300 per 5 minutes per account by
default): for them it prints the most requests in any 5 minutes against that limit.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import io
import json
import math
import random
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archiver.capture import collect  # noqa: E402
from archiver.capture.listen import Listener  # noqa: E402
from archiver.capture.poll import Poller  # noqa: E402
from archiver.config import load_settings  # noqa: E402
from archiver.index import open_index  # noqa: E402
from archiver.replay import ReplayServer  # noqa: E402
from archiver.replay.bluesky import BlueskySimulator  # noqa: E402
from archiver.replay.facebook import FacebookSimulator, FbComment  # noqa: E402
from archiver.replay.mastodon import MastodonSimulator  # noqa: E402
from archiver.replay.streaming import SimClock, StreamFeed  # noqa: E402
from archiver.replay.x import XSimulator  # noqa: E402
from archiver.replay.youtube import YouTubeSimulator  # noqa: E402
from archiver.timefmt import iso  # noqa: E402

START = datetime(2026, 3, 1, 6, 0, tzinfo=timezone.utc)  # midnight in Chicago
TZ = ZoneInfo("America/Chicago")
SECRET, VERIFY = "bench-app-secret", "bench-verify"
TOKENS = {"FB": "fb-bench-token", "YT": "yt-bench-key", "X": "x-bench-bearer", "MASTO": "masto-bench-token"}
PUSHED = ("facebook", "bluesky", "mastodon")
RATE_LIMITS = {"bluesky": 3000, "mastodon": 300}  # requests per 5 minutes (research/platforms.md §5, §6)
ACCOUNTS = {"facebook": "pd-facebook", "youtube": "pd-youtube", "x": "pd-x", "bluesky": "pd-bluesky",
            "mastodon": "pd-mastodon"}
BUCKETS = [("< 10 min", timedelta(minutes=10)), ("10 min - 1 h", timedelta(hours=1)),
           ("1 h - 1 day", timedelta(days=1)), ("> 1 day", timedelta(days=3650))]


@dataclass
class Comment:
    platform: str
    post: str               # the thread (post id)
    id: str | None = None   # the platform id, set when it appears
    created: datetime | None = None
    deleted: datetime | None = None
    by: str = ""            # author | department
    edited: bool = False


@dataclass
class World:
    """Timed changes, applied to the simulators as the clock passes them."""
    events: list[tuple[datetime, int, callable]] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    changes: dict[str, list[datetime]] = field(default_factory=lambda: defaultdict(list))  # thread -> change times
    edits: list[tuple[str, str]] = field(default_factory=list)  # (platform, id) of each edited comment
    x_posts: list[tuple[str, datetime]] = field(default_factory=list)  # (id, created) of the X posts
    seq: int = 0

    def at(self, when: datetime, action) -> None:
        self.seq += 1
        self.events.append((when, self.seq, action))


def day_time(rng: random.Random, day: datetime) -> datetime:
    return day + timedelta(hours=7 + 14 * rng.random())


def poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p < limit:
            return k
        k += 1


def build_world(rng: random.Random, days: int, sims: dict, deliver, outage: int = 20,
                streamed: random.Random | None = None, history: int = 0, past: random.Random | None = None) -> World:
    """The month's posts and comments (days 0 to ``days`` - 1) and the ``history`` days before it.
    The stream platforms draw from ``streamed``, the days before the month from ``past``: the
    month of the other platforms is the same for a seed whatever is added beside it."""
    world = World()
    fb, yt, x = sims["facebook"], sims["youtube"], sims["x"]
    months_rng = rng
    streamed_month = streamed or random.Random()
    past = past or random.Random()
    for d in range(-history, days):
        day = START + timedelta(days=d)
        rng, streamed = (months_rng, streamed_month) if d >= 0 else (past, past)
        for _ in range(poisson(rng, 2)):
            _facebook_post(rng, world, fb, day_time(rng, day), deliver)
        for _ in range(poisson(rng, 0.3)):
            _youtube_video(rng, world, yt, day_time(rng, day))
        for _ in range(poisson(rng, 3)):
            _x_post(rng, world, x, day_time(rng, day))
        for _ in range(poisson(streamed, 1.5)):
            _bluesky_post(streamed, world, sims["bluesky"], day_time(streamed, day))
        for _ in range(poisson(streamed, 1.5)):
            _mastodon_post(streamed, world, sims["mastodon"], day_time(streamed, day))
        if d >= 0 and d % 10 == 0 and outage:  # both streams drop at noon (the busiest hours) for `outage` minutes
            when = day + timedelta(hours=12)
            world.at(when, lambda when=when: [feed.drop(when + timedelta(minutes=outage)) for feed in
                                              (sims["bluesky"].jetstream, sims["mastodon"].stream)])
    world.events.sort(key=lambda e: (e[0], e[1]))
    return world


def _lifetime(rng: random.Random) -> timedelta:
    return timedelta(minutes=min(120 * math.exp(rng.gauss(0, 2.5)), 60 * 24 * 60))


def _facebook_post(rng, world, fb, when, deliver) -> None:
    box = {}

    def create_post():
        post = fb.add_post(str(len(fb.posts) + 100), f"Post at {when:%Y-%m-%d %H:%M}", when)
        box["post"] = post
        deliver("add", post.id, post.id, "status")
    world.at(when, create_post)
    for n in range(poisson(rng, 25)):
        created = when + timedelta(hours=rng.expovariate(1 / 4))
        c = Comment("facebook", "", created=created)
        world.comments.append(c)
        fate = rng.random()

        def add(c=c, n=n):
            post = box["post"]
            com = FbComment(id=f"{post.id.split('_')[1]}_{len(post.comments) + 1000 + n}",
                            message=f"comment {n} at {c.created:%H:%M}", created_time=c.created)
            post.comments.append(com)
            c.id, c.post, box[n] = com.id, post.id, com
            world.changes[post.id].append(c.created)
            deliver("add", post.id, com.id)
        world.at(created, add)
        if fate < 0.03:
            edit_at = created + timedelta(minutes=rng.expovariate(1 / 30))

            def edit(n=n, c=c, at=edit_at):
                box[n].message += " (edited)"
                world.changes[c.post].append(at)
                deliver("edited", c.post, box[n].id)
            world.at(edit_at, edit)
        elif fate < 0.05:
            hide_at = created + timedelta(minutes=rng.expovariate(1 / 30))

            def hide(n=n, c=c, at=hide_at):
                box[n].is_hidden = True
                world.changes[c.post].append(at)
                deliver("hide", c.post, box[n].id)
            world.at(hide_at, hide)
        elif fate < 0.10:
            by = "department" if fate < 0.06 else "author"
            gone = created + (timedelta(minutes=rng.expovariate(1 / 20)) if by == "department" else _lifetime(rng))
            c.deleted, c.by = gone, by

            def delete(n=n, c=c):
                box[n].deleted = True
                world.changes[c.post].append(c.deleted)
                deliver("remove", c.post, box[n].id)
            world.at(gone, delete)


def _youtube_video(rng, world, yt, when) -> None:
    box = {}

    def create():
        box["video"] = yt.add_video(f"Video {when:%Y-%m-%d}", when)
    world.at(when, create)
    for n in range(poisson(rng, 10)):
        created = when + timedelta(hours=rng.expovariate(1 / 12))
        c = Comment("youtube", "", created=created)
        world.comments.append(c)

        def add(c=c, n=n):
            com = yt.add_comment(box["video"], f"yt comment {n}", c.created)
            c.id, c.post, box[n] = com.id, box["video"].id, com
            world.changes[c.post].append(c.created)
        world.at(created, add)
        if rng.random() < 0.04:
            c.deleted, c.by = created + _lifetime(rng), "author"

            def delete(n=n, c=c):
                box[n].deleted = True
                world.changes[c.post].append(c.deleted)
            world.at(c.deleted, delete)


def _x_post(rng, world, x, when) -> None:
    box = {}

    def create():
        box["post"] = x.post(f"X post at {when:%H:%M}", when)
        world.x_posts.append((box["post"].id, when))
    world.at(when, create)
    for n in range(poisson(rng, 6)):
        created = when + timedelta(hours=rng.expovariate(1 / 2))
        c = Comment("x", "", created=created)
        world.comments.append(c)

        def add(c=c, n=n):
            tweet = x.reply(box["post"], f"reply {n}", c.created, username=f"resident{n}")
            c.id, c.post, box[n] = tweet.id, box["post"].id, tweet
            world.changes[c.post].append(c.created)
        world.at(created, add)
        if rng.random() < 0.05:
            c.deleted, c.by = created + _lifetime(rng), "author"

            def delete(n=n, c=c):
                box[n].deleted = True
                world.changes[c.post].append(c.deleted)
            world.at(c.deleted, delete)


def _bluesky_post(rng, world, bsky, when) -> None:
    box = {}
    residents = [f"did:plc:resident{n:016d}" for n in range(12)]

    def create():
        box["post"] = bsky.post(f"3l{int(when.timestamp()):x}{len(bsky.posts):04d}", f"Post at {when:%H:%M}", when)
    world.at(when, create)
    for n in range(poisson(rng, 8)):
        created = when + timedelta(hours=rng.expovariate(1 / 3))
        c = Comment("bluesky", "", created=created)
        world.comments.append(c)
        fate = rng.random()

        def add(c=c, n=n):
            author = residents[n % len(residents)]
            if author not in bsky.profiles:
                bsky.add_profile(author, f"resident{n % len(residents)}.bsky.social")
            post = bsky.post(f"3r{int(c.created.timestamp()):x}{len(bsky.posts):04d}", f"reply {n}", c.created,
                             author=author, reply_to=box["post"].uri)
            c.id, c.post = post.uri, box["post"].uri
            world.changes[c.post].append(c.created)
        world.at(created, add)
        if fate < 0.04:
            c.deleted, c.by = created + _lifetime(rng), "author"

            def delete(c=c):
                bsky.delete(c.id, c.deleted)
                world.changes[c.post].append(c.deleted)
            world.at(c.deleted, delete)
        elif fate < 0.06:
            hide_at = created + timedelta(minutes=rng.expovariate(1 / 30))

            def hide(c=c, at=hide_at):
                bsky.hide_reply(c.post, c.id)
                world.changes[c.post].append(at)
            world.at(hide_at, hide)


def _mastodon_post(rng, world, masto, when) -> None:
    box = {}

    def create():
        box["post"] = masto.post(f"<p>Post at {when:%Y-%m-%d %H:%M}</p>", when)
    world.at(when, create)
    if rng.random() < 0.10:
        edit_at = when + timedelta(minutes=rng.expovariate(1 / 60))

        def edit_post(at=edit_at):
            post = box["post"]
            masto.edit(post.id, post.content.replace("</p>", " (updated)</p>"), at)
            world.changes[post.id].append(at)
        world.at(edit_at, edit_post)
    for n in range(poisson(rng, 5)):
        created = when + timedelta(hours=rng.expovariate(1 / 3))
        c = Comment("mastodon", "", created=created)
        world.comments.append(c)
        fate = rng.random()

        def add(c=c, n=n):
            author = f"2{n % 12:017d}"
            if author not in masto.accounts:
                masto.add_account(author, f"resident{n % 12}")
            status = masto.post(f"<p>reply {n}</p>", c.created, account=author, reply_to=box["post"].id)
            c.id, c.post = status.id, box["post"].id
            world.changes[c.post].append(c.created)
        world.at(created, add)
        if fate < 0.03:
            c.edited = True
            edit_at = created + timedelta(minutes=rng.expovariate(1 / 30))

            def edit(c=c, n=n, at=edit_at):
                masto.edit(c.id, f"<p>reply {n} (edited)</p>", at)
                world.changes[c.post].append(at)
            world.at(edit_at, edit)
        elif fate < 0.07:
            c.deleted, c.by = created + _lifetime(rng), "author"

            def delete(c=c):
                masto.delete(c.id, c.deleted)
                world.changes[c.post].append(c.deleted)
            world.at(c.deleted, delete)


def config(tmp: Path, sims: dict) -> Path:
    fb, yt, x = sims["facebook"], sims["youtube"], sims["x"]
    accounts = [
        ("pd-facebook", "facebook", fb.page_id, "FB", f"{fb.base_url}/{fb.version}"),
        ("pd-youtube", "youtube", yt.channel_id, "YT", yt.api_base),
        ("pd-x", "x", x.user_id, "X", x.api_base),
        ("pd-bluesky", "bluesky", sims["bluesky"].did, "", sims["bluesky"].base_url + "/xrpc"),
        ("pd-mastodon", "mastodon", sims["mastodon"].account_id, "MASTO", sims["mastodon"].api_base),
    ]
    lines = ["[archive]", 'agency = "Bench PD"', 'timezone = "America/Chicago"', "", "[storage]",
             f'url = "{tmp / "store"}"', "", "[index]", f'path = "{tmp / "index.db"}"', "",
             "[collect]", "retry_delay = 0.0", "max_backoff = 0.01", "media = false", "",
             "[quota]", "youtube_units_per_day = 10000", "x_reads_per_month = 15000", "",
             "[listen]", "streams = true", 'jetstream_url = "ws://127.0.0.1:1/subscribe"', ""]
    for name, platform, pid, env, base in accounts:
        lines += ["[[accounts]]", f'name = "{name}"', f'platform = "{platform}"', f'id = "{pid}"',
                  *([f'token_env = "{env}"'] if env else []), f'api_base = "{base}"', ""]
    path = tmp / "archiver.toml"
    path.write_text("\n".join(lines))
    return path


def run(days: int, seed: int, outage: int = 20, history: int = 0, tmp: Path | None = None) -> dict:
    """Simulate and measure; the archive is kept in ``tmp`` (a new temporary directory by default)."""
    rng = random.Random(seed)
    tmp = Path(tmp or tempfile.mkdtemp(prefix="bench-schedule-"))
    env = {**TOKENS, "ARCHIVER_LISTEN_APP_SECRET": SECRET, "ARCHIVER_LISTEN_VERIFY_TOKEN": VERIFY}
    clock = SimClock(START)
    stop = threading.Event()
    with ReplayServer() as server:
        sims = {"facebook": FacebookSimulator("1000001", token=TOKENS["FB"]),
                "youtube": YouTubeSimulator(token=TOKENS["YT"], now=START),
                "x": XSimulator(token=TOKENS["X"], now=START),
                "bluesky": BlueskySimulator(), "mastodon": MastodonSimulator(token=TOKENS["MASTO"])}
        for sim in sims.values():
            server.mount(sim)
        sims["bluesky"].jetstream, sims["mastodon"].stream = StreamFeed(clock), StreamFeed(clock)
        settings = load_settings(config(tmp, sims), environ={})
        listener = Listener(settings, env, now=lambda: clock.now)
        poller = Poller(settings, env, now=lambda: clock.now)
        client = listener.receiver.app.test_client()
        streams = listener.receiver.streams()
        for stream in streams:  # the real clients, on the simulators' transports and the simulated clock
            stream.sleep = clock.sleep
            if stream.name == "jetstream":
                stream.connect = sims["bluesky"].jetstream_connect
            else:
                stream.session = sims["mastodon"].streaming_session()

        live = [False]  # no webhook before the month: the history is archived by nightly sweeps

        def deliver(verb, post_id, comment_id, item="comment"):
            if not live[0]:
                return
            body = json.dumps({"object": "page", "entry": [{"id": "1000001", "time": int(clock.now.timestamp()),
                               "changes": [{"field": "feed", "value": {"item": item, "verb": verb, "post_id": post_id,
                                                                        "comment_id": comment_id}}]}]}).encode()
            sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert client.post("/webhooks/graph", data=body, headers={"X-Hub-Signature-256": sig}).status_code == 200

        world = build_world(rng, days, sims, deliver, outage, random.Random(f"streams-{seed}"), history,
                            random.Random(f"history-{seed}"))
        # The history: every night's sweep at 02:00 of the days before the month, and one last
        # sweep just before it starts, so the month begins with all of it archived.
        feeds = sims["bluesky"].jetstream, sims["mastodon"].stream
        sims["bluesky"].jetstream = sims["mastodon"].stream = None  # nothing streamed before the month
        i, history_started = 0, time.perf_counter()
        nights = [START - timedelta(days=k, hours=-2) for k in range(history - 1, 0, -1)]
        for night in nights + ([START - timedelta(minutes=1)] if history else []):
            while i < len(world.events) and world.events[i][0] <= night:
                world.events[i][2]()
                i += 1
            clock.set(night)
            sims["youtube"].now = sims["x"].now = night
            collect(settings, environ=env, now=night)
        sims["bluesky"].jetstream, sims["mastodon"].stream = feeds
        live[0] = True
        history_wall = time.perf_counter() - history_started
        threads = [threading.Thread(target=s.run, args=(stop,), daemon=True) for s in streams]
        for thread in threads:
            thread.start()
        calls = {p: [sims[p].calls] for p in RATE_LIMITS}  # requests answered by the month's start, then each minute
        started, end = time.perf_counter(), START + timedelta(days=days)
        t = START
        try:
            while t < end:
                clock.set(t)
                sims["youtube"].now = sims["x"].now = t
                while i < len(world.events) and world.events[i][0] <= t:
                    world.events[i][2]()
                    i += 1
                clock.settle(len(streams))  # every stream has read what its platform sent by now
                if listener.pending.waiting():
                    listener.flush()
                if t.minute % 5 == 0:
                    poller.tick()
                local = t.astimezone(TZ)
                if local.hour == 2 and local.minute == 0:
                    collect(settings, environ=env, now=t)
                for platform in calls:
                    calls[platform].append(sims[platform].calls)
                t += timedelta(minutes=1)
        finally:
            stop.set()
            clock.close()
            for thread in threads:
                thread.join(timeout=10)
        wall = time.perf_counter() - started
        drops = sims["bluesky"].jetstream.drops
        reconnects = {s.name: s.board.get(s.name).reconnects for s in streams}
    result = measure(settings, world, days, wall, calls, drops, reconnects, history)
    result["history_wall_seconds"] = round(history_wall, 1)
    return result


def measure(settings, world: World, days: int, wall: float, calls: dict, drops: list, reconnects: dict,
            history: int = 0) -> dict:
    """The month's figures: its runs, and the comments posted during it."""
    db = open_index(settings.index_path)
    archived = {r[0] for r in db.conn.execute("SELECT platform_id FROM items")}
    texts = dict(db.conn.execute("SELECT platform_id, text FROM items"))
    first_seen = {pid: datetime.fromisoformat(seen.replace("Z", "+00:00"))
                  for pid, seen in db.conn.execute("SELECT platform_id, first_seen FROM items")}
    out = {"days": days, "wall_seconds": round(wall, 1), "platforms": {},
           "outages": [[iso_minute(a), iso_minute(b)] for a, b in drops], "stream_reconnects": reconnects,
           "history_days": history}
    month = [c for c in world.comments if c.created >= START]
    for platform, account in ACCOUNTS.items():
        runs = db.conn.execute("SELECT started_at, driver, requests, quota_spent, status FROM runs WHERE account = ? "
                               "AND started_at >= ? ORDER BY started_at", (account, iso(START))).fetchall()
        requests = sum(r[2] or 0 for r in runs)
        units = sum(r[3] or 0 for r in runs)
        per_day = defaultdict(int)
        for started, _, _, spent, _ in runs:
            per_day[started[:10]] += spent or 0
        minimum = minimum_reads(world, platform, runs)
        # X bills posts: each post and reply must be returned at least once (and each edit).
        billed_minimum = sum(1 for c in month if c.platform == platform and c.id) + \
            len({c.post for c in month if c.platform == platform and c.post})
        deleted = [c for c in month if c.platform == platform and c.id and c.deleted]
        shares, lower = {}, timedelta(0)
        for label, upper in BUCKETS:
            group = [c for c in deleted if lower <= c.deleted - c.created < upper]
            shares[label] = (sum(c.id in archived for c in group), len(group))
            lower = upper
        lived = [c for c in month if c.platform == platform and c.id
                 and (c.deleted is None or c.deleted - c.created >= timedelta(minutes=1))]
        out["platforms"][platform] = {
            "runs": len(runs), "throttled_runs": sum(r[4] == "throttled" for r in runs),
            "requests_per_day": round(requests / days, 1), "units_per_day": round(units / days, 1),
            "max_units_in_a_day": max(per_day.values(), default=0), "units_total": units,
            "minimum_reads": minimum, "ratio": round(requests / minimum, 2) if minimum else None,
            "minimum_units": billed_minimum if platform == "x" else minimum,
            "scheduled_minimum_units": x_scheduled_minimum(world, days) if platform == "x" else None,
            "deleted_archived": shares,
            "lived_1min_archived": (sum(c.id in archived for c in lived), len(lived)),
            "comments": sum(1 for c in month if c.platform == platform and c.id),
        }
        p = out["platforms"][platform]
        if platform in PUSHED:  # the listener's captures are stamped with its (simulated) clock
            delays = sorted((first_seen[c.id] - c.created).total_seconds() / 60 for c in month
                            if c.platform == platform and c.id in first_seen)
            p["archived_within_5min"] = (sum(d <= 5 for d in delays), len(delays))
            p["median_minutes_to_archive"] = round(delays[len(delays) // 2], 1) if delays else None
        if platform in RATE_LIMITS:
            series = calls[platform]
            p["max_requests_5min"] = max((series[k] - series[max(k - 5, 0)] for k in range(1, len(series))), default=0)
            p["rate_limit_5min"] = RATE_LIMITS[platform]
            during = [c for c in month if c.platform == platform and c.id
                      and any(a <= c.created < b for a, b in drops)]
            p["outage_comments_archived"] = (sum(c.id in archived for c in during), len(during))
        edited = [c for c in month if c.platform == platform and c.id and c.edited]
        if edited:
            p["edits_archived"] = (sum("(edited)" in (texts.get(c.id) or "") for c in edited), len(edited))
    return out


def iso_minute(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%MZ")


def x_scheduled_minimum(world: World, days: int) -> int:
    """The fewest posts X must return to see every change at the schedule: each post and reply
    once when new, and each one still there once per check of its tier — daily while its post is
    under 7 days old, weekly to 90 days (X returns a post that still exists, and bills it, however
    it is asked about; a deleted one costs nothing)."""
    replies = defaultdict(list)
    for c in world.comments:
        if c.platform == "x" and c.id:
            replies[c.post].append(c)
    total = sum(created >= START for _, created in world.x_posts) + \
        sum(c.created >= START for r in replies.values() for c in r)  # each new one once
    for d in range(days):
        check = START + timedelta(days=d)
        for post, created in world.x_posts:
            age = check - created
            if age <= timedelta(0) or not (age < timedelta(days=7) or d % 7 == 0 and age < timedelta(days=90)):
                continue
            total += 1 + sum(1 for c in replies[post] if c.created < check and (c.deleted is None or c.deleted > check))
    return total


def minimum_reads(world: World, platform: str, runs) -> int:
    """The fewest reads that see every change at this schedule: per run, the listing (one read;
    two on YouTube, whose playlist does not carry the comment counts: playlistItems + videos;
    none for a capture a push triggered, which is told the thread) plus one read of each
    thread that changed since the previous run."""
    threads = {c.post for c in world.comments if c.platform == platform and c.post}
    listing = 2 if platform == "youtube" else 1
    total, previous = 0, None
    for started, driver, *_ in runs:
        now = datetime.fromisoformat(started.replace("Z", "+00:00"))
        total += 0 if driver == "listen" else listing
        if previous is not None:
            total += sum(1 for th in threads if any(previous < ch <= now for ch in world.changes.get(th, [])))
        previous = now
    return total


def main() -> None:
    import logging

    logging.disable(logging.WARNING)  # skipped reads are counted below, not logged line by line
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--history", type=int, default=0, metavar="DAYS",
                    help="start the month with DAYS of posts and comments before it, archived by nightly sweeps")
    ap.add_argument("--outage", type=int, default=20, metavar="MINUTES",
                    help="how long the streams drop at noon on day 1, 11, 21 (0: never)")
    args = ap.parse_args()
    result = run(args.days, args.seed, args.outage, args.history)
    print(f"simulated {result['days']} days (after {result['history_days']} days of archived history) in "
          f"{result['wall_seconds']} s of wall time (2-core machine; the history took "
          f"{result['history_wall_seconds']} s)")
    header = (f"{'platform':10} {'runs':>6} {'req/day':>9} {'units/day':>10} {'max/day':>8} {'minimum':>8} "
              f"{'ratio':>6}  quota  lived>=1min archived")
    print(header)
    caps = {"youtube": ("per day", 10000), "x": ("per month", 15000)}
    for platform, p in result["platforms"].items():
        cap = caps.get(platform)
        if platform in RATE_LIMITS:
            held = "held" if p["max_requests_5min"] <= p["rate_limit_5min"] else "EXCEEDED"
        elif cap is None:
            held = "n/a"
        elif cap[0] == "per day":
            held = "held" if p["max_units_in_a_day"] <= cap[1] else "EXCEEDED"
        else:
            held = "held" if p["units_total"] * 30 / result["days"] <= cap[1] else "over (projected)"
        a, n = p["lived_1min_archived"]
        print(f"{platform:10} {p['runs']:>6} {p['requests_per_day']:>9} {p['units_per_day']:>10} "
              f"{p['max_units_in_a_day']:>8} {p['minimum_reads']:>8} {str(p['ratio']):>6}  {held:5}  "
              f"{a}/{n} ({100 * a / n if n else 0:.1f} %)")
    x = result["platforms"]["x"]
    print(f"\nX post reads: {x['units_total']} for {x['minimum_units']} posts and replies that had to be returned "
          f"at least once ({x['units_total'] / x['minimum_units']:.2f}x); the schedule's minimum (each one "
          f"once when new, then once per daily check to day 7 and weekly check to day 90): "
          f"{x['scheduled_minimum_units']} ({x['units_total'] / x['scheduled_minimum_units']:.2f}x)")
    for platform in RATE_LIMITS:
        p = result["platforms"][platform]
        a, n = p["outage_comments_archived"]
        print(f"{platform}: at most {p['max_requests_5min']} requests in 5 minutes (limit {p['rate_limit_5min']}); "
              f"comments posted while the stream was down: {a}/{n} archived")
    print(f"stream outages: {', '.join(f'{a} to {b}' for a, b in result['outages']) or 'none'}; "
          f"reconnects: {result['stream_reconnects']}")
    for platform, p in result["platforms"].items():
        if "edits_archived" in p:
            print(f"{platform}: edited comments archived in their edited version: {p['edits_archived'][0]}/"
                  f"{p['edits_archived'][1]}")
    print("\npushed: comments archived within 5 minutes of being posted (median minutes to the archive):")
    for platform in PUSHED:
        p = result["platforms"][platform]
        a, n = p["archived_within_5min"]
        print(f"  {platform:10} {a}/{n} ({p['median_minutes_to_archive']} min)")
    print("\ndeleted comments archived, by how long they lived:")
    for platform, p in result["platforms"].items():
        cells = ", ".join(f"{label}: {a}/{n}" for label, (a, n) in p["deleted_archived"].items())
        print(f"  {platform:10} {cells}")
    if result["platforms"]["x"]["throttled_runs"]:
        print(f"\nX: {result['platforms']['x']['throttled_runs']} run(s) stopped at the monthly read budget")
    print("\n" + json.dumps(result))


if __name__ == "__main__":
    main()
