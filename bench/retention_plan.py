"""Benchmark: assign every item a series and plan a disposition over a synthetic index.

    .venv/bin/python bench/retention_plan.py [items] [objects] [runs]

Prints seconds for assignment and planning, and the ratio to a baseline: one plain pass over
the item-to-object view (the least work any plan must do)."""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import fmt_spread, interleaved, print_machine, ratios  # noqa: E402

from archiver.config import load_settings  # noqa: E402
from archiver.index import item_id, open_index  # noqa: E402
from archiver.retention.assign import assign_new_items  # noqa: E402
from archiver.retention.disposition import plan_disposition  # noqa: E402


def build(db, items: int, objects: int) -> None:
    start = datetime(2015, 1, 1, tzinfo=timezone.utc)
    conn = db.conn
    conn.execute("BEGIN")
    for o in range(objects):
        conn.execute("INSERT INTO objects (key, account, sha256, size, stored_at) VALUES (?,?,?,?,?)",
                     (f"o{o}.warc.gz", "acct", "0" * 64, 1_000_000, "2015-01-01T00:00:00Z"))
    per = max(1, items // objects)
    for n in range(items):
        created = (start + timedelta(hours=n * 24 * 3650 // items)).strftime("%Y-%m-%dT%H:%M:%SZ")
        record = f"r{n}"
        key = conn.execute("INSERT INTO records (record_id, object_key, offset, length, type) VALUES (?,?,?,?,?)",
                           (record, f"o{min(n // per, objects - 1)}.warc.gz", n, 1, "response")).lastrowid
        rowid = conn.execute(
            "INSERT INTO items (id, account, platform, platform_id, kind, root, is_department, text, created_at,"
            " status, first_seen, last_seen, record) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (item_id("facebook", "acct", str(n)), "acct", "facebook", str(n), "comment", "0", n % 2, "t", created,
             "live", created, created, key)).lastrowid
        conn.execute("INSERT INTO versions (item_rowid, n, hash, first_seen, last_seen, record) VALUES (?,?,?,?,?,?)",
                     (rowid, 1, bytes(32), created, created, key))
    conn.execute("COMMIT")


def measure_once(items: int, objects: int) -> dict[str, float]:
    """A fresh index each run: assignment changes it, so a second pass would find nothing to do."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "archiver.toml"
        cfg.write_text(f'[index]\npath = "{tmp}/index.db"\n[storage]\nurl = "{tmp}/store"\n')
        settings = load_settings(cfg, environ={})
        db = open_index(settings.index_path)
        build(db, items, objects)
        now = datetime(2024, 1, 1, tzinfo=timezone.utc)
        t = time.perf_counter()
        db.conn.execute("SELECT object_key, item_id FROM item_objects").fetchall()
        baseline = time.perf_counter() - t
        t = time.perf_counter()
        assign_new_items(db, settings, now=now)
        assign = time.perf_counter() - t
        t = time.perf_counter()
        plan = plan_disposition(db, settings, date(2024, 1, 1))
        planning = time.perf_counter() - t
        db.conn.close()
    return {"baseline": baseline, "assign": assign, "plan": planning, "eligible_objects": plan["totals"]["objects"],
            "eligible_items": plan["totals"]["items"]}


def main() -> None:
    items = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    objects = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    print_machine(Path(tempfile.gettempdir()), "retention_plan")
    results = interleaved({"build, scan, assign, plan": lambda: measure_once(items, objects)}, runs)
    r = results["build, scan, assign, plan"]
    base = [x["baseline"] for x in r]
    print(f"items={items} objects={objects}; min / median / max over {runs} runs")
    print(f"baseline (scan item_objects): {fmt_spread(base, '{:.3f}', ' s')}")
    for name, label in (("assign", "assign all items:           "), ("plan", "plan disposition:           ")):
        secs = [x[name] for x in r]
        print(f"{label} {fmt_spread(secs, '{:.3f}', ' s')}  ({fmt_spread(ratios(secs, base), '{:.1f}', 'x')} baseline,"
              f" per run)")
    print(f"{r[-1]['eligible_objects']} objects / {r[-1]['eligible_items']} items eligible")


if __name__ == "__main__":
    main()
