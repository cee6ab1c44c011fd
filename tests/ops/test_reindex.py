"""Rebuilding the index from the WARC files alone gives the same search results and details."""

from __future__ import annotations

from datetime import timedelta

import pytest

from archiver.errors import IndexError_
from archiver.index import open_index
from archiver.index.queries import item_detail
from archiver.reindex import reindex
from archiver.replay.samples import facebook_next_night
from archiver.search import SearchQuery, search
from archiver.store import open_store
from tests.ops.support import NOW, finish, index_of, run_collect, start_cli

TZ = "America/Chicago"


def _everything(db) -> tuple[list, dict]:
    rows = search(db, SearchQuery(limit=None), TZ).rows
    details = {r["id"]: item_detail(db, r["id"]) for r in rows}
    return rows, details


def _three_nights(page, cfg):
    """New items; an edit, a hide, a deleted comment and a reply; then a deleted post, a hide and an unhide."""
    _, first = run_collect(cfg, NOW - timedelta(days=1))
    facebook_next_night(page.sim, NOW)
    _, second = run_collect(cfg, NOW)
    page.sim.posts[1].deleted = True
    page.sim.posts[0].comments[2].is_hidden = False
    page.sim.posts[2].comments[0].is_hidden = True
    page.sim.posts[0].message += " Second edit."
    settings, third = run_collect(cfg, NOW + timedelta(days=1))
    assert first.ok and second.ok and third.ok
    return settings


def test_rebuilt_index_equals_the_original(page, make_config, tmp_path):
    settings = _three_nights(page, make_config([page.account()]))
    original = index_of(settings)
    statuses = {s for (s,) in original.conn.execute("SELECT DISTINCT status FROM items")}
    assert statuses == {"live", "edited", "hidden", "deleted"}  # the test covers every status

    report = reindex(open_store(settings), settings.index_path, into=tmp_path / "rebuilt.db", now=NOW)
    assert report.objects == 3 and report.items == len(search(original, SearchQuery(limit=None), TZ).rows)
    rebuilt = open_index(tmp_path / "rebuilt.db")
    assert _everything(rebuilt) == _everything(original)
    for table in ("versions", "events", "media", "thread_scans", "records"):
        count = f"SELECT count(*) FROM {table}"
        assert rebuilt.conn.execute(count).fetchone() == original.conn.execute(count).fetchone(), table
    runs = "SELECT id, status, items_new, items_edited, items_hidden, items_deleted FROM runs ORDER BY id"
    assert rebuilt.conn.execute(runs).fetchall() == original.conn.execute(runs).fetchall()
    objects = "SELECT key, sha256, size, account, run_id FROM objects ORDER BY key"
    assert rebuilt.conn.execute(objects).fetchall() == original.conn.execute(objects).fetchall()


def test_reindex_from_s3_and_through_the_cli(page, make_config, s3_bucket, tmp_path):
    url, endpoint, _ = s3_bucket
    cfg = make_config([page.account()], storage=url, endpoint=endpoint)
    settings = _three_nights(page, cfg)
    code, out, err = finish(start_cli(cfg, "reindex", "--into", str(tmp_path / "from-s3.db")))
    assert code == 0, err
    assert '"objects": 3' in out
    assert _everything(open_index(tmp_path / "from-s3.db")) == _everything(index_of(settings))
    # Never over an existing index: its audit log, users and holds are not in the WARCs.
    code, _, err = finish(start_cli(cfg, "reindex"))
    assert code == 1 and "never overwrites" in err and "Traceback" not in err


def test_lost_index_is_recreated_in_place(two_nights):
    settings, _ = two_nights
    before = _everything(index_of(settings))
    for suffix in ("", "-wal", "-shm"):
        settings.index_path.with_name(settings.index_path.name + suffix).unlink(missing_ok=True)
    reindex(open_store(settings), settings.index_path)
    assert _everything(open_index(settings.index_path)) == before
    with pytest.raises(IndexError_):
        reindex(open_store(settings), settings.index_path)


