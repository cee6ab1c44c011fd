"""Index size and disk writes (issue 24): ``python bench/index_size.py [--posts 1000 --comments 99]``.

A local Graph API replay of POSTS x (COMMENTS + 1) items; ``archiver collect`` runs three
times (night 1 captures everything, nights 2 and 3 find nothing changed: night 2 is the first
sighting of each item after its capture, night 3 the steady state), each in a subprocess.
Printed:

* index bytes per item after night 1, and where they are: each table and index of index.db
  (SQLite's ``dbstat`` virtual table: pages in use, payload, unused space);
* disk written by each night (``ru_oublock`` of the children: the kernel's write_bytes of
  collect and of every process it waited for -- the commit worker included -- so SQLite's
  database, WAL and temporary files count as well as the spool and the store), as a multiple
  of the bytes archived (the store's WARC bytes after night 1) and nights 2 and 3 as a % of
  night 1;
* the floor of a first night: the WARC bytes twice (spool, then store) and the final index.db
  once -- and twice, as WAL mode writes every page (the log, then the checkpoint) -- with
  night 1's disk writes as a multiple of each;
* peak RSS of each night (the largest of collect and its commit worker, sampled from /proc).

``--nights 1`` runs the first capture only. ``--keep DIR`` writes the archive (store, index)
into DIR and leaves it there, e.g. for ``bench_ops.py --reindex-store DIR/store``.

``--runs N`` (default 3) repeats the whole measurement N times and prints min / median / max.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import dir_bytes, facebook_archive_config, fmt_spread, print_machine  # noqa: E402
from archiver.replay import ReplayServer  # noqa: E402
from archiver.replay.facebook import FacebookSimulator  # noqa: E402
from archiver.replay.samples import facebook_synthetic  # noqa: E402

TOKEN = "bench-token"


def _hwm_kb(pid: int) -> int:
    """A process's peak RSS so far (VmHWM: of its own image, reset at exec)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next((int(line.split()[1]) for line in fh if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return found


def run_child(cmd: list[str], env: dict) -> dict:
    """Run ``cmd``; its seconds, disk written and peak RSS.

    Peak RSS is sampled from /proc (VmHWM of collect and of its commit worker, every 0.2 s),
    not taken from ``wait4``: a child's ru_maxrss starts at its parent's size when it is
    spawned, and this parent holds the whole simulated platform (600 MB at 1,000,000 items)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peaks: dict[int, int] = {}
    while proc.poll() is None:
        for pid in [proc.pid, *_children(proc.pid)]:
            peaks[pid] = max(peaks.get(pid, 0), _hwm_kb(pid))
        time.sleep(0.2)
    # (poll() reaped it: its rusage, the commit worker's included, is in RUSAGE_CHILDREN)
    err = proc.stderr.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise SystemExit(f"Error: {' '.join(cmd)} failed:\n{err}")
    return {"s": time.perf_counter() - start, "rss_mb": max(peaks.values(), default=0) / 1024}


def _written(run, *args) -> dict:
    """``run(*args)`` with the disk bytes it and every process it waited for wrote
    (RUSAGE_CHILDREN ``ru_oublock``, in 512-byte units, taken before and after)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock
    result = run(*args)
    return {**result, "written": (resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock - before) * 512}


def breakdown(db_path: Path) -> list[tuple[str, int, int]]:
    """(table or index, bytes of its pages, payload bytes), largest first."""
    conn = sqlite3.connect(db_path)
    try:
        return list(conn.execute(
            "SELECT name, SUM(pgsize), SUM(payload) FROM dbstat GROUP BY name ORDER BY 2 DESC"))
    finally:
        conn.close()


def measure(posts: int, comments: int, workdir: Path, nights: int = 3) -> dict:
    with ReplayServer() as server:
        sim = FacebookSimulator("1000001", token=TOKEN)
        base = server.mount(sim)
        facebook_synthetic(sim, datetime.now(timezone.utc) - timedelta(days=1), posts, comments)
        cfg = facebook_archive_config(workdir, f"{base}/{sim.version}", sim.page_id)
        index = workdir / "index.db"
        env = {**os.environ, "BENCH_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-m", "archiver", "--config", str(cfg), "collect"]
        night1 = _written(run_child, cmd, env)
        archived = dir_bytes(workdir / "store")
        conn = sqlite3.connect(index)
        items = conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        conn.close()
        wal = Path(f"{index}-wal")
        sizes = {"index": index.stat().st_size, "wal": wal.stat().st_size if wal.exists() else 0}
        parts = breakdown(index)
        skipped = {"written": 0, "s": 0.0, "rss_mb": 0.0}
        night2 = _written(run_child, cmd, env) if nights > 1 else skipped
        night3 = _written(run_child, cmd, env) if nights > 2 else skipped
    # The floor of a first night: the WARC bytes twice (the spool, then the store) and every
    # page of the final index once; in WAL mode each page is written at least twice (the log,
    # then the checkpoint into the database file).
    floor = 2 * archived + sizes["index"]
    return {"floor": floor, "floor_wal": floor + sizes["index"], "sqlite_written": night1["written"] - 2 * archived,
            "night1_x_floor": night1["written"] / floor, "night1_x_floor_wal": night1["written"] / (floor + sizes["index"]),
            "items": items, "archived": archived, "index_bytes": sizes["index"], "wal_bytes": sizes["wal"],
            "index_per_item": sizes["index"] / items, "night1": night1, "night2": night2, "night3": night3,
            "night1_x_archived": night1["written"] / archived,
            "night2_pct_night1": 100.0 * night2["written"] / night1["written"],
            "night3_pct_night1": 100.0 * night3["written"] / night1["written"], "parts": parts}


