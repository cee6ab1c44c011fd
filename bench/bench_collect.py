"""Capture benchmark: ``python bench/bench_collect.py [--size small 100k 1m] [--runs 3]``.

A local Graph API replay (``archiver.replay``) of a Facebook Page with POSTS x 100 comments,
from 1 to 199 a post as a real Page's threads vary (small: 200 posts = 20,200 items; 100k:
1,000 posts = 101,000; 1m: 10,000 posts = 1,010,000). Per size, alternated in rotated order,
``--runs`` times:

* ``archiver collect`` end to end (a fresh archive: local store, new index), in a child
  process with its commit worker; then a second ``collect`` with nothing changed (night 2);
* the floor: the very requests that ``collect`` made (the same URLs with their query
  strings, fields and paging cursors, and the same request headers), read back from the
  replay server's log, fetched with ``requests`` in one session and written as request and
  response records with bare warcio -- one gzip member per record at archiver's compressor
  and level (``archiver.warc.GZIP_LEVEL``, zlib-ng), sha256 block and payload digests, one
  fsync at the end. No parsing, no index, no upload;
* a peer: ``wget --warc-file`` on the same URL list (wget's own defaults: gzip, sha1).

Printed per size: items/s of each (min/median/max), collect's time over the floor's and
over wget's within each run, CPU seconds, peak RSS of ``collect`` and of its commit worker
(each process's own high-water mark, sampled from /proc), disk bytes written by the
process tree (kernel block-write count: the WARC in the spool and the store, SQLite and its
WAL) over the bytes archived, night 2's disk writes as a % of night 1's, and the commit
worker's lag: from the last request answered to the end of ``collect`` (everything
committed).

The archiver's modules are compiled to bytecode first, as ``pip install`` leaves them.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import (  # noqa: E402
    Measured, dir_bytes, facebook_archive_config, fmt_spread, interleaved, mb, print_machine, print_table, ratios, run_measured, spread,
)

from archiver.replay import ReplayServer  # noqa: E402
from archiver.replay.facebook import FacebookSimulator  # noqa: E402
from archiver.replay.samples import facebook_synthetic  # noqa: E402
from archiver.warc import GZIP_LEVEL  # noqa: E402

TOKEN = "bench-token"
PAGE = "1000001"
COMMENTS = 100
SIZES = {"small": 200, "100k": 1_000, "1m": 10_000}  # posts, each with COMMENTS comments

# The floor: the same requests, written as archiver writes them, and nothing else.
FLOOR = r'''
import io, json, os, sys, zlib
from urllib.parse import urlsplit
import requests
from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter
try:
    from zlib_ng import zlib_ng as deflate
except ImportError:
    deflate = zlib
urls, out, level = sys.argv[1], sys.argv[2], int(sys.argv[3])

class Members:  # one gzip member per record; warcio calls flush() at the end of each record
    def __init__(self, fh):
        self.fh = fh; self.z = deflate.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS + 16)
    def write(self, data):
        self.fh.write(self.z.compress(data))
    def flush(self):
        self.fh.write(self.z.flush()); self.z = deflate.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS + 16)

class Sha256Writer(WARCWriter):
    @staticmethod
    def _create_digester():
        return Digester("sha256")

session = requests.Session()
n = 0
with open(out, "wb") as fh:
    w = Sha256Writer(Members(fh), gzip=False, warc_version="1.1")
    w.write_record(w.create_warcinfo_record(os.path.basename(out), {"software": "bench floor"}))
    for line in open(urls):
        url, headers = json.loads(line)
        r = session.get(url, headers=headers)
        body = r.content
        http = StatusAndHeaders(f"{r.status_code} {r.reason}", list(r.headers.items()), protocol="HTTP/1.1")
        resp = w.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body), http_headers=http)
        split = urlsplit(url)
        req = w.create_warc_record(url, "request", payload=io.BytesIO(b""), length=0, http_headers=StatusAndHeaders(
            f"GET {split.path}?{split.query} HTTP/1.1", [("Host", split.netloc)] + list(headers.items()),
            protocol="HTTP/1.1", is_http_request=True))
        w.write_record(resp)
        w.write_record(req)
        n += 1
    fh.flush()
    os.fsync(fh.fileno())
print(n)
'''

_SKIP_HEADERS = {"host", "connection", "content-length"}


class World:
    """The replay server with a page of ``posts`` posts; remembers when it last answered."""

    def __init__(self, posts: int):
        self.posts, self.items = posts, posts * (COMMENTS + 1)
        self.server = ReplayServer().start()
        sim = FacebookSimulator(PAGE, token=TOKEN)
        self.api = f"{self.server.mount(sim)}/{sim.version}"
        facebook_synthetic(sim, datetime.now(timezone.utc) - timedelta(days=1), posts, COMMENTS, spread=True)
        self.last_answer = 0.0
        dispatch = self.server._dispatch

        def timed(handler):
            dispatch(handler)
            self.last_answer = time.monotonic()

        self.server._dispatch = timed  # the request handler calls server._dispatch(self)

    def take_log(self) -> list[tuple[str, str, dict]]:
        log, self.server.log = self.server.log, []
        return log

    def close(self) -> None:
        self.server.stop()


def _env() -> dict:
    return {**os.environ, "BENCH_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}


def new_archive(work: Path, api: str) -> Path:
    """A fresh archive as ``archiver init`` leaves it; returns its config."""
    work.mkdir(parents=True)
    cfg = facebook_archive_config(work, api, PAGE)
    run_measured([sys.executable, "-m", "archiver", "--config", str(cfg), "init"], env=_env(), cwd=work).check()
    return cfg


def collect(cfg: Path) -> Measured:
    return run_measured([sys.executable, "-m", "archiver", "--config", str(cfg), "collect"], env=_env(),
                        cwd=cfg.parent).check()


def build_archive(posts: int, work: Path) -> tuple[Path, int, Measured]:
    """An archive written by ``archiver collect`` itself (for the reindex benchmark): returns
    (store directory, items, the measured collect)."""
    compileall.compile_dir(ROOT / "archiver", quiet=1)
    world = World(posts)
    try:
        m = collect(new_archive(work, world.api))
    finally:
        world.close()
    return work / "store", world.items, m


def measure_size(name: str, posts: int, runs: int, work: Path, use_wget: bool, keep: Path | None) -> dict:
    world = World(posts)
    urls_json, urls_txt = work / f"{name}-urls.jsonl", work / f"{name}-urls.txt"
    nights: list[dict] = []
    floor_out: list[Measured] = []
    wget_out: list[Measured] = []

    def night_one_and_two() -> dict:
        run_dir = work / f"{name}-collect-{len(nights)}"
        cfg = new_archive(run_dir, world.api)
        world.take_log()
        first = collect(cfg)
        lag = first.ended - world.last_answer
        log = world.take_log()
        archived = dir_bytes(run_dir / "store")
        if not urls_json.exists():  # the URL list of the floor and wget: what collect requested
            with open(urls_json, "w") as fh, open(urls_txt, "w") as txt:
                for method, target, headers in log:
                    if method != "GET":
                        continue
                    url = world.server.url + target
                    fh.write(json.dumps([url, {k: v for k, v in headers.items()
                                               if k.lower() not in _SKIP_HEADERS}]) + "\n")
                    txt.write(url + "\n")
        second = collect(cfg)
        world.take_log()
        added = dir_bytes(run_dir / "store") - archived
        result = {"first": first, "second": second, "lag": lag, "archived": archived, "added": added,
                  "requests": len(log)}
        if keep is not None and not nights:
            dest = keep / name
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(run_dir / "store", dest / "store")
        shutil.rmtree(run_dir)
        nights.append(result)
        return result

    def floor() -> Measured:
        out = work / f"{name}-floor.warc.gz"
        m = run_measured([sys.executable, "-c", FLOOR, str(urls_json), str(out), str(GZIP_LEVEL)],
                         env=_env(), cwd=work).check()
        m.archived = out.stat().st_size  # type: ignore[attr-defined]
        out.unlink()
        floor_out.append(m)
        return m

    def wget() -> Measured:
        base = work / f"{name}-wget"
        m = run_measured(["wget", "-q", "--no-warc-keep-log", f"--warc-file={base}", "-i", str(urls_txt),
                          "-O", str(work / f"{name}-wget.body"), "--header", "Accept-Encoding: identity"],
                         cwd=work)
        # wget exits 8 when a response is an HTTP error; the replay answers none here
        m.check()
        m.archived = Path(f"{base}.warc.gz").stat().st_size  # type: ignore[attr-defined]
        for leftover in work.glob(f"{name}-wget*"):
            leftover.unlink()
        wget_out.append(m)
        return m

    measures = {"collect (night 1 + unchanged night 2)": night_one_and_two, "floor (requests + warcio)": floor}
    if use_wget:
        measures["wget --warc-file"] = wget
    def after_run(_results) -> None:
        if len(nights) < runs:  # the figures so far, in case the size is cut short
            report(name, world.items, nights, floor_out, wget_out)
    try:
        interleaved(measures, runs, fixed_first="collect (night 1 + unchanged night 2)", after_run=after_run)
    finally:
        world.close()
    return report(name, world.items, nights, floor_out, wget_out)


def report(name: str, items: int, nights: list[dict], floor: list[Measured], wget: list[Measured]) -> dict:
    first = [n["first"] for n in nights]
    second = [n["second"] for n in nights]
    c_wall = [m.wall for m in first]
    print(f"\n-- {name}: {items:,} items ({nights[0]['requests']:,} requests); min / median / max over {len(first)} runs")
    rows = [["collect, night 1", fmt_spread([items / t for t in c_wall], "{:,.0f}"), fmt_spread(c_wall, "{:.1f}"),
             fmt_spread([m.cpu for m in first], "{:.1f}"), mb(nights[0]["archived"])],
            ["collect, unchanged night 2", fmt_spread([items / m.wall for m in second], "{:,.0f}"),
             fmt_spread([m.wall for m in second], "{:.1f}"), fmt_spread([m.cpu for m in second], "{:.1f}"),
             mb(nights[0]["added"])],
            ["floor: requests + warcio (zlib-ng level %d, sha256)" % GZIP_LEVEL,
             fmt_spread([items / m.wall for m in floor], "{:,.0f}"), fmt_spread([m.wall for m in floor], "{:.1f}"),
             fmt_spread([m.cpu for m in floor], "{:.1f}"), mb(floor[0].archived)]]
    if wget:
        rows.append(["peer: wget --warc-file", fmt_spread([items / m.wall for m in wget], "{:,.0f}"),
                     fmt_spread([m.wall for m in wget], "{:.1f}"), fmt_spread([m.cpu for m in wget], "{:.1f}"),
                     mb(wget[0].archived)])
    print_table(rows, ["what", "items/s", "wall s", "CPU s", "WARC bytes"])
    out = {"size": name, "items": items, "runs": len(first)}
    r_floor = ratios(c_wall, [m.wall for m in floor])
    print(f"  collect / floor, per run: {fmt_spread(r_floor, '{:.2f}', 'x')}")
    out["ratio_floor"] = spread(r_floor)
    if wget:
        r_wget = ratios(c_wall, [m.wall for m in wget])
        print(f"  collect / wget, per run: {fmt_spread(r_wget, '{:.2f}', 'x')}")
        out["ratio_wget"] = spread(r_wget)
    r_cpu = ratios([m.cpu for m in first], [m.cpu for m in floor])
    out["cpu_ratio_floor"] = spread(r_cpu)
    print(f"  CPU collect / floor: {fmt_spread(r_cpu, '{:.2f}', 'x')}")
    # Where it goes: the worker's CPU alone over the floor's wall time is the least collect's
    # wall time can be over the floor's, however well the two processes overlap.
    w_cpu = [m.others_cpu for m in first]
    print(f"  CPU, night 1: capture {fmt_spread([m.cpu - w for m, w in zip(first, w_cpu)], '{:.1f}', ' s')};"
          f" commit worker {fmt_spread(w_cpu, '{:.1f}', ' s')} (sampled) ="
          f" {fmt_spread(ratios(w_cpu, [m.wall for m in floor]), '{:.2f}', 'x')} the floor's wall time")
    out["worker_cpu_s"] = spread(w_cpu)
    rss_c = [m.root_peak_rss / 1e6 for m in first]
    rss_w = [m.others_peak_rss / 1e6 for m in first]
    rss_t = [m.peak_tree_rss / 1e6 for m in first]
    print(f"  peak RSS: collect {fmt_spread(rss_c, '{:.0f}', ' MB')}; commit worker {fmt_spread(rss_w, '{:.0f}', ' MB')};"
          f" both at once {fmt_spread(rss_t, '{:.0f}', ' MB')}")
    written = [m.written for m in first]
    per_archived = [w / n["archived"] for w, n in zip(written, nights)]
    print(f"  disk written, night 1: {fmt_spread([w / 1e6 for w in written], '{:,.0f}', ' MB')}"
          f" = {fmt_spread(per_archived, '{:.1f}', 'x')} the {mb(nights[0]['archived'])} archived;"
          f" {fmt_spread([w / items / 1e3 for w in written], '{:.1f}', ' KB')} per item")
    print(f"  floor's disk written: {fmt_spread([m.written / m.archived for m in floor], '{:.2f}', 'x')} its WARC")
    night2 = [100 * s.written / f.written for s, f in zip(second, first)]
    print(f"  unchanged night 2 writes {fmt_spread(night2, '{:.1f}', ' %')} of night 1's disk writes"
          f" and adds {fmt_spread([100 * n['added'] / n['archived'] for n in nights], '{:.1f}', ' %')} to the store")
    lags = [n["lag"] for n in nights]
    print(f"  commit worker's lag (last request answered -> collect done): {fmt_spread(lags, '{:.1f}', ' s')}",
          flush=True)
    out.update({
        "items_per_s": spread([items / t for t in c_wall]), "floor_items_per_s": spread([items / m.wall for m in floor]),
        "rss_collect_mb": spread(rss_c), "rss_worker_mb": spread(rss_w), "written_per_archived": spread(per_archived),
        "night2_pct": spread(night2), "lag_s": spread(lags), "archived": nights[0]["archived"],
    })
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", nargs="+", choices=list(SIZES), default=["small"],
                    help="small: 20,200 items; 100k: 101,000; 1m: 1,010,000 (default small)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-wget", action="store_true", help="skip the wget peer")
    ap.add_argument("--keep", type=Path, help="keep the first run's store of each size here (KEEP/SIZE/store)")
    args = ap.parse_args()
    if args.runs < 1:
        sys.exit("Error: --runs must be at least 1")
    use_wget = not args.no_wget and shutil.which("wget") is not None
    if not args.no_wget and not use_wget:
        print("note: wget is not installed (apt-get install wget); the wget peer is skipped")
    compileall.compile_dir(ROOT / "archiver", quiet=1)
    work = Path(tempfile.mkdtemp(prefix="bench-collect-"))
    print_machine(work, "bench_collect")
    try:
        results = [measure_size(name, SIZES[name], args.runs, work, use_wget, args.keep) for name in args.size]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if len(results) > 1:
        lo, hi = results[0], results[-1]
        growth = 100 * (hi["rss_collect_mb"][1] / lo["rss_collect_mb"][1] - 1)
        print(f"\npeak RSS of collect (median) from {lo['items']:,} to {hi['items']:,} items: "
              f"{lo['rss_collect_mb'][1]:.0f} -> {hi['rss_collect_mb'][1]:.0f} MB ({growth:+.0f} %)")
    for r in results:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