def test_runs_that_start_in_the_same_second_rebuild_in_capture_order(page, make_config, tmp_path):
    """Two runs with the same start second write files whose names differ only in a random
    suffix; the rebuild follows their WARC-Dates, whatever the suffixes say."""
    cfg = make_config([page.account()])
    run_collect(cfg, NOW - timedelta(days=1))
    page.sim.posts[0].message += " First edit."
    settings, earlier = run_collect(cfg, NOW)
    page.sim.posts[0].message += " Second edit."
    page.sim.posts[0].comments[0].is_hidden = True
    _, later = run_collect(cfg, NOW)  # a second run in the same second (a manual re-run)
    assert earlier.ok and later.ok
    store = open_store(settings)
    same_second = sorted(k for k, _ in store.list("warcs/") if "-20261120080000-" in k)
    assert len(same_second) == 2
    original = index_of(settings)
    (first,), (second,) = original.conn.execute(
        "SELECT key FROM objects WHERE key LIKE '%-20261120080000-%' ORDER BY first_date").fetchall()
    # Give the later file the suffix that sorts first.
    renamed = {}
    for key, suffix in ((first, "ffffff"), (second, "000000")):
        parts = key.split("-")
        parts[-2] = suffix
        renamed["-".join(parts)] = key
        (store.root / key).rename(store.root / "-".join(parts))
    report = reindex(store, settings.index_path, into=tmp_path / "rebuilt.db", now=NOW)
    assert report.ok
    rebuilt = repr(_everything(open_index(tmp_path / "rebuilt.db")))
    for new, old in renamed.items():
        rebuilt = rebuilt.replace(new, old)
    assert rebuilt == repr(_everything(original))
    runs = "SELECT id, account, started_at, status, items_new, items_edited, items_hidden FROM runs ORDER BY id"
    assert open_index(tmp_path / "rebuilt.db").conn.execute(runs).fetchall() == original.conn.execute(runs).fetchall()


def test_an_interrupted_reindex_leaves_the_old_index_and_the_next_one_starts_over(two_nights, tmp_path):
    """The new index is built as ``.partial`` without a WAL or syncs (fast), so a reindex that
    dies half-way must leave nothing in the index's place and nothing the next one trusts."""
    settings, _ = two_nights
    old = settings.index_path
    before, old_dump = _everything(index_of(settings)), list(index_of(settings).conn.iterdump())
    into = tmp_path / "rebuilt.db"
    partial = into.with_name(into.name + ".partial")

    def killed(key, done):
        assert partial.exists() and not partial.with_name(partial.name + "-wal").exists()  # built without a WAL
        raise KeyboardInterrupt  # as a Ctrl-C or a kill between two objects

    with pytest.raises(KeyboardInterrupt):
        reindex(open_store(settings), old, into=into, now=NOW, progress=killed)
    assert not into.exists()
    assert list(index_of(settings).conn.iterdump()) == old_dump  # every table, row for row

    report = reindex(open_store(settings), old, into=into, now=NOW)  # the leftover partial is discarded
    assert report.ok and not partial.exists()
    rebuilt = open_index(into)
    assert rebuilt.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # an index like any other
    assert _everything(rebuilt) == before


def test_retention_assignments_are_computed_again_after_a_reindex(page, make_config, tmp_path):
    """Assignments are keyed by item rowids, which a rebuild may give out differently: the rebuilt
    index has none until they are computed again from the schedule, and then they are the same."""
    from archiver.retention.assign import assign_new_items

    settings = _three_nights(page, make_config([page.account()]))
    assignments = "SELECT * FROM retention_assignments ORDER BY item_id"
    original = index_of(settings).conn.execute(assignments).fetchall()
    assert original and len(original) == index_of(settings).conn.execute("SELECT count(*) FROM items").fetchone()[0]
    reindex(open_store(settings), settings.index_path, into=tmp_path / "rebuilt.db", now=NOW)
    rebuilt = open_index(tmp_path / "rebuilt.db")
    assert rebuilt.conn.execute("SELECT count(*) FROM retention_items").fetchone() == (0,)
    assert rebuilt.conn.execute("SELECT count(*) FROM retention_rules").fetchone() == (0,)
    assign_new_items(rebuilt, settings, now=NOW)
    columns = "SELECT item_id, series, source, rule, trigger_date, disposition_date FROM retention_assignments"
    assert rebuilt.conn.execute(columns + " ORDER BY item_id").fetchall() == \
        index_of(settings).conn.execute(columns + " ORDER BY item_id").fetchall()
