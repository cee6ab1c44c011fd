"""The search benchmark's index (bench/bench_search.py): built in one rebuild or night by night
through ingest's merges, it must hold every item, and agree with the items table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("bench_search",
                                               Path(__file__).resolve().parents[1] / "bench/bench_search.py")
bench = importlib.util.module_from_spec(_spec)
sys.modules["bench_search"] = bench
_spec.loader.exec_module(bench)


@pytest.mark.parametrize("nightly", [False, True])
def test_the_full_text_index_holds_every_item_however_it_is_built(tmp_path, nightly):
    index = tmp_path / "index.db"
    bench.build(index, 4000, nightly=nightly)
    db = bench.open_index(index)
    conn = db.conn
    conn.execute("INSERT INTO items_fts(items_fts, rank) VALUES ('integrity-check', 1)")
    assert conn.execute("SELECT count(*) FROM items_fts").fetchone()[0] == 4000
    # every item is found by a word of its own text, through its date key
    assert conn.execute(
        "SELECT count(*) FROM items i WHERE i.date_key IN (SELECT rowid FROM items_fts WHERE items_fts MATCH"
        " '\"' || substr(i.text, 1, instr(i.text || ' ', ' ') - 1) || '\"')").fetchone()[0] == 4000
    assert conn.execute("SELECT count(*) FROM fts_deferred").fetchone()[0] == 0
    assert not list(tmp_path.glob("index.db.part*"))
