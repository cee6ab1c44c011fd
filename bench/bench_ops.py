"""Operations benchmark: fixity throughput (local and S3) and reindex at scale.

    /work/venv/bin/python bench/bench_ops.py                 # 1 GB fixity, 1,000,000-item reindex
    /work/venv/bin/python bench/bench_ops.py --gb 0.2 --items 100000 250000   # quicker

Fixity: ~1 GB of real WARC files (written by ``archiver.warc.WarcFile``, 1 MB incompressible
media responses), stored in a local store and in ``moto_server`` (started here, on loopback),
indexed, then ``run_fixity`` over all of them. The floor is ``sha256sum`` of the same files in
the same run (page cache warm for both); target: fixity >= 0.7x the floor.

Reindex: WARC files holding N items as the capture pipeline writes them (``items/1`` metadata
records, 500 changes each, with text, content and native JSON), then ``archiver reindex``'s
library function in a child process, timed, with its peak RSS. Target for 1,000,000 items:
<= 5 minutes and <= 500 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archiver.fixity import run_fixity  # noqa: E402
from archiver.http import Exchange  # noqa: E402
from archiver.index import open_index  # noqa: E402
from archiver.ingest import ingest_warc  # noqa: E402
from archiver.store import LocalStore, S3Store, sha256_file  # noqa: E402
from archiver.warc import WarcFile  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
ACCOUNT = "bench-facebook"


def _media_exchange(n: int, size: int) -> Exchange:
    return Exchange("GET", f"https://scontent.example/{n}.jpg", [("Accept", "*/*")], 200, "OK",
                    [("Content-Type", "image/jpeg")], io.BytesIO(os.urandom(size)), T0 + timedelta(seconds=n),
                    media=True)


def make_media_warcs(root: Path, total_bytes: int, per_file: int = 100_000_000) -> list[Path]:
    files, n = [], 0
    while sum(p.stat().st_size for p in files) < total_bytes:
        path = root / f"warcs/{ACCOUNT}/2026/01/{ACCOUNT}-20260101000000-{len(files):05d}-bench.warc.gz"
        warc = WarcFile(path, {"software": "bench"})
        while warc.size < per_file:
            warc.write_exchange(_media_exchange(n, 1_000_000))
            n += 1
        files.append(warc.close().path)
    return files


def _item(n: int, post: int) -> dict:
    pid = f"{post}_{n}" if n != post else f"1000001_{post}"
    kind = "post" if n == post else "comment"
    text = f"Comment {n} on post {post}: residents discussing the road closure near Drexel Ave"
    native = {"id": pid, "message": text, "created_time": "2026-01-01T00:00:00+0000",
              "from": {"name": f"Resident {n % 997}", "id": str(800000 + n % 997)}, "like_count": n % 7}
    return {"events": ["new"], "item": {
        "platform_id": pid, "kind": kind, "root": f"1000001_{post}", "parent": None if kind == "post" else f"1000001_{post}",
        "author": native["from"]["name"], "author_id": native["from"]["id"], "is_department": kind == "post",
        "text": text, "created_at": "2026-01-01T00:00:00Z", "url": f"https://www.facebook.com/x/{pid}",
        "hidden": False, "counts": {"likes": n % 7}},
        "version": {"hash": hashlib.sha256(text.encode() + str(n).encode()).hexdigest(), "text": text,
                    "content": {"message": text}, "native": native}}


def make_item_warcs(root: Path, items: int, per_file: int = 50_000, per_record: int = 500) -> None:
    n = 0
    serial = 0
    while n < items:
        serial += 1
        path = root / f"warcs/{ACCOUNT}/2026/01/{ACCOUNT}-20260101000000-{serial:05d}-items.warc.gz"
        warc = WarcFile(path, {"software": "bench"})
        in_file = 0
        while in_file < per_file and n < items:
            changes = []
            for _ in range(min(per_record, items - n)):
                changes.append(_item(n, n - n % 100))  # a post every 100 items, its comments after it
                n += 1
                in_file += 1
            warc.write_metadata("items/1", f"urn:bench:{serial}", {
                "run": f"bench-run-{serial}", "account": ACCOUNT, "platform": "facebook", "seen": [],
                "changes": changes, "threads": []}, T0 + timedelta(seconds=n))
        warc.close()


def _mbps(nbytes: int, seconds: float) -> float:
    return nbytes / 1e6 / seconds


def sha256sum_floor(files: list[Path]) -> float:
    """Best of two runs of coreutils ``sha256sum`` over the files (page cache warm)."""
    times = []
    for _ in range(2):
        start = time.monotonic()
        subprocess.run(["sha256sum", *map(str, files)], check=True, stdout=subprocess.DEVNULL)
        times.append(time.monotonic() - start)
    return min(times)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    exe = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto_server did not start")


def bench_fixity(work: Path, gb: float) -> None:
    import boto3

    spool = work / "spool"
    files = make_media_warcs(spool, int(gb * 1e9))
    total = sum(p.stat().st_size for p in files)
    print(f"fixity: {len(files)} WARC files, {total / 1e6:.0f} MB")
    local = LocalStore(work / "store")
    db = open_index(work / "local.db")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    moto, endpoint = start_moto()
    try:
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="bench")
        s3 = S3Store("s3://bench/archive", endpoint)
        s3db = open_index(work / "s3.db")
        for path in files:
            key = "warcs/" + path.relative_to(spool).as_posix()
            sha, size = sha256_file(path)
            local.put(key, path, sha)
            s3.put(key, path, sha)
            for d in (db, s3db):
                with open(path, "rb") as fh:
                    ingest_warc(d, key, fh, sha256=sha, size=size, stored_at=T0)
        stored = sorted((work / "store").rglob("*.warc.gz"))
        floor = sha256sum_floor(stored)
        floor_mbps = _mbps(total, floor)
        print(f"  sha256sum (floor)      {floor:6.2f} s  {floor_mbps:7.1f} MB/s")
        for label, d, store, workers in (("fixity local", db, local, 4), ("fixity local 1 thread", db, local, 1),
                                         ("fixity S3 (moto)", s3db, s3, 4)):
            report = run_fixity(d, store, workers=workers)
            assert report.ok and report.bytes == total, report.problems
            ratio = report.mb_per_s / floor_mbps
            verdict = "meets" if ratio >= 0.7 else "BELOW"
            print(f"  {label:22} {report.seconds:6.2f} s  {report.mb_per_s:7.1f} MB/s  {ratio:.2f}x floor "
                  f"({verdict} the 0.7x target)")
    finally:
        moto.terminate()
        moto.wait(10)


CHILD = """
import json, sys, time
from pathlib import Path
from archiver.reindex import reindex
from archiver.store import LocalStore
report = reindex(LocalStore(sys.argv[1]), Path(sys.argv[2]))
# VmHWM, not ru_maxrss: Linux carries the parent's peak across fork+exec into ru_maxrss.
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"items": report.items, "objects": report.objects, "seconds": report.seconds,
                  "rss_mb": hwm / 1024}))
"""


def bench_reindex(work: Path, items: int) -> None:
    root = work / f"items-{items}"
    start = time.monotonic()
    make_item_warcs(root, items)
    made = time.monotonic() - start
    size = sum(p.stat().st_size for p in root.rglob("*.warc.gz"))
    out = subprocess.run([sys.executable, "-c", CHILD, str(root), str(work / f"reindex-{items}.db")],
                         check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["items"] == items, result
    rate = items / result["seconds"]
    projected = 1_000_000 / rate
    print(f"reindex {items:>9,} items ({size / 1e6:.0f} MB of WARC, generated in {made:.0f} s): "
          f"{result['seconds']:6.1f} s, {rate:,.0f} items/s, peak RSS {result['rss_mb']:.0f} MB; "
          f"1M items at this rate: {projected / 60:.1f} min (target <= 5 min, <= 500 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.0, help="GB of WARC for the fixity benchmark (0 to skip)")
    parser.add_argument("--items", type=int, nargs="*", default=[1_000_000], help="reindex sizes")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-ops-"))
    try:
        if args.gb:
            bench_fixity(work, args.gb)
        for n in args.items:
            bench_reindex(work, n)
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
