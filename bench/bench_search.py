"""Search latency on a synthetic archive of 1,000,000 items (issue 5 benchmark).

    /work/venv/bin/python bench/bench_search.py [--items 1000000] [--repeat 5] [--dir DIR]

Builds an index in the real schema directly with SQL (5 years of dates, post/comment/reply
text of realistic lengths, ~8% edited/hidden/deleted), timing the FTS5 build separately. Then
runs 20 typical queries (date range alone; + one word; phrase; author; status) three ways in
the same run: as raw SQLite SQL written by hand (the floor), through ``archiver.search.search``
(the CLI path), and as the HTTP search page served by waitress in a separate process. Prints
p50/p95 per path and the ratios to the floor. Targets: FTS build <= 60 s; HTTP p95 <= 50 ms
and <= 1.5x the floor.
"""

from __future__ import annotations

import argparse
import http.client
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path

from archiver.index import open_index
from archiver.ftsquery import to_fts
from archiver.search import COUNT_CAP, RESULT_FIELDS, SearchQuery, search
from archiver.timefmt import day_range_utc
from archiver.web.users import add_user

TZ = "America/Chicago"
START = datetime(2020, 1, 1, tzinfo=timezone.utc)
DAYS = 5 * 365
PAGE = 50
STOP = ["the", "to", "and", "a", "of", "is", "in", "on", "for", "this", "you", "it", "at", "be", "are",
        "was", "with", "that", "they", "we", "not", "have", "our", "my", "just", "so", "but", "if", "what", "all"]
TOPICS = ["drexel", "town", "square", "closure", "shooting", "crash", "traffic", "police", "fire", "school",
          "parade", "theft", "officer", "community", "festival", "snow", "detour", "missing", "arrest", "lake"]


def vocabulary(rng: random.Random, n: int = 20000) -> tuple[list[str], list[float]]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = STOP + ["".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(n)]
    for k, topic in enumerate(TOPICS):  # topic words are neither stop words nor hapaxes: ranks 40..2000
        words.insert(40 + k * 100, topic)
    cum, total = [], 0.0
    for rank in range(1, len(words) + 1):
        total += 1.0 / rank  # Zipf: a few very common words, a long tail of rare ones
        cum.append(total)
    return words, cum


def build(path: Path, n: int, seed: int = 5) -> dict:
    rng = random.Random(seed)
    words, cum = vocabulary(rng)
    authors = [f"{rng.choice(['Jane', 'John', 'Maria', 'Ahmed', 'Li', 'Kim', 'Pat'])} "
               f"{''.join(rng.choice('abcdefghij') for _ in range(6)).title()}" for _ in range(50000)]
    db = open_index(path)
    conn = db.conn
    trigger = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'items_ai'").fetchone()[0]
    conn.execute("DROP TRIGGER items_ai")  # insert first, then build the FTS index in one pass
    conn.execute("INSERT INTO accounts VALUES ('ocpd-facebook', 'facebook', '1000001', NULL), "
                 "('ocpd-x', 'x', '42', NULL)")
    t0 = time.perf_counter()
    step = DAYS * 86400 / n
    rows, root = [], "p0"
    conn.execute("BEGIN")
    for i in range(n):
        created = START + timedelta(seconds=i * step + rng.random() * step)
        r = rng.random()
        kind = "post" if r < 0.08 or i == 0 else ("comment" if r < 0.8 else "reply")
        if kind == "post":
            root = f"p{i}"
            length, author = rng.randint(20, 90), "Oak Creek Police Department"
        else:
            length, author = rng.randint(3, 45), rng.choice(authors)
        text = " ".join(rng.choices(words, cum_weights=cum, k=length))
        s = rng.random()
        status = "live" if s < 0.92 else "edited" if s < 0.96 else "hidden" if s < 0.98 else "deleted"
        stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append((f"{i:016x}", "ocpd-facebook" if i % 5 else "ocpd-x", "facebook" if i % 5 else "x",
                     f"{i}", kind, None if kind == "post" else root, root, author, f"a{hash(author) % 99999}",
                     text, stamp, status, int(rng.random() < 0.1), stamp, stamp))
        if len(rows) == 20000:
            _insert(conn, rows)
    _insert(conn, rows)
    conn.execute("COMMIT")
    inserted = time.perf_counter() - t0
    t1 = time.perf_counter()
    conn.execute("INSERT INTO items_fts(items_fts) VALUES ('rebuild')")
    fts = time.perf_counter() - t1
    conn.execute(trigger)
    conn.execute("ANALYZE")
    return {"insert_s": inserted, "fts_build_s": fts}


