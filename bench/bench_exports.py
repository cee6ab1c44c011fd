"""Export benchmark (issue 6): one command, prints figures and the ratio to each target.

    /work/venv/bin/python bench/bench_exports.py [--small]

1. request bundle of ~1,000 items (100 threads) with PDFs       target <= 30 s
2. e-discovery volume of ~10,000 items with PDFs                 target <= 300 s
Peak RSS of each (measured in a fresh child process)            target <= 500 MB

The archive is built with real WARC records in a LocalStore and a real SQLite index
(tests/exporters/archive_fixture.py). ``--small`` runs a tenth of the size (smoke test).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"request": 30.0, "ediscovery": 300.0}
RSS_TARGET_MB = 500.0


def child(kind: str, root: str, threads: int, comments: int) -> None:
    """Runs in a fresh process: build the archive, export, report seconds and items."""
    sys.path.insert(0, str(ROOT))
    from datetime import datetime, timezone

    from archiver.config import load_settings
    from archiver.exporters.ediscovery import EdiscoverySpec, export_ediscovery
    from archiver.exporters.request import RequestSpec, export_request
    from archiver.exporters.select import Selection
    from tests.exporters.archive_fixture import build_archive

    fx = build_archive(Path(root) / "archive", threads=threads, comments=comments)
    db = fx.db()
    settings = load_settings(None, environ={})
    sel = Selection("2024-03-01", "2024-03-31")
    now = datetime(2024, 4, 5, tzinfo=timezone.utc)
    start = time.perf_counter()
    if kind == "request":
        result = export_request(settings, db, fx.store, RequestSpec("B-1", "bench", "2024-04-01", sel,
                                                                    Path(root) / "out"), now=now)
        items = result.items
    else:
        result = export_ediscovery(settings, db, fx.store, EdiscoverySpec("bench", "BEN", sel, Path(root) / "out"),
                                   now=now)
        items = result.documents
    print(json.dumps({"seconds": time.perf_counter() - start, "items": items}))


def measure(kind: str, threads: int, comments: int) -> dict:
    with tempfile.TemporaryDirectory() as root:
        proc = subprocess.run([sys.executable, __file__, "--child", kind, root, str(threads), str(comments)],
                              capture_output=True, text=True, check=True)
        figures = json.loads(proc.stdout.strip().splitlines()[-1])
    # ru_maxrss of the largest finished child so far (KiB on Linux); children run one at a time.
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return figures


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        return
    scale = 10 if "--small" in sys.argv else 1
    # build_archive: a thread = 1 post + N comments + a reply to every third comment (+ media).
    runs = [("request", 100 // scale, 7), ("ediscovery", 900 // scale, 8)]
    for kind, threads, comments in runs:
        f = measure(kind, threads, comments)
        target = TARGETS[kind] / scale
        print(f"{kind:11s} {f['items']:6d} items/documents  {f['seconds']:7.1f} s  "
              f"(target {target:.0f} s, ratio {f['seconds'] / target:.2f})  "
              f"peak RSS {f['peak_rss_mb']:.0f} MB (target {RSS_TARGET_MB:.0f}, ratio {f['peak_rss_mb'] / RSS_TARGET_MB:.2f})")


if __name__ == "__main__":
    main()
