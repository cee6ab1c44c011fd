"""Export benchmark (issue 6): one command, prints figures and the ratio to each target.

    /work/venv/bin/python bench/bench_exports.py [--small] [--only request|ediscovery] [--workers N] [--runs 3]

1. request bundle of ~1,000 items (100 threads) with PDFs       target <= 30 s
2. e-discovery volume of ~10,000 items with PDFs                 target <= 300 s
   baseline: the same export in one process (workers=0) over a 2-day slice of the same
   archive, extrapolated per document: what the page-layout workers buy
Peak memory of each: RSS summed over the export process and its page-layout workers, sampled
from /proc every 0.2 s (and PSS, which counts shared pages once)   target <= 500 MB

The archive is built with real WARC records in a LocalStore and a real SQLite index
(tests/exporters/archive_fixture.py). ``--small`` runs a tenth of the size (smoke test).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from common import descendants, fmt_spread, interleaved, print_machine, process_parents, ratios  # noqa: E402

TARGETS = {"request": 30.0, "ediscovery": 300.0}
RSS_TARGET_MB = 500.0
BASELINE_DAYS = ("2024-03-01", "2024-03-02")  # the slice the one-process baseline exports


def child(kind: str, root: str, threads: int, comments: int, workers: int) -> None:
    """Runs in a fresh process: build the archive, export, report seconds and items."""
    sys.path.insert(0, str(ROOT))
    from datetime import datetime, timezone

    from archiver.config import load_settings
    from archiver.exporters.ediscovery import EdiscoverySpec, export_ediscovery
    from archiver.exporters.request import RequestSpec, export_request
    from archiver.exporters.select import Selection
    # By its path: pywb installs a package named ``tests`` that would shadow this checkout's.
    spec = importlib.util.spec_from_file_location("archive_fixture", ROOT / "tests/exporters/archive_fixture.py")
    fixture = importlib.util.module_from_spec(spec)
    sys.modules["archive_fixture"] = fixture
    spec.loader.exec_module(fixture)
    build_archive = fixture.build_archive

    fx = build_archive(Path(root) / "archive", threads=threads, comments=comments)
    db = fx.db()
    settings = load_settings(None, environ={})
    sel = Selection("2024-03-01", "2024-03-31") if kind != "baseline" else Selection(*BASELINE_DAYS)
    now = datetime(2024, 4, 5, tzinfo=timezone.utc)
    print(json.dumps({"phase": "export"}), flush=True)  # the RSS sampler counts from here
    start = time.perf_counter()
    if kind == "request":
        result = export_request(settings, db, fx.store, RequestSpec("B-1", "bench", "2024-04-01", sel,
                                                                    Path(root) / "out"), now=now)
        items = result.items
    else:
        spec = EdiscoverySpec("bench", "BEN", sel, Path(root) / "out", workers=0 if kind == "baseline" else workers)
        result = export_ediscovery(settings, db, fx.store, spec, now=now)
        items = result.documents
    print(json.dumps({"seconds": time.perf_counter() - start, "items": items}), flush=True)


def _tree_memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) summed over ``pid`` and all its descendants (Linux /proc). The RSS sum counts
    shared library pages once per process (an upper bound); PSS splits them between the
    processes sharing them, so its sum is what the production really holds."""
    tree = descendants(process_parents(), pid)
    rss = pss = 0
    for p in tree:
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                fields = dict(line.split(":", 1) for line in fh if line.startswith(("Rss:", "Pss:")))
        except OSError:
            continue
        rss += int(fields["Rss"].split()[0])
        pss += int(fields["Pss"].split()[0])
    return rss / 1024, pss / 1024


def measure(kind: str, threads: int, comments: int, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as root:
        proc = subprocess.Popen([sys.executable, __file__, "--child", kind, root, str(threads), str(comments),
                                 str(workers)], stdout=subprocess.PIPE, text=True)
        peak = {"rss": 0.0, "pss": 0.0, "on": False}

        def sample() -> None:
            while proc.poll() is None:
                if peak["on"]:
                    rss, pss = _tree_memory_mb(proc.pid)
                    peak["rss"], peak["pss"] = max(peak["rss"], rss), max(peak["pss"], pss)
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        lines = []
        for line in proc.stdout:
            lines.append(line)
            peak["on"] = peak["on"] or '"phase"' in line
        if proc.wait() != 0:
            raise SystemExit(f"{kind} benchmark child failed (exit {proc.returncode})")
        sampler.join()
        figures = json.loads(lines[-1])
    figures["peak_rss_mb"], figures["peak_pss_mb"] = peak["rss"], peak["pss"]
    return figures


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="a tenth of the size (smoke test)")
    parser.add_argument("--only", choices=["request", "ediscovery"], help="run one export only")
    parser.add_argument("--workers", type=int, default=2, help="page-layout processes for the e-discovery run")
    parser.add_argument("--runs", type=int, default=3, help="runs of each export (and of its baseline)")
    args = parser.parse_args()
    scale = 10 if args.small else 1
    print_machine(Path(tempfile.gettempdir()), "bench_exports")
    # build_archive: a thread = 1 post + N comments + a reply to every third comment (+ media).
    plan = [("request", 100 // scale, 7), ("ediscovery", 900 // scale, 8)]
    for kind, threads, comments in plan:
        if args.only and kind != args.only:
            continue
        measures = {kind: lambda k=kind, t=threads, c=comments: measure(k, t, c, args.workers)}
        if kind == "ediscovery":
            measures["baseline"] = lambda t=threads, c=comments: measure("baseline", t, c, 0)
        results = interleaved(measures, args.runs)
        f = results[kind]
        target = TARGETS[kind] / scale
        secs = [r["seconds"] for r in f]
        print(f"{kind:11s} {f[0]['items']:6d} items/documents, min / median / max over {args.runs} runs:"
              f" {fmt_spread(secs, '{:.1f}', ' s')} (target {target:.0f} s)"
              f"  peak RSS {fmt_spread([r['peak_rss_mb'] for r in f], '{:.0f}', ' MB')} (target {RSS_TARGET_MB:.0f};"
              f" PSS {fmt_spread([r['peak_pss_mb'] for r in f], '{:.0f}', ' MB')})", flush=True)
        if kind == "ediscovery":
            b = results["baseline"]
            one = [r["seconds"] / r["items"] * f[0]["items"] for r in b]
            print(f"{'baseline':11s} {b[0]['items']:6d} documents in one process:"
                  f" {fmt_spread([r['seconds'] for r in b], '{:.1f}', ' s')} -> {fmt_spread(one, '{:.1f}', ' s')} for"
                  f" {f[0]['items']}; with {args.workers} workers {fmt_spread(ratios(one, secs), '{:.2f}', 'x')} faster"
                  f" (per run)  peak RSS {fmt_spread([r['peak_rss_mb'] for r in b], '{:.0f}', ' MB')}", flush=True)


if __name__ == "__main__":
    main()
