"""Capture benchmark (issue 2): ``python bench/bench_collect.py [--posts 200 --comments 100]``.

A local Graph API replay of POSTS x COMMENTS items; in the same run:
* ``archiver collect`` end to end (subprocess): items/s and peak RSS;
* the baseline: the same pages fetched with requests and written with bare warcio
  (no parsing, no index, no upload) in a subprocess — the ratio archiver/baseline;
* a second ``collect`` with nothing changed: bytes added as a % of the first run's bytes;
* peak RSS at a quarter and at four times the size (``collect`` alone), to show memory stays
  flat as items grow.

``collect`` commits every ``collect.commit_items`` (default 2,000) items from a second process
(``archiver.committer``); its CPU seconds are counted in collect's, and the peak RSS is the
larger of the two processes'. ``ARCHIVER_COLLECT_COMMIT_ITEMS=0`` measures one file committed
after capture.

The archiver's modules are compiled to bytecode first, as ``pip install`` leaves them: a
checkout run with ``PYTHONDONTWRITEBYTECODE`` set would otherwise recompile every module in
each process (about 0.1 s each), which the baseline's installed libraries never do.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archiver.replay import ReplayServer  # noqa: E402
from archiver.replay.facebook import FacebookSimulator  # noqa: E402
from archiver.replay.samples import facebook_synthetic  # noqa: E402

TOKEN = "bench-token"

BASELINE = r'''
import sys, requests, json
from warcio.warcwriter import WARCWriter
from warcio.statusandheaders import StatusAndHeaders
import io
api, page, out, token = sys.argv[1:5]
s = requests.Session()
n = 0
with open(out, "wb") as fh:
    w = WARCWriter(fh, gzip=True, warc_version="1.1")
    def fetch(url, params=None):
        global n
        r = s.get(url, params=params, headers={"Accept-Encoding": "identity"})
        body = r.content
        http = StatusAndHeaders(f"{r.status_code} {r.reason}", list(r.headers.items()), protocol="HTTP/1.1")
        rec = w.create_warc_record(r.url, "response", payload=io.BytesIO(body), length=len(body), http_headers=http)
        req = w.create_warc_record(r.url, "request", payload=io.BytesIO(b""), length=0,
              http_headers=StatusAndHeaders("GET / HTTP/1.1", [], protocol="HTTP/1.1", is_http_request=True))
        w.write_request_response_pair(req, rec)
        n += 1
        return json.loads(body)
    url, params = f"{api}/{page}/posts", {"access_token": token, "limit": 100}
    while url:
        body = fetch(url, params); params = None
        for post in body["data"]:
            curl, cparams = f"{api}/{post['id']}/comments", {"access_token": token, "filter": "stream", "limit": 100}
            while curl:
                c = fetch(curl, cparams); cparams = None
                curl = c.get("paging", {}).get("next")
        url = body.get("paging", {}).get("next")
print(n)
'''


def run_child(cmd: list[str], env: dict) -> tuple[float, int, subprocess.CompletedProcess, float]:
    """Run a subprocess; return (seconds, its own peak RSS in KB, result, its CPU seconds).

    CPU seconds (user + system) are reported beside wall time: on a shared 2-core machine
    they are the steadier figure when something else is running."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return (elapsed, usage.ru_maxrss, subprocess.CompletedProcess(cmd, proc.returncode, out, err),
            usage.ru_utime + usage.ru_stime)


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure(posts: int, comments: int, workdir: Path, rss_only: bool = False) -> dict:
    with ReplayServer() as server:
        sim = FacebookSimulator("1000001", token=TOKEN)
        base = server.mount(sim)
        facebook_synthetic(sim, datetime.now(timezone.utc) - timedelta(days=1), posts, comments)
        api = f"{base}/{sim.version}"
        items = posts * (comments + 1)
        cfg = workdir / "archiver.toml"
        cfg.write_text(
            f'[storage]\nurl = "{workdir / "store"}"\n[index]\npath = "{workdir / "index.db"}"\n'
            f'[collect]\nretry_delay = 0.0\n[[accounts]]\nname = "bench"\nplatform = "facebook"\n'
            f'id = "1000001"\ntoken_env = "BENCH_TOKEN"\napi_base = "{api}"\n', encoding="utf-8")
        env = {**os.environ, "BENCH_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
        if rss_only:
            t1, rss1, res, _ = run_child([sys.executable, "-m", "archiver", "--config", str(cfg), "collect"], env)
            assert res.returncode == 0, res.stderr
            return {"items": items, "collect_s": t1, "peak_rss_mb": rss1 / 1024}
        base_t, base_rss, res, base_cpu = run_child([sys.executable, "-c", BASELINE, api, "1000001",
                                           str(workdir / "baseline.warc.gz"), TOKEN], env)
        assert res.returncode == 0, res.stderr
        t1, rss1, res, cpu1 = run_child([sys.executable, "-m", "archiver", "--config", str(cfg), "collect"], env)
        assert res.returncode == 0, res.stderr
        bytes1 = dir_bytes(workdir / "store")
        t2, rss2, res, _ = run_child([sys.executable, "-m", "archiver", "--config", str(cfg), "collect"], env)
        assert res.returncode == 0, res.stderr
        bytes2 = dir_bytes(workdir / "store") - bytes1
    return {
        "items": items, "collect_s": t1, "items_per_s": items / t1, "peak_rss_mb": rss1 / 1024,
        "collect_cpu_s": cpu1, "baseline_cpu_s": base_cpu, "cpu_ratio": cpu1 / base_cpu,
        "baseline_s": base_t, "baseline_items_per_s": items / base_t, "ratio": t1 / base_t,
        "rerun_s": t2, "rerun_bytes_pct": 100.0 * bytes2 / bytes1, "first_run_bytes": bytes1,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--posts", type=int, default=200)
    ap.add_argument("--comments", type=int, default=100)
    args = ap.parse_args()
    compileall.compile_dir(ROOT / "archiver", quiet=1)
    results = {}
    for label, posts in (("quarter", max(1, args.posts // 4)), ("full", args.posts), ("four_times", 4 * args.posts)):
        with tempfile.TemporaryDirectory() as tmp:
            results[label] = measure(posts, args.comments, Path(tmp), rss_only=label == "four_times")
    full, quarter, large = results["full"], results["quarter"], results["four_times"]
    print(json.dumps(results, indent=2))
    print(f"\ncollect: {full['items']} items in {full['collect_s']:.2f} s = {full['items_per_s']:.0f} items/s "
          f"(target >= 5000)")
    print(f"baseline (requests + bare warcio): {full['baseline_s']:.2f} s = {full['baseline_items_per_s']:.0f} items/s;"
          f" ratio archiver/baseline = {full['ratio']:.2f} (target <= 2.0)")
    print(f"CPU time (user+system): collect {full['collect_cpu_s']:.2f} s = {full['items'] / full['collect_cpu_s']:.0f}"
          f" items/CPU-s, baseline {full['baseline_cpu_s']:.2f} s; ratio {full['cpu_ratio']:.2f}")
    print(f"peak RSS: {quarter['peak_rss_mb']:.0f} MB at {quarter['items']} items, {full['peak_rss_mb']:.0f} MB at "
          f"{full['items']}, {large['peak_rss_mb']:.0f} MB at {large['items']} (target <= 300 MB, flat)")
    print(f"unchanged re-run added {full['rerun_bytes_pct']:.1f}% of the first run's {full['first_run_bytes']} bytes"
          f" (target <= 15%)")


if __name__ == "__main__":
    main()
