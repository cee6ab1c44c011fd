"""archiver.index.migrate: which migrations an index lacks, asked without sqlite-utils; applying
them is sqlite-utils' Migrations, run only when some are pending."""

from __future__ import annotations

import sqlite3

import sqlite_utils

from archiver.ftsquery import register_functions
from archiver.index import Index, open_index
from archiver.index.schema import migrations

NAMES = [name for name, _, _ in migrations._registered]


def test_pending_lists_what_an_old_index_lacks_and_open_index_applies_it(tmp_path):
    conn = sqlite3.connect(tmp_path / "index.db", isolation_level=None)
    register_functions(conn)
    assert migrations.pending(conn) == NAMES  # a new file: no table of applied migrations yet
    migrations.apply(sqlite_utils.Database(conn), stop_before="m_search_scope")
    lacking = migrations.pending(conn)
    assert lacking == NAMES[NAMES.index("m_search_scope"):]
    conn.close()

    db = open_index(tmp_path / "index.db")
    assert migrations.pending(db.conn) == []
    applied = [r[0] for r in db.conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
    assert applied == NAMES  # in order, each once, recorded as sqlite-utils records them


def test_the_handle_offers_sqlite_utils_on_its_connection(tmp_path):
    db = open_index(tmp_path / "index.db")
    assert isinstance(db, Index) and db.journal_store is None
    db["accounts"].insert({"name": "pd", "platform": "facebook", "platform_account_id": "1"})
    assert db.conn.execute("SELECT name FROM accounts").fetchall() == [("pd",)]
    assert "items" in db.table_names()
    assert db.utils.conn is db.conn
