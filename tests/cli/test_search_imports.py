"""A cold ``archiver search`` loads only what a search needs (issue 24: 0.15 s to the first
result, measured by bench/bench_search.py). What it must not import, each with why: a test on
imports, not on time, so it holds on a loaded machine."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import write_config

# Module -> what brought it onto the search path before, or would.
HEAVY = {
    "sqlite_utils": "archiver.index opens with sqlite3 and imports sqlite-utils only to migrate (40-50 ms)",
    "pydantic": "typer 0.29 validates every option through pydantic (pyproject caps typer below it)",
    "boto3": "the store is opened only when a journal entry is pushed, never for a search",
    "botocore": "as boto3",
    "flask": "the web UI",
    "jinja2": "templates: the web UI and exports",
    "weasyprint": "PDF exports",
    "warcio": "WARC reading: show, exports, reindex",
    "rich": "progress bars for long commands",
    "requests": "collectors",
    "email": "timefmt reads RSS dates with it only when one is parsed",
}

SCRIPT = """
import json, sys
from archiver.cli import main
try:
    main(["--config", sys.argv[1], "search", "--query", "police", "--format", "json"])
except SystemExit as exc:
    assert not exc.code, exc.code
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def test_a_search_imports_nothing_heavy(tmp_path):
    from archiver.index import open_index

    cfg = write_config(tmp_path, [{"name": "pd-facebook", "platform": "facebook", "id": "1", "token_env": "T"}])
    db = open_index(tmp_path / "data" / "index.db")
    db.conn.execute("INSERT INTO items (id, account, platform, platform_id, kind, root, author, text, created_at,"
                    " status, has_media, first_seen, last_seen) VALUES ('i1', 'pd-facebook', 'facebook', '1',"
                    " 'post', '1', 'Oak Creek PD', 'police at the parade', '2024-03-01T15:00:00Z', 'live', 0,"
                    " '2024-03-01T15:00:00Z', '2024-03-01T15:00:00Z')")
    db.conn.close()
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(cfg)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [row["id"] for row in json.loads(done.stdout)] == ["i1"]  # it searched
    loaded = {name.split(".")[0] for name in json.loads(done.stderr.strip().splitlines()[-1])}
    assert "typer" in loaded and "archiver" in loaded  # the ordinary CLI ran, not a shortcut
    wrong = {name: why for name, why in HEAVY.items() if name in loaded}
    assert not wrong, f"a cold search imports {wrong}"