def _insert(conn, rows):
    conn.executemany(
        "INSERT INTO items (id, account, platform, platform_id, kind, parent, root, author, author_id, text, "
        "created_at, status, has_media, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows)
    rows.clear()


def queries(db) -> list[tuple[str, dict]]:
    author = db.conn.execute("SELECT author FROM items WHERE kind = 'comment' LIMIT 1 OFFSET 777").fetchone()[0]
    return [
        ("date", {"from": "2023-03-01", "to": "2023-03-31"}),
        ("date", {"from": "2022-01-01", "to": "2022-12-31"}),
        ("date", {"from": "2024-07-04", "to": "2024-07-04"}),
        ("date", {"from": "2021-06-01", "to": "2021-06-07"}),
        ("word", {"from": "2023-03-01", "to": "2023-03-31", "q": "closure"}),
        ("word", {"from": "2022-01-01", "to": "2022-12-31", "q": "festival"}),
        ("word", {"from": "2020-01-01", "to": "2024-12-31", "q": "drexel"}),
        ("word", {"from": "2021-01-01", "to": "2021-03-31", "q": "lake"}),
        ("phrase", {"q": '"drexel town"'}),
        ("phrase", {"from": "2022-01-01", "to": "2022-12-31", "q": '"town square"'}),
        ("phrase", {"q": '"police fire"'}),
        ("phrase", {"from": "2023-01-01", "to": "2023-06-30", "q": '"shooting crash"'}),
        ("author", {"author": author}),
        ("author", {"author": author.split()[1], "from": "2021-01-01", "to": "2023-12-31"}),
        ("author", {"author": "Oak Creek Police Department", "from": "2024-01-01", "to": "2024-01-31"}),
        ("author", {"author": author.split()[0], "from": "2022-05-01", "to": "2022-05-31"}),
        ("status", {"status": ["hidden"], "from": "2023-01-01", "to": "2023-12-31"}),
        ("status", {"status": ["deleted"]}),
        ("status", {"status": ["hidden", "deleted"], "from": "2024-03-01", "to": "2024-03-31"}),
        ("status", {"status": ["edited"], "from": "2020-01-01", "to": "2020-01-31", "q": "police"}),
    ]


def to_query(p: dict) -> SearchQuery:
    return SearchQuery(date_from=p.get("from"), date_to=p.get("to"), text=p.get("q"), author=p.get("author"),
                       status=list(p.get("status", [])), limit=PAGE)


def raw_floor(conn, p: dict, snippets: bool = True) -> None:
    """What the search page shows from the index -- the page of rows, their snippets, the post
    each comment belongs to, and the (capped) count -- as hand-written SQL over the same schema,
    without the library (the floor). Dates become keys of items.date_key / the items_fts rowid
    (Unix seconds << 31, see migration m_search_date_key); words and author words go to FTS5
    with the key range and order, the rest is checked on the joined row. ``snippets=False``
    leaves out the snippets and thread posts (reported as "floor: rows and count only")."""
    lo, hi = day_range_utc(p.get("from"), p.get("to"), TZ)
    k_lo = int(datetime.fromisoformat(lo.replace("Z", "+00:00")).timestamp()) << 31 if lo else None
    k_hi = int(datetime.fromisoformat(hi.replace("Z", "+00:00")).timestamp()) << 31 if hi else None
    matches = []
    if p.get("q"):
        matches.append(to_fts(p["q"]))
    if p.get("author"):  # the name words as a phrase, the last one a prefix
        words = " ".join(re.findall(r"[^\W_]+", p["author"]))
        matches.append(f'author : "{words}"*')
    cols = ", ".join(f"i.{c}" for c in RESULT_FIELDS)
    if matches:
        key, params = "items_fts.rowid", [" AND ".join(f"({m})" for m in matches)]
        sql = (" FROM items_fts CROSS JOIN items i ON i.date_key = items_fts.rowid"
               " WHERE items_fts MATCH ?")
    else:
        key, params, sql = "i.date_key", [], " FROM items i WHERE 1"
    if k_lo is not None:
        sql += f" AND {key} >= ?"
        params.append(k_lo)
    if k_hi is not None:
        sql += f" AND {key} < ?"
        params.append(k_hi)
    if p.get("status"):
        sql += f" AND i.status IN ({', '.join('?' * len(p['status']))})"
        params += p["status"]
    page = sql
    if snippets:
        if p.get("q"):
            cols += ", snippet(items_fts, 0, '[', ']', '…', 32)"
        # the post each comment's thread hangs from, shown under it
        cols += ", r.id, r.text"
        page = sql.replace(" WHERE ", " LEFT JOIN items r ON i.kind != 'post' AND r.account = i.account"
                                      " AND r.platform_id = i.root WHERE ", 1)
    conn.execute(f"SELECT {cols}{page} ORDER BY {key} DESC LIMIT {PAGE}", params).fetchall()
    if matches and not p.get("status"):
        sql = sql.replace(" CROSS JOIN items i ON i.date_key = items_fts.rowid", "")  # nothing to check on items
    conn.execute(f"SELECT count(*) FROM (SELECT 1{sql} LIMIT {COUNT_CAP + 1})", params).fetchone()


def timed(fn, repeat: int) -> list[float]:
    fn()  # warm-up (page cache)
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


class Http:
    """The search page over one keep-alive connection, logged in as a legal user."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        html = self.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        body = urllib.parse.urlencode({"csrf_token": token, "name": "bench", "password": "benchmark-pass"})
        self.conn.request("POST", "/login", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": self.cookie})
        resp = self.conn.getresponse()
        resp.read()
        self.cookie = resp.getheader("Set-Cookie").split(";")[0]
        assert resp.status == 302, resp.status

    cookie = ""

    def get(self, path: str) -> str:
        self.conn.request("GET", path, headers={"Cookie": self.cookie} if self.cookie else {})
        resp = self.conn.getresponse()
        body = resp.read().decode()
        if resp.getheader("Set-Cookie"):
            self.cookie = resp.getheader("Set-Cookie").split(";")[0]
        if resp.status != 200:
            raise RuntimeError(f"{path}: HTTP {resp.status}")
        return body


def serve(config: Path, port: int) -> subprocess.Popen:
    code = ("import sys; from archiver.config import load_settings; from archiver.web import create_app, serve; "
            f"s = load_settings({str(config)!r}, environ={{}}); "
            f"serve(create_app(s, environ={{'ARCHIVER_WEB_SECRET': 'bench'}}), port={port})")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(200):
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/login")
            return proc
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the web server did not start: " + proc.stderr.read().decode())


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dir", help="Keep the index here (default: a temporary directory)")
    ap.add_argument("--port", type=int, default=18765)
    args = ap.parse_args(argv)
    work = Path(args.dir or tempfile.mkdtemp(prefix="bench-search-"))
    work.mkdir(parents=True, exist_ok=True)
    index = work / "index.db"
    config = work / "archiver.toml"
    config.write_text(f'[archive]\ntimezone = "{TZ}"\n[index]\npath = "{index}"\n[storage]\nurl = "{work}/store"\n')
    if not index.exists():
        stats = build(index, args.items)
        print(f"built {args.items:,} items: insert {stats['insert_s']:.1f} s, FTS5 build {stats['fts_build_s']:.1f} s "
              f"(target <= 60 s)")
    db = open_index(index)
    if not db.conn.execute("SELECT 1 FROM users WHERE name = 'bench'").fetchone():
        add_user(db, "bench", "legal", "benchmark-pass")
    qs = queries(db)
    server = serve(config, args.port)
    try:
        client = Http(args.port)
        results = {"raw": [], "bare": [], "cli": [], "http": []}
        print(f"\n{'query':40} {'raw ms':>8} {'cli ms':>8} {'http ms':>8}  matches")
        for label, p in qs:
            q = to_query(p)
            raw = timed(lambda: raw_floor(db.conn, p), args.repeat)
            results["bare"] += timed(lambda: raw_floor(db.conn, p, snippets=False), args.repeat)
            cli = timed(lambda: search(db, q, TZ), args.repeat)
            path = "/?" + urllib.parse.urlencode([(k, v) for k, vs in p.items()
                                                  for v in (vs if isinstance(vs, list) else [vs])])
            web = timed(lambda: client.get(path), args.repeat)
            for key, vals in (("raw", raw), ("cli", cli), ("http", web)):
                results[key] += vals
            found = search(db, q, TZ)
            desc = f"{label}: " + " ".join(f"{k}={v}" for k, v in p.items())
            print(f"{desc[:40]:40} {statistics.median(raw):8.1f} {statistics.median(cli):8.1f} "
                  f"{statistics.median(web):8.1f}  {found.total:,}{'' if found.exact else '+'}")
    finally:
        server.terminate()
        server.wait(10)
    print(f"\n{'path':28} {'p50 ms':>8} {'p95 ms':>8} {'p95 / floor':>12}")
    floor95 = pct(results["raw"], 95)
    for key, name in (("raw", "raw SQLite FTS5 (floor)"), ("bare", "  floor: rows and count only"),
                      ("cli", "search() (CLI path)"), ("http", "HTTP search page")):
        print(f"{name:28} {pct(results[key], 50):8.1f} {pct(results[key], 95):8.1f} "
              f"{pct(results[key], 95) / floor95:11.2f}x")
    print(f"\ntargets: HTTP p95 <= 50 ms ({'met' if pct(results['http'], 95) <= 50 else 'NOT met'}), "
          f"<= 1.5x floor ({'met' if pct(results['http'], 95) <= 1.5 * floor95 else 'NOT met'}); index in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
