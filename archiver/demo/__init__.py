"""``archiver demo``: a sample department archived from a local replay of its platforms.

No network and no credentials: the platforms are simulators on 127.0.0.1 (``archiver.replay``);
the archive is a local directory. Two nights are simulated: the second sees an edit, a hidden
comment and a deleted comment, which the archive keeps with every version.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from ..capture import collect
from ..config import load_settings
from ..index import open_index
from ..index.queries import runs
from ..replay import ReplayServer
from ..replay.facebook import FacebookSimulator
from ..replay.samples import facebook_next_night, facebook_sample
from ..search import SearchQuery, search
from ..timefmt import utcnow


def _config(workdir: Path, accounts: list[dict]) -> Path:
    lines = ['[archive]', 'agency = "Sample Police Department (demo)"', 'timezone = "America/Chicago"', '',
             '[storage]', 'url = "./store"', '', '[index]', 'path = "./index.db"', '',
             '[collect]', 'retry_delay = 0.0', '']
    for acct in accounts:
        lines.append("[[accounts]]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in acct.items()]
        lines.append("")
    path = workdir / "archiver.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def run_demo(workdir: Path, out: TextIO, now=None) -> dict:
    now = now or utcnow()
    workdir.mkdir(parents=True, exist_ok=True)
    with ReplayServer() as server:
        # The simulator checks a token like the Graph API does; a made-up one lives only in this
        # process's environment mapping, and the demo shows it scrubbed from everything written.
        environ = {"DEMO_FB_TOKEN": "demo-page-token-0123456789"}
        fb = FacebookSimulator("1000001", "Sample Police Department", token=environ["DEMO_FB_TOKEN"])
        base = server.mount(fb)
        facebook_sample(fb, now - timedelta(days=1))
        accounts = [{"name": "sample-facebook", "platform": "facebook", "id": "1000001",
                     "api_base": f"{base}/{fb.version}", "token_env": "DEMO_FB_TOKEN"}]
        cfg = _config(workdir, accounts)
        settings = load_settings(cfg, environ={})
        out.write(f"Demo archive in {workdir.resolve()} (config {cfg.name}); platforms replayed on {server.url}\n")
        nights = []
        for night, when in ((1, now - timedelta(days=1)), (2, now)):
            if night == 2:
                facebook_next_night(fb, now)
            report = collect(settings, environ=environ, now=when)
            nights.append(report)
            for r in report.results:
                c = r.counts
                out.write(f"night {night}: {r.account} {r.status}: {c['seen']} seen, {c['new']} new, "
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
    out.write(f"\nTry: cd {workdir} && archiver search --format json --limit 3\n")
    return {"items": total, "statuses": by_status, "ok": all(r.ok for r in nights)}
