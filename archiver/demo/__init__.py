"""``archiver demo``: a sample department archived from a local replay of its platforms.

No network and no credentials: the platforms are simulators on 127.0.0.1 (``archiver.replay``);
the archive is a local directory. Two nights are simulated, a day apart on the simulated
clock: the second sees an edit, a hidden comment and a deleted comment, which the archive keeps
with every version. Run again, the demo starts over in a directory it made itself (and refuses
any other non-empty directory), so it always shows the same archive.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, TextIO

from ..capture import collect
from ..config import load_settings
from ..errors import UsageError
from ..index import open_index
from ..index.queries import runs
from ..replay import ReplayServer
from ..replay import bluesky, instagram, mastodon, rss, x, youtube
from ..replay.facebook import FacebookSimulator
from ..replay.samples import facebook_next_night, facebook_sample
from ..search import SearchQuery, search
from ..timefmt import utcnow


# The first line of a demo archive's config: how a later run knows it may start it over.
MARK = "# archiver demo archive: `archiver demo` replaces this directory"


def _fresh(workdir: Path, out: TextIO) -> None:
    """An empty ``workdir``: a demo archive from an earlier run is removed; anything else is refused."""
    if not workdir.exists() or not any(workdir.iterdir()):
        workdir.mkdir(parents=True, exist_ok=True)
        return
    config = workdir / "archiver.toml"
    try:
        ours = config.read_text(encoding="utf-8").startswith(MARK)
    except OSError:
        ours = False
    if not ours:
        raise UsageError(f"{workdir} is not empty and is not a demo archive; give another --dir "
                         "(the demo starts over only in a directory it made)")
    out.write(f"Replacing the earlier demo archive in {workdir.resolve()}\n")
    shutil.rmtree(workdir)
    workdir.mkdir(parents=True)


def _archiver_command() -> str:
    """How to run ``archiver`` from here as installed: the script beside this Python (a venv's
    ``bin/archiver``), else the name on PATH."""
    script = Path(sys.executable).parent / "archiver"
    return str(script) if script.exists() else "archiver"


def _night_clock(start: datetime) -> Callable[[], datetime]:
    """The simulated clock of one night: ``start``, then advancing as real time passes."""
    begun = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - begun)


def _config(workdir: Path, accounts: list[dict]) -> Path:
    lines = [MARK, '[archive]', 'agency = "Sample Police Department (demo)"', 'timezone = "America/Chicago"', '',
             '[storage]', 'url = "./store"', '', '[index]', 'path = "./index.db"', '',
             '[collect]', 'retry_delay = 0.0', '']
    for acct in accounts:
        lines.append("[[accounts]]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in acct.items()]
        lines.append("")
    path = workdir / "archiver.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@dataclass
class DemoPlatform:
    """One simulated platform of the sample department."""

    platform: str
    make: Callable[[str | None, datetime], Any]  # (token, now) -> simulator
    account: Callable[[Any], dict]  # simulator -> the [[accounts]] keys platform, id, api_base
    sample: Callable[[Any, datetime], None]
    next_night: Callable[[Any, datetime], None]
    needs_token: bool = True


def _fb_sim(token, now):
    return FacebookSimulator("1000001", "Sample Police Department", token=token)


def _keys(platform: str, id_attr: str) -> Callable[[Any], dict]:
    return lambda sim: {"platform": platform, "id": getattr(sim, id_attr), "api_base": sim.api_base}


DEMO_PLATFORMS = [
    DemoPlatform("facebook", _fb_sim, _keys("facebook", "page_id"), facebook_sample, facebook_next_night),
    DemoPlatform("instagram", lambda t, now: instagram.InstagramSimulator(token=t, now=now),
                 _keys("instagram", "ig_user_id"), lambda s, now: instagram.sample_world(s),
                 lambda s, now: instagram.next_night(s)),
    DemoPlatform("x", lambda t, now: x.XSimulator(token=t, now=now), _keys("x", "user_id"),
                 lambda s, now: x.sample_world(s), lambda s, now: x.next_night(s)),
    DemoPlatform("youtube", lambda t, now: youtube.YouTubeSimulator(token=t, now=now),
                 _keys("youtube", "channel_id"), lambda s, now: youtube.sample_world(s),
                 lambda s, now: youtube.next_night(s)),
    DemoPlatform("bluesky", lambda t, now: bluesky.BlueskySimulator(), bluesky.demo_account,
                 bluesky.sample_world, bluesky.next_night, needs_token=False),
    DemoPlatform("mastodon", lambda t, now: mastodon.MastodonSimulator(), mastodon.demo_account,
                 mastodon.sample_world, mastodon.next_night, needs_token=False),
    DemoPlatform("rss", lambda t, now: rss.RssSimulator(), rss.demo_account,
                 rss.sample_world, rss.next_night, needs_token=False),
]


def run_demo(workdir: Path, out: TextIO, now=None) -> dict:
    now = now or utcnow()
    _fresh(workdir, out)
    environ: dict[str, str] = {}
    with ReplayServer() as server:
        accounts, sims = [], []
        for spec in DEMO_PLATFORMS:
            # Simulators check credentials like the real APIs; made-up ones live only in this
            # process's environment mapping, and the archive shows them scrubbed.
            token = f"demo-{spec.platform}-token-0123456789" if spec.needs_token else None
            sim = spec.make(token, now - timedelta(days=1))
            server.mount(sim)
            spec.sample(sim, now - timedelta(days=1))
            account = {"name": f"sample-{spec.platform}", **spec.account(sim)}
            if token:
                account["token_env"] = f"DEMO_{spec.platform.upper()}_TOKEN"
                environ[account["token_env"]] = token
            accounts.append(account)
            sims.append((spec, sim))
        cfg = _config(workdir, accounts)
        settings = load_settings(cfg, environ={})
        out.write(f"Demo archive in {workdir.resolve()} (config {cfg.name}); "
                  f"{len(accounts)} platforms replayed on {server.url}\n")
        nights = []
        for night, when in ((1, now - timedelta(days=1)), (2, now)):
            if night == 2:
                for spec, sim in sims:
                    spec.next_night(sim, now)
            report = collect(settings, environ=environ, now=when, clock=_night_clock(when))
            nights.append(report)
            for r in report.results:
                c = r.counts
                out.write(f"night {night}: {r.account:18} {r.status}: {c['seen']} seen, {c['new']} new, "
                          f"{c['edited']} edited, {c['hidden']} hidden, {c['deleted']} deleted, "
                          f"{c['media_fetched']} media files\n")
                if r.message:
                    out.write(f"  {r.message}\n")
    db = open_index(settings.index_path)
    total = db.conn.execute("SELECT count(*) FROM items").fetchone()[0]
    by_status = dict(db.conn.execute("SELECT status, count(*) FROM items GROUP BY status").fetchall())
    objects = db.conn.execute("SELECT count(*), coalesce(sum(size), 0) FROM objects").fetchone()
    out.write(f"\nArchive: {total} items {by_status}; {objects[0]} WARC files, {objects[1]} bytes; "
              f"{len(runs(db))} runs recorded\n")
    result = search(db, SearchQuery(text="closure", limit=5), settings.timezone)
    out.write('\nSample search: archiver search --query closure\n')
    for row in result.rows:
        out.write(f"  {row['id']} {row['kind']:7} {row['status']:7} {row['author']}: {row['text'][:60]!r}\n")
    moderated = search(db, SearchQuery(status=["hidden", "deleted"], limit=10), settings.timezone)
    out.write("\nHidden or deleted comments kept as records: archiver search --status hidden --status deleted\n")
    for row in moderated.rows:
        out.write(f"  {row['id']} {row['status']:7} {row['author']}: {row['text'][:60]!r}\n")
    exe = _archiver_command()
    out.write(f"\nTry it (these commands run as printed):\n"
              f"  export ARCHIVER_CONFIG={cfg.resolve()}\n"
              f"  {exe} search --query closure\n"
              f"  {exe} show {result.rows[0]['id'] if result.rows else 'ID'}\n"
              f"The README's ten-minute tour continues from here.\n")
    # "ok": no account failed. A partial night (the sample Bluesky thread's blocked reply,
    # reported every night) is the demo showing a problem report, not a broken demo.
    return {"items": total, "statuses": by_status,
            "ok": all(not r.recovery_error and not any(a.failed for a in r.results) for r in nights)}