def spread(values: list[float], fmt: str = "{:.1f}") -> str:
    return fmt_spread(values, fmt)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--posts", type=int, default=1000)
    ap.add_argument("--comments", type=int, default=99)
    ap.add_argument("--runs", type=int, default=3, help="whole measurements (min / median / max over them)")
    ap.add_argument("--nights", type=int, default=3, choices=(1, 2, 3),
                    help="how many nights to run (1: the first capture only)")
    ap.add_argument("--json", action="store_true", help="print every figure as JSON too")
    ap.add_argument("--keep", type=Path, metavar="DIR",
                    help="write the archive into DIR (new or empty) and keep it; one run")
    args = ap.parse_args()
    if args.posts < 1 or args.comments < 0 or args.runs < 1:
        raise SystemExit("Error: --posts and --runs must be >= 1, --comments >= 0")
    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        raise SystemExit(f"Error: --keep needs a new or empty directory; {args.keep} is not empty")
    print_machine(args.keep or Path(os.environ.get("BENCH_TMP") or tempfile.gettempdir()))
    print(f"{args.posts:,} posts x {args.comments + 1} items; min / median / max over "
          f"{1 if args.keep else args.runs} run(s)")
    results = []
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        results.append(measure(args.posts, args.comments, args.keep, args.nights))
        print(f"archive kept: {args.keep} (store: {args.keep / 'store'})")
    for _ in range(0 if args.keep else args.runs):
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
            results.append(measure(args.posts, args.comments, Path(tmp), args.nights))
    last = results[-1]
    if args.json:
        print(json.dumps(results, indent=2))
    print(f"\n{last['items']} items; archived (WARC bytes) {last['archived']:,}; index.db {last['index_bytes']:,}"
          f" (+ WAL {last['wal_bytes']:,})")
    print(f"{'table or index':32} {'bytes/item':>10} {'payload/item':>12}")
    for name, size, payload in last["parts"]:
        if size / last["items"] >= 1:
            print(f"{name:32} {size / last['items']:10.0f} {payload / last['items']:12.0f}")
    print(f"\nindex bytes per item: {spread([r['index_per_item'] for r in results], '{:.0f}')} (target <= 1024)")
    print(f"night 1 disk written / archived: {spread([r['night1_x_archived'] for r in results])}x (target <= 10)")
    print(f"  of which SQLite (database, WAL, temporary files; all but the WARC twice): "
          f"{spread([r['sqlite_written'] / r['index_bytes'] for r in results])}x the final index.db")
    print(f"  floor (the WARC twice + the index once): {last['floor']:,} bytes = "
          f"{last['floor'] / last['archived']:.1f}x archived; night 1 / floor "
          f"{spread([r['night1_x_floor'] for r in results], '{:.2f}')}x")
    print(f"  floor in WAL mode (the WARC twice + the index twice): {last['floor_wal']:,} bytes = "
          f"{last['floor_wal'] / last['archived']:.1f}x archived; night 1 / floor "
          f"{spread([r['night1_x_floor_wal'] for r in results], '{:.2f}')}x")
    if args.nights > 1:
        print(f"night 2 (unchanged) disk written / night 1: {spread([r['night2_pct_night1'] for r in results])}% "
              f"(target <= 10); / archived: {spread([r['night2']['written'] / r['archived'] for r in results])}x")
    if args.nights > 2:
        print(f"night 3 (unchanged again) disk written / night 1: "
              f"{spread([r['night3_pct_night1'] for r in results])}% (target <= 10); / archived: "
              f"{spread([r['night3']['written'] / r['archived'] for r in results])}x")
    shown = ["night1", "night2", "night3"][:args.nights]
    print("seconds: " + ", ".join(f"{n[:5]} {n[5:]} {spread([r[n]['s'] for r in results])}" for n in shown))
    print("peak RSS MB: " + ", ".join(f"{n[:5]} {n[5:]} {spread([r[n]['rss_mb'] for r in results], '{:.0f}')}"
                                      for n in shown[:2]))


if __name__ == "__main__":
    main()
